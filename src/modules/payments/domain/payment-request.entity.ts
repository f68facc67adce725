import { ArrayType, BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * Where a payment request (seed 003) is.
 *
 *   OPEN ──(paid on the link)──► COMPLETED ──(PAYMENT_MANAGER)──► CONSOLIDATED
 *     ├──(staff)──► CANCELLED
 *     └──(24 h, the job — and derived on every read)──► EXPIRED
 *
 * EXPIRED is stored by the expiry job but also derived from `expiresAt` on every access (`statusAt`), so a link
 * opened after its expiry never takes money even when the job has not run yet.
 */
export enum PaymentRequestStatus {
  OPEN = 'OPEN',
  COMPLETED = 'COMPLETED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
  CONSOLIDATED = 'CONSOLIDATED',
}
registerEnumType(PaymentRequestStatus, { name: 'PaymentRequestStatus' });

/** What the request's reference names. INVOICE links the request to an invoice, which a successful payment pays. */
export enum PaymentRequestReferenceType {
  INVOICE = 'INVOICE',
  CONTRACT = 'CONTRACT',
  OPPORTUNITY = 'OPPORTUNITY',
  OTHER = 'OTHER',
}
registerEnumType(PaymentRequestReferenceType, { name: 'PaymentRequestReferenceType' });

/** One try of the customer on the pay page: one Payment (one gateway charge) per attempt. */
export enum PaymentRequestAttemptStatus {
  /** Claimed and being charged (or the gateway's answer is unknown and the payments janitor is asking). */
  PENDING = 'PENDING',
  /** A bank debit the bank has not answered yet. */
  PROCESSING = 'PROCESSING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
registerEnumType(PaymentRequestAttemptStatus, { name: 'PaymentRequestAttemptStatus' });

/** How the customer chose to pay on the link. */
export enum PaymentRequestPayMode {
  /** In full by card: charged once as a one-off method, not kept. */
  CARD = 'CARD',
  /** In full from a US bank account: saved to the wallet with the customer's mandate, then debited (settles in days). */
  BANK_ACCOUNT = 'BANK_ACCOUNT',
  /** In 4 monthly installments (where the organization enabled it): the card saved with consent, an Invoicing plan. */
  INSTALLMENTS = 'INSTALLMENTS',
}
registerEnumType(PaymentRequestPayMode, { name: 'PaymentRequestPayMode' });

/** Pay in 4: the number of parts and their interval (the first is due, and charged, on the day the customer pays). */
export const PAY_IN_INSTALLMENTS_COUNT = 4;
export const PAY_IN_INSTALLMENTS_INTERVAL = 'MONTHLY' as const;

export const IN_FLIGHT_ATTEMPT_STATUSES = [PaymentRequestAttemptStatus.PENDING, PaymentRequestAttemptStatus.PROCESSING] as const;

/** Paid: COMPLETED, or COMPLETED and then consolidated by the accountant. */
export const PAID_REQUEST_STATUSES = [PaymentRequestStatus.COMPLETED, PaymentRequestStatus.CONSOLIDATED] as const;

/**
 * A request for a payment sent to a customer by email and/or SMS with a secure pay link (`/pay/<token>`). The token
 * is never stored: only its SHA-256 (`tokenHash`); the queued message holds a sealed marker (SealedLinks).
 */
@Entity({ tableName: 'payment_request' })
@TenantScoped()
@Index({ name: 'payment_request_org_created_idx', properties: ['organizationId', 'createdAt', 'id'] })
@Index({ name: 'payment_request_org_creator_idx', properties: ['organizationId', 'createdBy', 'createdAt'] })
@Index({ name: 'payment_request_org_customer_idx', properties: ['organizationId', 'customerId', 'createdAt'] })
@Index({
  name: 'payment_request_open_expiry_idx',
  expression: 'create index "payment_request_open_expiry_idx" on "payment_request" ("expires_at") where "status" = \'OPEN\'',
})
@Check({ name: 'payment_request_amount', expression: '"amount" > 0' })
export class PaymentRequest extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: 'text' })
  description!: string;

  /** The invoice number, contract number or opportunity id the payment is for (free text; the invoice's number for INVOICE). */
  @Property({ type: 'text', nullable: true })
  reference: string | null = null;

  @Enum({ items: () => PaymentRequestReferenceType, nativeEnumName: 'payment_request_reference_type' })
  referenceType: PaymentRequestReferenceType = PaymentRequestReferenceType.OTHER;

  /** The invoice it pays: a successful payment is allocated to it (what it still owes, at most the amount). */
  @Property({ type: 'uuid', nullable: true })
  invoiceId: string | null = null;

  /** EMAIL and/or SMS (the notifications module's channel names). */
  @Property({ type: ArrayType, columnType: 'text[]' })
  channels!: string[];

  @Property({ type: 'text', nullable: true })
  sentToEmail: string | null = null;

  @Property({ type: 'text', nullable: true })
  sentToPhone: string | null = null;

  /** How many times the link was sent (the first send, and each re-send). */
  @Property({ type: 'smallint' })
  sendCount: number = 1;

  /** Unique across organizations: the pay page looks it up before any tenant is known. */
  @Property({ type: 'text' })
  @Unique({ name: 'payment_request_token_hash_unique' })
  tokenHash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Enum({ items: () => PaymentRequestStatus, nativeEnumName: 'payment_request_status' })
  status: PaymentRequestStatus = PaymentRequestStatus.OPEN;

  /** Charges tried on the link so far (the one that succeeded included): "complete after retry" is more than 1. */
  @Property({ type: 'smallint' })
  attemptCount: number = 0;

  @Property({ type: 'text', nullable: true })
  lastFailureMessage: string | null = null;

  /** The payment that completed it. */
  @Property({ type: 'uuid', nullable: true })
  paymentId: string | null = null;

  /** "Visa ending in 4242": how it was paid. */
  @Property({ type: 'text', nullable: true })
  methodLabel: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  expiredAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  cancelledBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  consolidatedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  consolidatedBy: string | null = null;

  /** The creator read the "paid" notice (the list's unread filter). Null while unread or not paid yet. */
  @Property({ type: 'timestamptz', nullable: true })
  readAt: Date | null = null;

  /** The staff member who requested it (the only one who may mark it read). */
  @Property({ type: 'uuid' })
  createdBy!: string;

  /** Re-created after it expired or was cancelled: the request it replaces. */
  @Property({ type: 'uuid', nullable: true })
  recreatedFromId: string | null = null;

  /** Paid in 4: the Invoicing installment plan over its invoice (the invoice was created and issued for it if it had none). */
  @Property({ type: 'uuid', nullable: true })
  installmentPlanId: string | null = null;

  /**
   * A bank debit the customer made while the link was open is being confirmed by the bank (days): meanwhile the
   * request is not EXPIRED; a failed debit reopens the link (for the organization's link lifetime if it ran out).
   */
  @Property({ type: 'timestamptz', nullable: true })
  bankDebitPendingSince: Date | null = null;

  /**
   * The customer's latest choice on the link, recorded when they left for the gateway's page: the gateway session,
   * how they pay, and for a bank account or 4 installments the authorization they accepted (its wording, when, from
   * where) — kept with the consent the wallet records when it saves the method.
   */
  @Property({ type: 'text', nullable: true })
  checkoutSessionId: string | null = null;

  @Enum({ items: () => PaymentRequestPayMode, nativeEnumName: 'payment_request_pay_mode', nullable: true })
  checkoutMode: PaymentRequestPayMode | null = null;

  @Property({ type: 'text', nullable: true })
  checkoutConsentText: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  checkoutAcceptedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  checkoutIpAddress: string | null = null;

  @Property({ type: 'text', nullable: true })
  checkoutUserAgent: string | null = null;

  money(): Money {
    return Money.of(this.amount, this.currency);
  }

  /** The status as of `now`: an OPEN request past its expiry is EXPIRED even before the job marks it. */
  statusAt(now: Date): PaymentRequestStatus {
    if (this.status === PaymentRequestStatus.OPEN && this.expiresAt.getTime() <= now.getTime() && !this.bankDebitPendingSince) {
      return PaymentRequestStatus.EXPIRED;
    }
    return this.status;
  }

  /** The link may take money now. */
  isPayable(now: Date): boolean {
    return this.statusAt(now) === PaymentRequestStatus.OPEN && !this.bankDebitPendingSince;
  }
}

