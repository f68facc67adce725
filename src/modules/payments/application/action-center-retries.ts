import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Payment, PaymentEventType, PaymentResolution, PaymentStatus } from '../domain/payment.entity.js';
import { ActionCenter } from './action-center.js';
import { PaymentSettingsService } from './payment-settings.js';
import { Payments } from './payments.facade.js';

export interface PaymentRetryRun {
  /** Retries made (a new attempt started), whatever the gateway answered. */
  retried: number;
  succeeded: number;
  failed: number;
  /** Due but not retried, with the reason on the payment's timeline (resolved, method removed, consent revoked, …). */
  skipped: number;
}

type Claimed = { retry: true } | { retry: false; skipped: boolean };

/** How many due payments one run takes on; the rest wait for the next hourly run. */
const BATCH = 500;

/**
 * The automatic retries (hourly). Each due payment is CLAIMED first, in its own committed transaction, by a
 * conditional UPDATE that clears `next_retry_at` only if it is still due and the payment still FAILED: two runs
 * (two workers, a job retried by Bull) race on that row and exactly one wins, so a payment is retried once per
 * schedule entry. Only then, with no transaction open, does the core make the new attempt (Payments.retry); when it
 * fails again, PaymentFailed plans the next entry (RetryScheduleOnPaymentFailed). A worker dying between the claim
 * and the attempt loses that retry (the payment stays in the action center), never charges twice.
 */
@Injectable()
export class PaymentRetries {
  private readonly logger = new Logger(PaymentRetries.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly payments: Payments,
    private readonly center: ActionCenter,
    private readonly settings: PaymentSettingsService,
  ) {}

  async runDue(now: Date = this.clock.now()): Promise<PaymentRetryRun> {
    const run: PaymentRetryRun = { retried: 0, succeeded: 0, failed: 0, skipped: 0 };
    // A system read across organizations (the partial index payment_retry_due_idx); each claim is in its tenant's scope.
    const due = await this.orm.em
      .fork()
      .execute<{ id: string; organization_id: string }[]>(
        `select id, organization_id from payment
          where next_retry_at is not null and next_retry_at <= ? and status = 'FAILED'
          order by next_retry_at, id limit ${BATCH}`,
        [now],
      );
    for (const { id, organization_id: organizationId } of due) {
      try {
        const claimed = await this.claim(organizationId, id, now);
        if (!claimed.retry) {
          if (claimed.skipped) run.skipped += 1;
          continue;
        }
        run.retried += 1;
        const summary = await this.payments.retry(organizationId, id, null);
        if (summary.status === PaymentStatus.SUCCEEDED) run.succeeded += 1;
        else if (summary.status === PaymentStatus.FAILED) run.failed += 1;
      } catch (error) {
        // One payment's trouble (a bug, the gateway) must not stop the others' retries.
        this.logger.error(`Automatic retry of payment ${id}: ${(error as Error).message}`, (error as Error).stack);
      }
    }
    if (run.retried || run.skipped) this.logger.log(`Automatic retries: ${run.retried} retried (${run.succeeded} succeeded), ${run.skipped} skipped`);
    return run;
  }

  /** The claim (committed before any money moves) and the checks that may cancel the retry, with why on the timeline. */
  private claim(organizationId: string, paymentId: string, now: Date): Promise<Claimed> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const claimed = await tx.execute<{ id: string }[]>(
        `update payment set next_retry_at = null, updated_at = ?
          where id = ? and organization_id = ? and status = 'FAILED' and next_retry_at is not null and next_retry_at <= ?
          returning id`,
        [now, paymentId, organizationId, now],
      );
      if (claimed.length === 0) return { retry: false, skipped: false }; // another run took it, or it changed meanwhile
      const payment = (await tx.findOne(Payment, { id: paymentId }, { refresh: true }))!;
      const skip = async (reason: string): Promise<Claimed> => {
        this.center.event(tx, payment, PaymentEventType.RETRY_SCHEDULED, `Automatic retry cancelled: ${reason}`, null, { skipped: reason });
        await tx.flush();
        return { retry: false, skipped: true };
      };
      if (payment.resolution === PaymentResolution.RESOLVED) return skip('the payment was marked resolved');
      if (!(await this.settings.of(tx)).autoRetry) return skip('automatic retries are turned off for the organization');
      if (!payment.offSession || !payment.paymentMethodId) return skip('a one-off payment method cannot be charged without the customer');
      const choice = await this.center.chooseMethod(tx, payment);
      if (!choice.ok) return skip(choice.reason);
      if (choice.switched && choice.method) this.center.switchMethod(tx, payment, choice.method, null);
      await tx.flush();
      return { retry: true };
    });
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }
}
