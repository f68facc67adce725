import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { type GatewayCharge, GatewayError, GatewayErrorCode, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { AttemptStatus, Payment, PaymentAttempt } from '../domain/payment.entity.js';
import { PaymentOutcomes } from './payment-outcomes.js';
import { chargeRequestOf } from './take-payment.support.js';

/**
 * How old a PENDING or UNKNOWN attempt must be before the janitor asks the gateway about it. A live charge finishes
 * well within it: Stripe's client gives up after 20 s per try and retries twice, so about a minute in the worst case.
 * Older than that, the process that sent it died (or its answer was lost), and asking again under the same key is safe.
 */
export const JANITOR_GRACE_MS = 2 * 60_000;
const BATCH = 100;

export interface JanitorRun {
  /** Attempts looked at. */
  checked: number;
  /** Attempts whose outcome is now known (succeeded, processing or failed). */
  settled: number;
  /** Attempts the gateway still did not answer about (tried again next run). */
  stillUnknown: number;
}

/**
 * Settles attempts whose outcome is not known: a gateway timeout (UNKNOWN) or a crash between the gateway call and the
 * local commit (PENDING). It never charges under a new key: with a charge id it reads the charge; without one it sends
 * the very same createCharge again under the attempt's key, which returns the first charge if there was one.
 */
@Injectable()
export class PaymentJanitor {
  private readonly logger = new Logger(PaymentJanitor.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly gateway: PaymentGateway,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  async runOnce(now: Date = this.clock.now()): Promise<JanitorRun> {
    const run: JanitorRun = { checked: 0, settled: 0, stillUnknown: 0 };
    const cutoff = new Date(now.getTime() - JANITOR_GRACE_MS);
    let after = { startedAt: new Date(0), id: '00000000-0000-0000-0000-000000000000' };
    for (;;) {
      // A system job across organizations (ids only); each attempt is then handled in its own tenant.
      const batch = await this.orm.em.fork().find(
        PaymentAttempt,
        {
          status: { $in: [AttemptStatus.PENDING, AttemptStatus.UNKNOWN] },
          startedAt: { $lt: cutoff },
          $or: [{ startedAt: { $gt: after.startedAt } }, { startedAt: after.startedAt, id: { $gt: after.id } }],
        },
        { filters: { tenant: false }, orderBy: { startedAt: 'asc', id: 'asc' }, limit: BATCH, fields: ['id', 'organizationId', 'startedAt'] },
      );
      for (const row of batch) {
        run.checked += 1;
        const outcome = await this.settle(row.organizationId, row.id).catch((error: unknown) => {
          this.logger.error(`Could not settle payment attempt ${row.id}: ${(error as Error).message}`);
          return 'unknown' as const;
        });
        if (outcome === 'settled') run.settled += 1;
        else run.stillUnknown += 1;
      }
      if (batch.length < BATCH) break;
      const last = batch[batch.length - 1]!;
      after = { startedAt: last.startedAt, id: last.id };
    }
    if (run.checked) this.logger.log(`Payment janitor: ${run.checked} checked, ${run.settled} settled, ${run.stillUnknown} still unknown`);
    return run;
  }

  private async settle(organizationId: string, attemptId: string): Promise<'settled' | 'unknown'> {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    const attempt = await em.findOne(PaymentAttempt, { id: attemptId });
    if (!attempt || (attempt.status !== AttemptStatus.PENDING && attempt.status !== AttemptStatus.UNKNOWN)) return 'settled';
    const payment = await em.findOneOrFail(Payment, { id: attempt.paymentId });
    let charge: GatewayCharge;
    try {
      charge = attempt.gatewayChargeId
        ? await this.gateway.getCharge(attempt.gatewayChargeId)
        : await this.gateway.createCharge(chargeRequestOf(payment, attempt));
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      if (error.code === GatewayErrorCode.UNAVAILABLE) {
        await this.outcomes.markUnknown(organizationId, attemptId, error.message);
        return 'unknown';
      }
      await this.outcomes.apply(
        organizationId,
        attemptId,
        { status: AttemptStatus.FAILED, chargeId: null, failure: { code: error.code, gatewayCode: error.gatewayCode, gatewayMessage: error.message } },
        'janitor',
      );
      return 'settled';
    }
    await this.outcomes.applyGatewayResult(organizationId, attemptId, charge, 'janitor');
    return 'settled';
  }
}
