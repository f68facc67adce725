import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';

export interface OrganizationToday extends OrganizationProfile {
  /** Today (YYYY-MM-DD) in the organization's time zone, by the injected clock. */
  today: string;
  now: Date;
}

/** The date of `instant` in a time zone. */
export function dateIn(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** The organization in scope of an EntityManager, and today's date there. */
@Injectable()
export class OrganizationClock {
  constructor(
    private readonly identity: IdentityDirectory,
    private readonly clock: Clock,
  ) {}

  async of(em: EntityManager): Promise<OrganizationToday> {
    const id = currentTenant(em);
    if (!id) throw new Error('Agreements need a tenant-scoped EntityManager');
    const org = await this.identity.organization(em, id);
    if (!org) throw new Error(`Organization ${id} does not exist`);
    const now = this.clock.now();
    return { ...org, now, today: dateIn(now, org.timeZone) };
  }
}
