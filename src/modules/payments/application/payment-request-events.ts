import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent } from '#libs/ddd/index.js';
import type { Outbox } from '#libs/outbox/index.js';
import type { PaymentRequest, PaymentRequestPayMode } from '../domain/payment-request.entity.js';
import {
  type PaymentRequestCancelledPayload,
  type PaymentRequestEventPayload,
  type PaymentRequestExpiredPayload,
  type PaymentRequestPaidPayload,
  PaymentsEvents,
  type PaymentRequestSentPayload,
} from '../payments.events.js';

/**
 * The payment request integration events (outbound webhooks publish them as payment_request.*), recorded through the
 * outbox in the transaction of the change — so an event exists if and only if its change does.
 */
export function requestEventBase(r: PaymentRequest, status: string = r.status): PaymentRequestEventPayload {
  return {
    paymentRequestId: r.id,
    customerId: r.customerId,
    amount: r.money().toJSON(),
    status,
    attemptCount: r.attemptCount,
    reference: r.reference,
    referenceType: r.referenceType,
    invoiceId: r.invoiceId,
    expiresAt: r.expiresAt.toISOString(),
    createdBy: r.createdBy,
  };
}

export function recordRequestSent(outbox: Outbox, em: EntityManager, r: PaymentRequest): void {
  outbox.record(
    em,
    domainEvent<PaymentRequestSentPayload>(PaymentsEvents.PaymentRequestSent, r.organizationId, {
      ...requestEventBase(r),
      channels: [...r.channels],
      sendCount: r.sendCount,
      recreatedFromId: r.recreatedFromId,
    }),
  );
}

export function recordRequestPaid(outbox: Outbox, em: EntityManager, r: PaymentRequest, payMode: PaymentRequestPayMode): void {
  outbox.record(
    em,
    domainEvent<PaymentRequestPaidPayload>(PaymentsEvents.PaymentRequestPaid, r.organizationId, {
      ...requestEventBase(r),
      paymentId: r.paymentId,
      payMode,
      installmentPlanId: r.installmentPlanId,
      methodLabel: r.methodLabel,
      completedAt: (r.completedAt ?? new Date()).toISOString(),
    }),
  );
}

export function recordRequestCancelled(outbox: Outbox, em: EntityManager, r: PaymentRequest): void {
  outbox.record(
    em,
    domainEvent<PaymentRequestCancelledPayload>(PaymentsEvents.PaymentRequestCancelled, r.organizationId, {
      ...requestEventBase(r),
      cancelledAt: (r.cancelledAt ?? new Date()).toISOString(),
      cancelledBy: r.cancelledBy,
    }),
  );
}

export function expiredEvent(r: PaymentRequest, expiredAt: Date) {
  return domainEvent<PaymentRequestExpiredPayload>(PaymentsEvents.PaymentRequestExpired, r.organizationId, {
    ...requestEventBase(r, 'EXPIRED'),
    expiredAt: expiredAt.toISOString(),
  });
}
