import { Injectable, Logger } from '@nestjs/common';
import { LockMode, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { Channel } from '../../notifications/index.js';
import { PaymentMethod, PaymentMethodKind, PaymentMethodStatus } from '../domain/payment-method.entity.js';
import { ProfileRequestPurpose } from '../domain/payment-profile-request.entity.js';
import { ProfileRequests } from './profile-requests.use-case.js';

/** Cards that expire within this many days (or have expired) get a notice. */
export const CARD_EXPIRY_NOTICE_DAYS = 30;

export interface CardExpiryRun {
  /** Notices sent (one profile request and one message each). */
  noticed: number;
  /** Cards whose customer has neither an email nor a phone number (tried again on the next run). */
  skippedNoContact: number;
  /** Cards another run noticed first, archived customers, and sends that failed (logged). */
  skipped: number;
}

/**
 * The daily card-expiry sweep: every ACTIVE card that is expired or expires within 30 days and has not had a notice
 * for this expiry gets a REPLACE_CARD payment profile request (sent by Settle, no staff user) and a CARD_EXPIRING
 * message with its secure link. Exactly one per card and expiry: each card is handled in its own transaction that
 * locks the card's row, re-checks its `expiryNoticeFor` mark and sets it with the request and the message, so a second
 * run — even a concurrent one — finds it marked. The message's dedupe key (card + expiry) backs this up. A renewed
 * card (new expiry, mark cleared) gets a new notice when its new expiry comes near.
 */
@Injectable()
export class CardExpiryNotices {
  private readonly logger = new Logger(CardExpiryNotices.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly requests: ProfileRequests,
    private readonly customers: CustomerDirectory,
    private readonly clock: Clock,
  ) {}

  async run(): Promise<CardExpiryRun> {
    const result: CardExpiryRun = { noticed: 0, skippedNoContact: 0, skipped: 0 };
    const horizon = new Date(this.clock.now().getTime() + CARD_EXPIRY_NOTICE_DAYS * 86_400_000).toISOString().slice(0, 10);
    // Across organizations (a system job): ids only, in keyset batches; each card is then handled in its tenant.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const batch = await this.orm.em.fork().execute<{ id: string; organization_id: string }[]>(
        `select id, organization_id from payment_method
          where status = 'ACTIVE' and kind = 'CARD' and exp_year is not null and exp_month is not null and id > ?
            and (make_date(exp_year, exp_month, 1) + interval '1 month' - interval '1 day')::date <= ?::date
            and expiry_notice_for is distinct from (exp_year::text || '-' || lpad(exp_month::text, 2, '0'))
          order by id limit 200`,
        [after, horizon],
      );
      for (const row of batch) {
        const outcome = await this.notice(row.organization_id, row.id);
        if (outcome === 'noticed') result.noticed += 1;
        else if (outcome === 'no-contact') result.skippedNoContact += 1;
        else result.skipped += 1;
      }
      if (batch.length < 200) break;
      after = batch[batch.length - 1]!.id;
    }
    if (result.noticed || result.skippedNoContact) {
      this.logger.log(`Card expiry notices: ${result.noticed} sent, ${result.skippedNoContact} customers without email or phone`);
    }
    return result;
  }

  private async notice(organizationId: string, paymentMethodId: string): Promise<'noticed' | 'no-contact' | 'skipped'> {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    try {
      return await em.transactional(async (tx) => {
        const card = await tx.findOne(PaymentMethod, { id: paymentMethodId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        const expiresOn = card?.expiresOn();
        if (!card || !expiresOn || card.status !== PaymentMethodStatus.ACTIVE || card.kind !== PaymentMethodKind.CARD) return 'skipped';
        const expiry = expiresOn.slice(0, 7);
        if (card.expiryNoticeFor === expiry) return 'skipped'; // another run got here first
        const customer = await this.customers.get(tx, card.customerId);
        if (!customer || customer.status === CustomerStatus.ARCHIVED) return 'skipped';
        const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
        if (channels.length === 0) return 'no-contact';
        await this.requests.send(
          tx,
          {
            customerId: customer.id,
            channels,
            requestedBy: null,
            purpose: ProfileRequestPurpose.REPLACE_CARD,
            replacesPaymentMethodId: card.id,
            dedupeKey: `card-expiring:${card.id}:${expiry}`,
          },
          { label: card.label(), expiresOn },
        );
        card.expiryNoticeFor = expiry;
        await tx.flush();
        return 'noticed';
      });
    } catch (error) {
      // One customer's bad data (an email or phone the provider rejects) must not stop everyone else's notice.
      if (!(error instanceof ApplicationError)) throw error;
      this.logger.warn(`No expiry notice for card ${paymentMethodId}: ${error.message}`);
      return 'skipped';
    }
  }
}
