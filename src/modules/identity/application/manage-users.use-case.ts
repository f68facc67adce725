import { Injectable } from '@nestjs/common';
import { EntityManager, LockMode } from '@mikro-orm/postgresql';
import { type Principal, Role } from '#libs/auth/index.js';
import { ApplicationError, domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { RefreshToken } from '../domain/refresh-token.entity.js';
import { User, UserStatus } from '../domain/user.entity.js';
import { IdentityEvents, type UserRoleChangedPayload } from '../identity.events.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';

/** Role changes and deactivation. An organization always keeps at least one active OWNER. */
@Injectable()
export class ManageUsers {
  constructor(
    private readonly em: EntityManager,
    private readonly outbox: Outbox,
  ) {}

  async changeRole(actor: Principal, userId: string, role: Role): Promise<User> {
    return this.em.transactional(async (tx) => {
      const user = await this.find(tx, userId);
      if ((role === Role.OWNER || user.role === Role.OWNER) && actor.role !== Role.OWNER) {
        throw new IdentityError(IdentityErrorReason.OWNER_ONLY, 'Only an OWNER can grant or take away the OWNER role');
      }
      if (user.role === role) return user;
      if (user.role === Role.OWNER) await this.assertAnotherOwner(tx, user);
      const from = user.role;
      user.role = role;
      this.outbox.record(
        tx,
        domainEvent<UserRoleChangedPayload>(IdentityEvents.UserRoleChanged, user.organizationId, {
          userId: user.id,
          from,
          to: role,
          changedByUserId: actor.userId,
        }),
      );
      return user;
    });
  }

  /** Disables the user and ends their sessions at once (their access token stops working on the next request). */
  async disable(actor: Principal, userId: string): Promise<User> {
    return this.em.transactional(async (tx) => {
      const user = await this.find(tx, userId);
      if (user.role === Role.OWNER && actor.role !== Role.OWNER) {
        throw new IdentityError(IdentityErrorReason.OWNER_ONLY, 'Only an OWNER can disable an OWNER');
      }
      if (user.role === Role.OWNER) await this.assertAnotherOwner(tx, user);
      user.status = UserStatus.DISABLED;
      await tx.nativeUpdate(RefreshToken, { userId: user.id, revokedAt: null }, { revokedAt: new Date() });
      return user;
    });
  }

  private async find(em: EntityManager, userId: string): Promise<User> {
    // Tenant-scoped: another organization's user is simply not found.
    const user = await em.findOne(User, { id: userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!user) throw ApplicationError.notFound('User', userId);
    return user;
  }

  private async assertAnotherOwner(em: EntityManager, user: User): Promise<void> {
    // Lock every active owner row: two owners demoting each other at once must not both succeed.
    const owners = await em.find(
      User,
      { role: Role.OWNER, status: UserStatus.ACTIVE },
      { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: 'asc' } },
    );
    if (!owners.some((o) => o.id !== user.id)) {
      throw new IdentityError(IdentityErrorReason.LAST_OWNER, 'The organization must keep at least one active OWNER');
    }
  }
}
