import type { Money } from '#libs/money/index.js';

/** One attempt of one installment, as the daily job asks for it. */
export interface InstallmentChargeRequest {
  installmentId: string;
  /** The installment's attempt number: the charge's idempotency key is `installment:<installmentId>:attempt:<attempt>`. */
  attempt: number;
  customerId: string;
  /** The Wallet's saved method the attempt was claimed with (the customer consented to off-session charges on it). */
  paymentMethodId: string;
  amount: Money;
  /** The covered invoices it pays, oldest due first; their sum is at most `amount`. */
  allocations: { invoiceId: string; amount: Money }[];
  description: string;
}

export interface InstallmentChargeResult {
  /**
   * succeeded: the money was taken (and recorded against the invoices by the charger); processing: a bank debit the
   * bank answers days later; failed: refused (a decline, or refused before any charge when `paymentId` is null);
   * unknown: the gateway did not answer yet — the charger resolves it and announces the outcome.
   */
  outcome: 'succeeded' | 'processing' | 'failed' | 'unknown';
  /** The payment that charges this attempt; null when nothing was charged (refused before a payment was made). */
  paymentId: string | null;
  /** The gateway's charge (pi_…), when known. */
  gatewayChargeId: string | null;
  /** Why it failed, in words a customer and the office can act on. */
  failureMessage: string | null;
  failureCode: string | null;
}

/**
 * The one step of the installment job that moves money. Invoicing defines the port; the Payments module provides and
 * exports the implementation (it owns charging: the payment record, the gateway call, recording the money in
 * Invoicing, PaymentSucceeded / PaymentFailed, the customer's and the office's messages, the Payment Action Center and
 * its retries). Invoicing never imports Payments: the installment follows its payment through those events
 * (application/installment-payment-events.handler.ts).
 *
 * Contract: the same installment and attempt is the same request (the key `installment:<id>:attempt:<n>`): asking
 * again returns the first payment's current state, never a second charge. A decline is an answer (`failed`), not a
 * throw; a throw means the outcome is not known to the caller (asked again later with the same attempt).
 */
export abstract class InstallmentCharger {
  abstract chargeInstallment(organizationId: string, request: InstallmentChargeRequest): Promise<InstallmentChargeResult>;
}

/** The idempotency key of an installment's attempt (the daily job's claim writes the same into `installment.idempotency_key`). */
export function installmentAttemptKey(installmentId: string, attempt: number): string {
  return `installment:${installmentId}:attempt:${attempt}`;
}