/**
 * Every try on the link: one Payment each (purpose PAYMENT_REQUEST, purposeRefId = the request), charged under the
 * key `payment-request:<requestId>:session:<gatewaySessionId>` — a reloaded return page replays, never charges again.
 */
@Entity({ tableName: 'payment_request_attempt' })
@TenantScoped()
@Unique({ name: 'payment_request_attempt_number_unique', properties: ['requestId', 'number'] })
@Unique({ name: 'payment_request_attempt_session_unique', properties: ['gatewaySessionId'] })
export class PaymentRequestAttempt extends TenantEntity {
  @Property({ type: 'uuid' })
  requestId!: string;

  @Property({ type: 'smallint' })
  number!: number;

  /** The gateway's hosted session the customer entered the card or account on. */
  @Property({ type: 'text' })
  gatewaySessionId!: string;

  @Enum({ items: () => PaymentRequestAttemptStatus, nativeEnumName: 'payment_request_attempt_status' })
  status: PaymentRequestAttemptStatus = PaymentRequestAttemptStatus.PENDING;

  @Enum({ items: () => PaymentRequestPayMode, nativeEnumName: 'payment_request_pay_mode' })
  mode: PaymentRequestPayMode = PaymentRequestPayMode.CARD;

  /** Pay in 4: the plan's first installment, charged at once (its payment is this attempt's). */
  @Property({ type: 'uuid', nullable: true })
  installmentId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  paymentId: string | null = null;

  @Property({ type: 'text', nullable: true })
  methodLabel: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureMessage: string | null = null;

  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;
}

export const PAYMENT_REQUEST_ENTITIES = [PaymentRequest, PaymentRequestAttempt];
