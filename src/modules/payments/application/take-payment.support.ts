import { Money } from '#libs/money/index.js';
import type { CreateCharge } from '../../../infra/payment-gateway/index.js';
import { AttemptStatus, type Payment, type PaymentAttempt } from '../domain/payment.entity.js';
import type { PaymentSummary } from './payments.contract.js';

/** The gateway idempotency key of a payment's n-th attempt: asking again with it never charges twice. */
export function attemptKey(paymentId: string, attempt: number): string {
  return `payment:${paymentId}:attempt:${attempt}`;
}

/**
 * What is sent to the gateway for an attempt, from the stored rows only: the janitor re-sends exactly these
 * parameters under the same key (a gateway refuses the same key with other parameters).
 */
export function chargeRequestOf(payment: Payment, attempt: PaymentAttempt): CreateCharge {
  return {
    gatewayCustomerId: payment.gatewayCustomerId,
    paymentMethodId: payment.gatewayPaymentMethodId,
    // The wallet's kind of the method: the gateway charges it without reading it first.
    methodKind: payment.methodType,
    amount: payment.amount,
    currency: payment.currency,
    description: payment.description?.trim() || `Payment ${payment.id}`,
    metadata: { organizationId: payment.organizationId, paymentId: payment.id, attempt: String(attempt.number) },
    offSession: payment.offSession,
    idempotencyKey: attempt.idempotencyKey,
  };
}

export function summaryOf(payment: Payment, replayed = false): PaymentSummary {
  return {
    id: payment.id,
    customerId: payment.customerId,
    status: payment.status,
    amount: payment.money(payment.amount),
    amountRefunded: payment.money(payment.amountRefunded),
    purpose: payment.purpose,
    purposeRefId: payment.purposeRefId,
    allocations: payment.allocations.map((a) => ({ invoiceId: a.invoiceId, amount: Money.of(a.amount, payment.currency) })),
    methodType: payment.methodType,
    methodLabel: payment.methodLabel,
    paymentMethodId: payment.paymentMethodId,
    attemptCount: payment.attemptCount,
    failureCode: payment.failureCode,
    failureMessage: payment.failureMessage,
    resolution: payment.resolution,
    createdAt: payment.createdAt,
    replayed,
  };
}

/** Attempt states move forward only: a late or repeated answer never undoes a later one. */
const ATTEMPT_NEXT: Record<AttemptStatus, readonly AttemptStatus[]> = {
  PENDING: [AttemptStatus.UNKNOWN, AttemptStatus.PROCESSING, AttemptStatus.SUCCEEDED, AttemptStatus.FAILED],
  UNKNOWN: [AttemptStatus.PROCESSING, AttemptStatus.SUCCEEDED, AttemptStatus.FAILED],
  PROCESSING: [AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CANCELLED],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canMoveAttempt(from: AttemptStatus, to: AttemptStatus): boolean {
  return ATTEMPT_NEXT[from].includes(to);
}

/** Test-only seams (crash injection); empty in production. */
export interface PaymentTestHooks {
  /** Runs after the gateway answered and before the outcome is committed: throwing simulates a crash there. */
  afterGatewayCall?: (attempt: { paymentId: string; attemptId: string; number: number }) => void | Promise<void>;
}
