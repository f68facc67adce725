import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { AgreementsError } from '../agreements.error.js';
import { ServiceAgreement } from '../domain/agreement.entity.js';
import { priceLines } from '../domain/agreement-lines.js';
import { AgreementStatus, IN_FORCE } from '../domain/agreement-status.js';
import { type AgreementFilter, agreementWhere } from './agreement-filter.js';
import { AgreementQuotes } from './agreement-quotes.use-case.js';
import { OrganizationClock } from './organization-today.js';

/** At most this many agreements per renewal action (ids or a filter). */
export const MAX_RENEWAL_BATCH = 500;

export type RenewalSkipReason = 'OPTED_OUT' | 'NO_CONTACT' | 'NO_END_DATE' | 'NOT_IN_FORCE';

export interface RenewalNoticesResult {
  sent: string[];
  skipped: { agreementId: string; reason: RenewalSkipReason }[];
}

export interface RenewalSelection {
  ids?: string[] | null;
  filter?: AgreementFilter | null;
}

/**
 * Renewals (seed 001): find the agreements expiring soon, send their customers a renewal notice (RENEWAL_NOTICE, a
 * marketing message: skipped for customers who opted out) or a renewal quote, one by one or for all matched.
 */
@Injectable()
export class Renewals {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly quotes: AgreementQuotes,
    private readonly org: OrganizationClock,
  ) {}

  /** The agreements given by id (another organization's: NOT_FOUND) or matched by the filter. */
  async select(em: EntityManager, selection: RenewalSelection): Promise<ServiceAgreement[]> {
    if (selection.ids?.length) {
      const ids = [...new Set(selection.ids)];
      if (ids.length > MAX_RENEWAL_BATCH) throw AgreementsError.invalid([{ field: 'ids', message: `at most ${MAX_RENEWAL_BATCH} agreements at once` }]);
      const found = ids.every(isUuid) ? await em.find(ServiceAgreement, { id: { $in: ids } }) : [];
      const missing = ids.find((id) => !found.some((a) => a.id === id));
      if (missing) throw AgreementsError.agreementNotFound(missing);
      return ids.map((id) => found.find((a) => a.id === id)!);
    }
    if (!selection.filter) throw AgreementsError.invalid([{ field: 'ids', message: 'give the agreements (ids) or a filter' }]);
    const { today } = await this.org.of(em);
    return em.find(ServiceAgreement, agreementWhere(selection.filter, today), {
      orderBy: { endDate: 'asc', id: 'asc' },
      limit: MAX_RENEWAL_BATCH,
    });
  }

  /** One notice per agreement and end date (sending again sends nothing new). */
  async sendNotices(em: EntityManager, agreements: ServiceAgreement[]): Promise<RenewalNoticesResult> {
    const result: RenewalNoticesResult = { sent: [], skipped: [] };
    const customers = new Map((await this.customers.getMany(em, agreements.map((a) => a.customerId))).map((c) => [c.id, c]));
    for (const agreement of agreements) {
      const customer = customers.get(agreement.customerId);
      const skip = (reason: RenewalSkipReason) => result.skipped.push({ agreementId: agreement.id, reason });
      if (!IN_FORCE.includes(agreement.status)) {
        skip('NOT_IN_FORCE');
        continue;
      }
      if (!agreement.endDate) {
        skip('NO_END_DATE');
        continue;
      }
      const channels = customer?.email ? [Channel.EMAIL] : customer?.phone ? [Channel.SMS] : [];
      if (!customer || channels.length === 0) {
        skip('NO_CONTACT');
        continue;
      }
      const { skipped } = await this.notifications.notifyCustomer(em, {
        dedupeKey: `renewal-notice:${agreement.id}:${agreement.endDate}`,
        kind: MessageKind.RENEWAL_NOTICE,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone, marketingOptOut: customer.marketingOptOut },
        channels,
        data: {
          agreementName: agreement.name,
          // Noon UTC: the same calendar day in every time zone the organization may use.
          endDate: new Date(`${agreement.endDate}T12:00:00Z`),
          amount: priceLines(agreement.lines, agreement.currency).total,
        },
      });
      if (skipped.length) skip('OPTED_OUT');
      else result.sent.push(agreement.id);
    }
    await em.flush();
    return result;
  }

  /** A renewal quote for each agreement in force that has an end date (an existing open renewal is answered again). */
  async createQuotes(em: EntityManager, agreements: ServiceAgreement[], actorUserId: string | null): Promise<ServiceAgreement[]> {
    const quotes: ServiceAgreement[] = [];
    for (const agreement of agreements) {
      if (!agreement.endDate || ![...IN_FORCE, AgreementStatus.EXPIRED].includes(agreement.status)) continue;
      quotes.push(await this.quotes.createRenewal(em, agreement.id, actorUserId));
    }
    return quotes;
  }
}
