import { Injectable } from '@nestjs/common';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { PaymentPurpose } from '../domain/payment.entity.js';
import { type PaymentFailedPayload, PaymentsEvents, type PaymentSucceededPayload } from '../payments.events.js';
import { MassChargeRunner } from './mass-charge-runner.js';

/**
 * A mass charge's payment that settled after its item was recorded — a bank debit that cleared or bounced days later,
 * an unknown outcome the janitor resolved, a failed one retried from the action center — moves its item (PROCESSING
 * or CHARGING -> SUCCEEDED / FAILED, or FAILED -> SUCCEEDED) and the batch's counters. Conditional updates: a
 * redelivered event, or the job recording the same outcome first, changes nothing.
 */
@Injectable()
@EventHandler([PaymentsEvents.PaymentSucceeded, PaymentsEvents.PaymentFailed], { name: 'payments.mass-charge-item' })
export class MassChargePaymentSettled implements EventConsumer {
  constructor(private readonly runner: MassChargeRunner) {}

  async handle(event: DeliveredEvent): Promise<void> {
    const payload = event.payload as unknown as PaymentSucceededPayload | PaymentFailedPayload;
    if (payload.purpose !== PaymentPurpose.MASS_CHARGE || !payload.purposeRefId || !event.organizationId) return;
    const failed = event.type === PaymentsEvents.PaymentFailed ? (payload as PaymentFailedPayload) : null;
    await this.runner.paymentSettled(event.organizationId, payload.purposeRefId, payload.customerId, {
      paymentId: payload.paymentId,
      succeeded: !failed,
      amount: BigInt(payload.amount.amount),
      code: failed?.failureCode ?? null,
      reason: failed?.reason ?? null,
    });
  }
}
