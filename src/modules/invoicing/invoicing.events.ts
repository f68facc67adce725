import type { MoneyJson } from '#libs/money/index.js';

/**
 * Integration events Invoicing publishes (past tense) through the outbox, in the transaction of the change: what an
 * accounting sync consumes. Payloads carry ids and amounts only (amounts as `{ amount: "<minor units>", currency }`).
 */
export const InvoicingEvents = {
  InvoiceIssued: 'InvoiceIssued',
  InvoiceVoided: 'InvoiceVoided',
  InvoicePaid: 'InvoicePaid',
  CreditCreated: 'CreditCreated',
  CreditApplied: 'CreditApplied',
  CreditApplicationReversed: 'CreditApplicationReversed',
  CreditCancelled: 'CreditCancelled',
  PaymentRecorded: 'PaymentRecorded',
  PaymentAllocated: 'PaymentAllocated',
  PaymentAllocationReversed: 'PaymentAllocationReversed',
  PaymentReversed: 'PaymentReversed',
  /** An installment's charge was refused (or its method could no longer be charged): Payments/dunning react. */
  InstallmentPaymentFailed: 'InstallmentPaymentFailed',
  /** A mass invoice batch finished (every customer handled) or was cancelled. */
  MassInvoiceCompleted: 'MassInvoiceCompleted',
} as const;

export type InvoicingEventName = (typeof InvoicingEvents)[keyof typeof InvoicingEvents];

export interface InvoiceIssuedPayload {
  invoiceId: string;
  customerId: string;
  number: string;
  subtotal: MoneyJson;
  tax: MoneyJson;
  total: MoneyJson;
}

export interface InvoiceVoidedPayload {
  invoiceId: string;
  customerId: string;
  number: string;
  total: MoneyJson;
}

export interface InvoicePaidPayload {
  invoiceId: string;
  customerId: string;
  total: MoneyJson;
  amountPaid: MoneyJson;
  amountCredited: MoneyJson;
}

export interface CreditCreatedPayload {
  creditId: string;
  customerId: string;
  /** The invoice of a credit note; null for account credit. */
  invoiceId: string | null;
  /** The payment an OVERPAYMENT credit came from. */
  paymentId: string | null;
  kind: string;
  amount: MoneyJson;
}

export interface CreditAppliedPayload {
  creditApplicationId: string;
  creditId: string;
  invoiceId: string;
  customerId: string;
  amount: MoneyJson;
}

export interface PaymentRecordedPayload {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
}

export interface PaymentAllocatedPayload {
  allocationId: string;
  paymentId: string;
  invoiceId: string;
  customerId: string;
  amount: MoneyJson;
}

export interface PaymentReversedPayload {
  paymentId: string;
  customerId: string;
  amount: MoneyJson;
}

export interface PaymentAllocationReversedPayload {
  allocationId: string;
  paymentId: string;
  invoiceId: string;
  customerId: string;
  amount: MoneyJson;
  reason: string;
}

export interface CreditApplicationReversedPayload {
  creditApplicationId: string;
  creditId: string;
  invoiceId: string;
  customerId: string;
  amount: MoneyJson;
  reason: string;
}

/** An OVERPAYMENT credit cancelled because its payment was reversed; `remaining` is what was still unapplied. */
export interface CreditCancelledPayload {
  creditId: string;
  customerId: string;
  paymentId: string | null;
  amount: MoneyJson;
  remaining: MoneyJson;
  reason: string;
}

export interface InstallmentPaymentFailedPayload {
  installmentId: string;
  planId: string;
  customerId: string;
  /** The invoices the plan covers. */
  invoiceIds: string[];
  amount: MoneyJson;
  dueOn: string;
  attempt: number;
  /** In words, e.g. "The card was declined for insufficient funds (Your card has insufficient funds.)". */
  reason: string;
  /** The gateway's code (CARD_DECLINED, INSUFFICIENT_FUNDS, ...), or METHOD_NOT_CHARGEABLE when no charge was tried. */
  failureCode: string;
  paymentMethodId: string;
}

export interface MassInvoiceCompletedPayload {
  batchId: string;
  status: string;
  total: number;
  invoiced: number;
  failed: number;
  skipped: number;
}
