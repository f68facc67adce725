import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { AttemptStatus, Payment, PaymentAttempt, PaymentEventType, PaymentResolution, PaymentStatus } from '../domain/payment.entity.js';
import { type PaymentFailedPayload, PaymentsEvents } from '../payments.events.js';
import { ActionCenter } from './action-center.js';
import { PaymentSettingsService } from './payment-settings.js';
import { nextRetryAt } from './retry-schedule.js';

/**
 * Plans the next automatic retry of a payment that failed: attempt n failed → day `schedule[n-1]` after the FIRST
 * failure, at that failure's local time in the organization's time zone (see nextRetryAt); no entry left → none (it
 * stays in the action center). Only off-session payments on a saved method: a customer's one-off card cannot be
 * charged again without them. Recomputed from the payment as it is now, so a late or repeated event changes nothing.
 */
@Injectable()
@EventHandler(PaymentsEvents.PaymentFailed, { name: 'payments.retry-schedule' })
export class RetryScheduleOnPaymentFailed implements EventConsumer {
  constructor(
    private readonly settings: PaymentSettingsService,
    private readonly identity: IdentityDirectory,
    private readonly center: ActionCenter,
    private readonly clock: Clock,
  ) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { paymentId, attempt } = event.payload as unknown as PaymentFailedPayload;
    const payment = await em.findOne(Payment, { id: paymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    // Stale news: another attempt started (or succeeded) since, or someone resolved it.
    if (!payment || payment.status !== PaymentStatus.FAILED || payment.attemptCount !== attempt) return;
    if (payment.resolution === PaymentResolution.RESOLVED) return;
    if (!payment.offSession || !payment.paymentMethodId) return;
    const settings = await this.settings.of(em);
    if (!settings.autoRetry) return;

    const org = await this.identity.organization(em, payment.organizationId);
    const timeZone = org?.timeZone ?? 'UTC';
    const firstFailed = await em.findOne(
      PaymentAttempt,
      { paymentId, status: AttemptStatus.FAILED, finishedAt: { $ne: null } },
      { orderBy: { number: 'asc' } },
    );
    const next = nextRetryAt({
      firstFailedAt: firstFailed?.finishedAt ?? payment.failedAt ?? payment.createdAt,
      attemptCount: payment.attemptCount,
      scheduleDays: settings.retryScheduleDays,
      timeZone,
      now: this.clock.now(),
    });
    if (next && next.getTime() === payment.nextRetryAt?.getTime()) return; // already planned
    payment.nextRetryAt = next;
    const when = next
      ? new Intl.DateTimeFormat(org?.locale ?? 'en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(next)
      : null;
    this.center.event(
      em,
      payment,
      PaymentEventType.RETRY_SCHEDULED,
      when ? `Automatic retry planned for ${when}` : `No automatic retry left (schedule: days ${settings.retryScheduleDays.join(', ') || 'none'})`,
      null,
      { attempt, nextRetryAt: next?.toISOString() ?? null, scheduleDays: settings.retryScheduleDays },
    );
    await em.flush();
  }
}
