import type { Money } from '#libs/money/index.js';
import type { PostalAddress } from '#libs/ddd/index.js';
import type { PaymentMethodType, PaymentPurpose, PaymentResolution, PaymentStatus } from '../domain/payment.entity.js';

/*
 * The contract of the payments core (application/payments.facade.ts implements it). Mass charge, webhooks, refunds,
 * the action center and other modules (Invoicing's installments, Agreements' billing runs, payment requests) use it.
 */

/** Charge a saved method of the customer's wallet… */
export interface SavedMethodSource {
  paymentMethodId: string;
}

/** …or a one-off card or bank account tokenized by the gateway (Stripe.js / Checkout, the sandbox's form or test tokens). */
export interface OneOffSource {
  token: string;
  /** Also save it to the customer's wallet (the customer is notified). */
  saveToWallet?: boolean;
  /** With saveToWallet: the customer agreed to future charges on it. */
  consentGiven?: boolean;
  /** With saveToWallet, when the customer has none on file. */
  billingAddress?: PostalAddress | null;
}

export interface ChargeCommand {
  customerId: string;
  method: SavedMethodSource | OneOffSource;
  amount: Money;
  purpose: PaymentPurpose;
  /** The installment, agreement period, mass charge batch or payment request paid. */
  purposeRefId?: string | null;
  /** What it pays; their sum is at most `amount` (the rest is on account). Required for INVOICES. */
  allocations?: { invoiceId: string; amount: Money }[];
  description?: string | null;
  /**
   * The request's idempotency key: the client's own, or one the caller derives from what it pays (e.g.
   * `installment:<id>`, `masscharge:<batch>:<customer>`). Omitted for INVOICES: derived from the invoices and what
   * they owe at the time, so two identical requests at the same moment pay once.
   */
  idempotencyKey?: string | null;
  /** The customer is not present (installments, agreements, mass charges): a saved method needs consent. */
  offSession: boolean;
  /** The staff member; null for a job. */
  createdBy: string | null;
}

export interface PaymentSummary {
  id: string;
  customerId: string;
  status: PaymentStatus;
  amount: Money;
  amountRefunded: Money;
  purpose: PaymentPurpose;
  purposeRefId: string | null;
  allocations: { invoiceId: string; amount: Money }[];
  methodType: PaymentMethodType;
  methodLabel: string;
  paymentMethodId: string | null;
  attemptCount: number;
  failureCode: string | null;
  /** In words a person understands ("The card has insufficient funds."). */
  failureMessage: string | null;
  resolution: PaymentResolution | null;
  createdAt: Date;
  /** True when this answer is the stored result of an earlier identical request. */
  replayed: boolean;
}
