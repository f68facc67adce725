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
  /** Payments gave (part of) a payment back: what it took back from, and whether the invoices owe it again. */
  PaymentRefundRecorded: 'PaymentRefundRecorded',
  /**
   * An installment failed WITHOUT any payment being made (its method could no longer be charged, or Payments refused
   * the request). A refused charge is Payments' PaymentFailed (purpose INSTALLMENT, purposeRefId = the installment).
   */
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

export interface PaymentRefundRecordedPayload {
  paymentId: string;
  /** The Payments module's refund. */
  refundId: string;
  customerId: string;
  amount: MoneyJson;
  /** Out of what was neither allocated nor credited. */
  fromUnallocated: MoneyJson;
  /** Taken back from invoices, latest allocation first; each got a REFUND credit note unless `reopenInvoices`. */
  fromInvoices: { invoiceId: string; amount: MoneyJson; creditNoteId: string | null }[];
  /** Out of the unapplied rest of account credit (OVERPAYMENT) made from the payment. */
  fromCredits: { creditId: string; amount: MoneyJson }[];
  reopenInvoices: boolean;
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
  /** METHOD_NOT_CHARGEABLE (the wallet refused it), or the PaymentsErrorReason Payments refused the request with. */
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
