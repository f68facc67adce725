import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type DeliveredEvent, isUuid } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { InstallmentPaymentOutcomes } from './installment-payment-outcomes.js';

/**
 * The Payments events the installments follow, by name: Invoicing cannot import the payments module (it depends on
 * Invoicing), so the names and the part of the payloads read here are restated (payments.events.ts is the source).
 */
export const PaymentEventNames = {
  PaymentSucceeded: 'PaymentSucceeded',
  PaymentFailed: 'PaymentFailed',
  PaymentCancelled: 'PaymentCancelled',
} as const;

/** Payments' PaymentPurpose.INSTALLMENT: purposeRefId is then the installment's id. */
export const INSTALLMENT_PAYMENT_PURPOSE = 'INSTALLMENT';

/** What the handler reads of PaymentSucceeded / PaymentFailed / PaymentCancelled. */
export interface InstallmentPaymentEventPayload {
  paymentId: string;
  purpose: string;
  purposeRefId: string | null;
  /** PaymentFailed and PaymentCancelled: why, in words. */
  reason?: string;
}

/**
 * An installment's payment settled after the daily job charged it: a bank debit that cleared or bounced days later
 * (sandbox / Stripe webhook), an unknown outcome the payments janitor resolved, a failed payment the Payment Action
 * Center retried (manually or on the organization's schedule) — the installment follows: PAID, or FAILED with the
 * reason. A bank debit cancelled by staff before it settled took nothing: the installment is FAILED (the invoices
 * still owe it; the plan does not complete as if it had been paid). Repeated events change nothing.
 */
@Injectable()
@EventHandler([PaymentEventNames.PaymentSucceeded, PaymentEventNames.PaymentFailed, PaymentEventNames.PaymentCancelled], {
  name: 'invoicing.installment-follows-payment',
})
export class InstallmentFollowsPayment implements EventConsumer {
  constructor(private readonly outcomes: InstallmentPaymentOutcomes) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const payload = event.payload as unknown as InstallmentPaymentEventPayload;
    if (payload.purpose !== INSTALLMENT_PAYMENT_PURPOSE || !payload.purposeRefId || !isUuid(payload.purposeRefId)) return;
    if (event.type === PaymentEventNames.PaymentSucceeded) {
      await this.outcomes.follow(em, payload.purposeRefId, { kind: 'succeeded' });
    } else if (event.type === PaymentEventNames.PaymentFailed) {
      await this.outcomes.follow(em, payload.purposeRefId, { kind: 'failed', reason: payload.reason || 'The payment failed' });
    } else {
      const why = payload.reason ? `: ${payload.reason}` : '';
      await this.outcomes.follow(em, payload.purposeRefId, { kind: 'failed', reason: `The bank debit was cancelled before it settled${why}` });
    }
  }
}
