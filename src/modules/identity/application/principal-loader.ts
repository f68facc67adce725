import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { type Principal, PrincipalLoader } from '#libs/auth/index.js';
import { UserStatus } from '../domain/user.entity.js';

@Injectable()
export class UserPrincipalLoader extends PrincipalLoader {
  constructor(private readonly em: EntityManager) {
    super();
  }

  async load(userId: string, organizationId: string): Promise<Principal | null> {
    // Runs before the tenant is known (it is what establishes it); the organization is matched explicitly. One
    // statement for the user and their organization (raw rows: nothing to hydrate), so that resolvers needing the
    // organization's currency, time zone or locale read it from the principal instead of a statement of their own.
    const [row] = await this.em.execute<PrincipalRow[]>(
      `select u.id, u.organization_id, u.role, u.email, u.status, o.name as org_name, o.currency, o.time_zone, o.locale
         from app_user u join organization o on o.id = u.organization_id
        where u.id = ? and u.organization_id = ?`,
      [userId, organizationId],
    );
    if (!row || row.status !== UserStatus.ACTIVE) return null;
    return {
      userId: row.id,
      organizationId: row.organization_id,
      role: row.role,
      email: row.email,
      organization: { id: row.organization_id, name: row.org_name, currency: row.currency, timeZone: row.time_zone, locale: row.locale },
    };
  }
}

interface PrincipalRow {
  id: string;
  organization_id: string;
  role: Principal['role'];
  email: string;
  status: UserStatus;
  org_name: string;
  currency: string;
  time_zone: string;
  locale: string;
}
