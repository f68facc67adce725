import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';
import { dateIn } from '../domain/calendar.js';

export interface InvoicingContextValue extends OrganizationProfile {
  /** Today's date (YYYY-MM-DD) in the organization's time zone, by the injected clock. */
  today: string;
  now: Date;
}

/** The organization in scope of an EntityManager: its currency, time zone and locale, and today's date there. */
@Injectable()
export class OrganizationContext {
  constructor(
    private readonly identity: IdentityDirectory,
    private readonly clock: Clock,
  ) {}

  /**
   * `known`: the organization as already read for this request (the principal's, loaded with the user), used when it
   * is the one in scope instead of reading it again.
   */
  async of(em: EntityManager, known?: OrganizationProfile | null): Promise<InvoicingContextValue> {
    const id = currentTenant(em);
    if (!id) throw new Error('Invoicing needs a tenant-scoped EntityManager');
    const org = known?.id === id ? known : await this.identity.organization(em, id);
    if (!org) throw new Error(`Organization ${id} does not exist`);
    const now = this.clock.now();
    return { ...org, now, today: dateIn(now, org.timeZone) };
  }
}
