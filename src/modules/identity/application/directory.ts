import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '#libs/auth/index.js';
import { Organization } from '../domain/organization.entity.js';
import { User, UserStatus } from '../domain/user.entity.js';

export interface OrganizationProfile {
  id: string;
  name: string;
  currency: string;
  timeZone: string;
  /** BCP 47 locale in which amounts and dates are shown to the organization's customers, e.g. en-US. */
  locale: string;
}

export interface StaffMember {
  id: string;
  name: string;
  email: string;
  role: Role;
}

/** What other modules may read about organizations and their staff, through the caller's EntityManager. */
@Injectable()
export class IdentityDirectory {
  async organization(em: EntityManager, organizationId: string): Promise<OrganizationProfile | null> {
    const org = await em.findOne(Organization, organizationId);
    return org ? { id: org.id, name: org.name, currency: org.currency, timeZone: org.timeZone, locale: org.locale } : null;
  }

  /** Active staff of the organization in scope of `em` among these ids (others are ignored). */
  async staffByIds(em: EntityManager, ids: readonly string[]): Promise<StaffMember[]> {
    const users = await em.find(User, { id: { $in: [...ids] }, status: UserStatus.ACTIVE });
    return users.map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role }));
  }

  /** Active staff of the organization in scope of `em` with one of the roles. */
  async staffWithRoles(em: EntityManager, roles: readonly Role[]): Promise<StaffMember[]> {
    const users = await em.find(User, { role: { $in: [...roles] }, status: UserStatus.ACTIVE }, { orderBy: { createdAt: 'asc' } });
    return users.map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role }));
  }
}
