import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { Organization } from '../domain/organization.entity.js';
import { User } from '../domain/user.entity.js';
import { IdentityEvents, type OrganizationSignedUpPayload } from '../identity.events.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';
import { PasswordHasher } from './password-hasher.js';
import { type Session, TokenService } from './token.service.js';

export interface SignUpCommand {
  organizationName: string;
  name: string;
  email: string;
  password: string;
  currency?: string;
  timeZone?: string;
  locale?: string;
}

/** Creates an organization and its first user, who is its OWNER, and signs that user in. */
@Injectable()
export class SignUp {
  constructor(
    private readonly em: EntityManager,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly outbox: Outbox,
  ) {}

  async execute(cmd: SignUpCommand): Promise<Session> {
    const email = normalizeEmail(cmd.email);
    const passwordHash = await this.hasher.hash(cmd.password);
    return this.em.transactional(async (tx) => {
      await assertEmailFree(tx, email);
      const org = new Organization();
      org.name = cmd.organizationName.trim();
      if (cmd.currency) org.currency = cmd.currency;
      if (cmd.timeZone) org.timeZone = cmd.timeZone;
      if (cmd.locale) org.locale = cmd.locale;
      const user = new User();
      user.organizationId = org.id;
      user.email = email;
      user.name = cmd.name.trim();
      user.passwordHash = passwordHash;
      user.role = Role.OWNER;
      tx.persist([org, user]);
      this.outbox.record(
        tx,
        domainEvent<OrganizationSignedUpPayload>(IdentityEvents.OrganizationSignedUp, org.id, {
          organizationId: org.id,
          name: org.name,
          ownerUserId: user.id,
        }),
      );
      return this.tokens.startSession(tx, user);
    });
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Emails are unique across organizations (login is by email alone). The unique index is the last word on races. */
export async function assertEmailFree(em: EntityManager, email: string): Promise<void> {
  const taken = await em.count(User, { email }, { filters: { tenant: false } });
  if (taken > 0) throw new IdentityError(IdentityErrorReason.EMAIL_TAKEN, `A user with the email ${email} already exists`);
}
