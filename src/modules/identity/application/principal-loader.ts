import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { type Principal, PrincipalLoader } from '#libs/auth/index.js';
import { User, UserStatus } from '../domain/user.entity.js';

@Injectable()
export class UserPrincipalLoader extends PrincipalLoader {
  constructor(private readonly em: EntityManager) {
    super();
  }

  async load(userId: string, organizationId: string): Promise<Principal | null> {
    // Runs before the tenant is known (it is what establishes it); the organization is matched explicitly.
    const user = await this.em.fork().findOne(User, { id: userId, organizationId }, { filters: { tenant: false } });
    if (!user || user.status !== UserStatus.ACTIVE) return null;
    return { userId: user.id, organizationId: user.organizationId, role: user.role, email: user.email };
  }
}
