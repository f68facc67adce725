import { Injectable } from '@nestjs/common';
import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { type Principal, Role } from '#libs/auth/index.js';
import { Clock, domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { AppConfig } from '../../../config/index.js';
import { Invitation } from '../domain/invitation.entity.js';
import { User } from '../domain/user.entity.js';
import { IdentityEvents, type UserInvitedPayload, type UserJoinedPayload } from '../identity.events.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';
import { PasswordHasher } from './password-hasher.js';
import { hashToken, newSecretToken } from './secret-token.js';
import { assertEmailFree, normalizeEmail } from './sign-up.use-case.js';
import { type Session, TokenService } from './token.service.js';

export interface IssuedInvitation {
  invitation: Invitation;
  /** The single-use link; shown once, only its hash is stored. */
  acceptUrl: string;
}

@Injectable()
export class InviteUser {
  constructor(
    private readonly em: EntityManager,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** Only an OWNER may invite another OWNER; ADMINs invite the other roles. */
  async execute(inviter: Principal, rawEmail: string, role: Role): Promise<IssuedInvitation> {
    if (role === Role.OWNER && inviter.role !== Role.OWNER) {
      throw new IdentityError(IdentityErrorReason.OWNER_ONLY, 'Only an OWNER can invite another OWNER');
    }
    const email = normalizeEmail(rawEmail);
    const token = newSecretToken();
    const now = this.clock.now();
    return this.em.transactional(async (tx) => {
      await assertEmailFree(tx, email);
      const open = await tx.count(Invitation, { email, acceptedAt: null, revokedAt: null, expiresAt: { $gt: now } });
      if (open > 0) {
        throw new IdentityError(IdentityErrorReason.INVITATION_PENDING, `${email} already has an open invitation`);
      }
      const invitation = new Invitation();
      invitation.email = email;
      invitation.role = role;
      invitation.tokenHash = hashToken(token);
      invitation.invitedById = inviter.userId;
      invitation.expiresAt = new Date(now.getTime() + this.config.auth.invitationTtlHours * 3_600_000);
      tx.persist(invitation);
      this.outbox.record(
        tx,
        domainEvent<UserInvitedPayload>(IdentityEvents.UserInvited, inviter.organizationId, {
          invitationId: invitation.id,
          email,
          role,
          invitedByUserId: inviter.userId,
          expiresAt: invitation.expiresAt.toISOString(),
        }),
      );
      return { invitation, acceptUrl: `${this.config.http.publicUrl}/invitations/accept?token=${token}` };
    });
  }
}

@Injectable()
export class AcceptInvitation {
  constructor(
    private readonly em: EntityManager,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  /** Creates the invited user and signs them in. The link works once, before it expires. */
  async execute(token: string, name: string, password: string): Promise<Session> {
    const passwordHash = await this.hasher.hash(password);
    const now = this.clock.now();
    return this.em.transactional(async (tx) => {
      // The invitee is not signed in; the token's hash finds the invitation across organizations.
      const invitation = await tx.findOne(
        Invitation,
        { tokenHash: hashToken(token) },
        { filters: { tenant: false }, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!invitation || invitation.acceptedAt || invitation.revokedAt || invitation.expiresAt <= now) {
        throw new IdentityError(
          IdentityErrorReason.INVITATION_INVALID,
          'This invitation link is invalid, expired or already used: ask for a new invitation',
        );
      }
      await assertEmailFree(tx, invitation.email);
      invitation.acceptedAt = now;
      const user = new User();
      user.organizationId = invitation.organizationId;
      user.email = invitation.email;
      user.name = name.trim();
      user.passwordHash = passwordHash;
      user.role = invitation.role;
      user.lastLoginAt = now;
      tx.persist(user);
      this.outbox.record(
        tx,
        domainEvent<UserJoinedPayload>(IdentityEvents.UserJoined, user.organizationId, {
          userId: user.id,
          email: user.email,
          role: user.role,
        }),
      );
      return this.tokens.startSession(tx, user);
    });
  }
}
