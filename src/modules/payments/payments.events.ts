import type { MoneyJson } from '#libs/money/index.js';

/**
 * Integration events Payments publishes through the outbox, in the transaction of the change. Dunning (Agreements)
 * consumes PaymentFailed; the accounting sync consumes PaymentSucceeded and PaymentRefunded.
 */
export const PaymentsEvents = {
  PaymentSucceeded: 'PaymentSucceeded',
  PaymentFailed: 'PaymentFailed',
  PaymentProcessing: 'PaymentProcessing',
  PaymentRefunded: 'PaymentRefunded',
  PaymentCancelled: 'PaymentCancelled',
  MassChargeCompleted: 'MassChargeCompleted',
  // Payment requests (pay links); outbound webhooks publish them as payment_request.*.
  PaymentRequestSent: 'PaymentRequestSent',
  PaymentRequestPaid: 'PaymentRequestPaid',
  PaymentRequestExpired: 'PaymentRequestExpired',
  PaymentRequestCancelled: 'PaymentRequestCancelled',
} as const;

/** What a payment was for, in every payment event. */
export interface PaymentPurposeJson {
  purpose: string;
  /** The installment, agreement period, mass charge batch or payment request; null for invoices / on account. */
  purposeRefId: string | null;
  invoiceIds: string[];
}

export interface PaymentSucceededPayload extends PaymentPurposeJson {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
  attempt: number;
  methodLabel: string;
}

export interface PaymentFailedPayload extends PaymentPurposeJson {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
  attempt: number;
  /** Stable code (CARD_DECLINED, INSUFFICIENT_FUNDS, EXPIRED_CARD, BANK_ACCOUNT_REJECTED, …). */
  failureCode: string;
  /** In words a person understands. */
  reason: string;
  /** The saved method that failed, if any (dunning may ask the customer to update it). */
  paymentMethodId: string | null;
}

/** A bank debit the gateway accepted: nothing is paid in Invoicing until it succeeds. */
export interface PaymentProcessingPayload extends PaymentPurposeJson {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
  attempt: number;
  methodLabel: string;
}

/** A processing bank debit cancelled before it settled: nothing was taken and nothing was recorded in Invoicing. */
export interface PaymentCancelledPayload extends PaymentPurposeJson {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
  reason: string;
}

export interface PaymentRefundedPayload {
  paymentId: string;
  refundId: string;
  customerId: string;
  amount: MoneyJson;
  totalRefunded: MoneyJson;
}

/** A mass charge finished (or was cancelled), with its final counters. */
export interface MassChargeCompletedPayload {
  batchId: string;
  status: string;
  total: number;
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
  amountSucceeded: MoneyJson;
}

/** What every payment request event says: the request as it is after the change. */
export interface PaymentRequestEventPayload {
  paymentRequestId: string;
  customerId: string;
  amount: MoneyJson;
  /** OPEN, COMPLETED, EXPIRED, CANCELLED. */
  status: string;
  /** Tries on the link so far (the paying one included). */
  attemptCount: number;
  reference: string | null;
  referenceType: string;
  invoiceId: string | null;
  expiresAt: string;
  createdBy: string;
}

/** Sent (the first send, a re-send of the same link, or a re-created request's first send). */
export interface PaymentRequestSentPayload extends PaymentRequestEventPayload {
  channels: string[];
  sendCount: number;
  recreatedFromId: string | null;
}

/** Paid on the link: in full (card or bank debit), or its first of 4 installments with the plan set up. */
export interface PaymentRequestPaidPayload extends PaymentRequestEventPayload {
  paymentId: string | null;
  /** CARD, BANK_ACCOUNT or INSTALLMENTS. */
  payMode: string;
  installmentPlanId: string | null;
  methodLabel: string | null;
  completedAt: string;
}

export interface PaymentRequestExpiredPayload extends PaymentRequestEventPayload {
  expiredAt: string;
}

export interface PaymentRequestCancelledPayload extends PaymentRequestEventPayload {
  cancelledAt: string;
  cancelledBy: string | null;
}
