import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * Where a payment is. Forward-only: a late or repeated gateway answer (a webhook out of order, a janitor racing a
 * worker) never moves a payment back (see `canMove`).
 *
 *   PENDING ──► PROCESSING ──► SUCCEEDED ──► PARTIALLY_REFUNDED ──► REFUNDED
 *      │  ╲          │  ╲                 ╲_______________________↗
 *      │   UNKNOWN ──┤   CANCELLED (a processing bank debit cancelled)
 *      ▼             ▼
 *    FAILED ◄────────┘      FAILED ──(retry: a new attempt)──► PENDING
 */
export enum PaymentStatus {
  /** The row is committed and the current attempt is being sent to the gateway. */
  PENDING = 'PENDING',
  /** A bank debit the gateway accepted; the bank answers days later. Invoices are not paid yet. */
  PROCESSING = 'PROCESSING',
  /** The gateway did not answer (timeout, outage): the janitor asks it later, never by charging again. */
  UNKNOWN = 'UNKNOWN',
  SUCCEEDED = 'SUCCEEDED',
  /** The last attempt was refused (declined card, returned debit); it can be retried. */
  FAILED = 'FAILED',
  /** A processing bank debit cancelled before it settled. */
  CANCELLED = 'CANCELLED',
  PARTIALLY_REFUNDED = 'PARTIALLY_REFUNDED',
  REFUNDED = 'REFUNDED',
}
registerEnumType(PaymentStatus, { name: 'PaymentStatus' });

/** The transitions allowed; anything else is ignored (late news) or refused (a user action). */
const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  PENDING: [PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED],
  UNKNOWN: [PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED],
  PROCESSING: [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED],
  SUCCEEDED: [PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED],
  PARTIALLY_REFUNDED: [PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED],
  // A retry starts a new attempt: the payment is PENDING again.
  FAILED: [PaymentStatus.PENDING],
  CANCELLED: [],
  REFUNDED: [],
};

export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}

export enum PaymentMethodType {
  CARD = 'CARD',
  BANK_ACCOUNT = 'BANK_ACCOUNT',
}
registerEnumType(PaymentMethodType, { name: 'PaymentMethodType' });

/** What a payment is for; `purposeRefId` names it (an installment, an agreement period, a mass charge batch, …). */
export enum PaymentPurpose {
  /** One or more invoices (`allocations`). */
  INVOICES = 'INVOICES',
  /** On account: no invoice; Invoicing keeps it UNRECONCILED until a PAYMENT_MANAGER allocates it. */
  ON_ACCOUNT = 'ON_ACCOUNT',
  INSTALLMENT = 'INSTALLMENT',
  AGREEMENT = 'AGREEMENT',
  MASS_CHARGE = 'MASS_CHARGE',
  PAYMENT_REQUEST = 'PAYMENT_REQUEST',
}
registerEnumType(PaymentPurpose, { name: 'PaymentPurpose' });

/** The Payment Action Center's view of a failed payment. */
export enum PaymentResolution {
  /** Needs attention (it failed and is not resolved). */
  OPEN = 'OPEN',
  /** A person marked it resolved (e.g. the customer paid another way). */
  RESOLVED = 'RESOLVED',
}
registerEnumType(PaymentResolution, { name: 'PaymentResolution' });

/** What a payment is meant to pay: an invoice and an amount (minor units of the payment's currency). */
export interface PlannedAllocation {
  invoiceId: string;
  amount: string;
}

/**
 * Money Settle collects from a customer through the gateway: the intent ("charge $120 to Visa 4242 for INV-000012")
 * and its outcome. Each call to the gateway is a PaymentAttempt with its own idempotency key
 * (`payment:<id>:attempt:<n>`); a retry of a failed payment is a new attempt of the same payment, so "complete after
 * retry" is `attemptCount > 1`.
 *
 * `idempotencyKey` is the request's: the client's own key, or one derived from what it pays. It is unique per
 * organization, so two identical requests at the same moment insert one row; `requestHash` (customer, amount,
 * currency, method, allocations) tells a replay (same hash: the stored result) from a misuse (same key, other
 * request: refused).
 */
@Entity({ tableName: 'payment' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'idempotencyKey'] })
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
@Index({ properties: ['organizationId', 'customerId', 'createdAt'] })
@Index({ properties: ['organizationId', 'status', 'createdAt'] })
@Index({ properties: ['organizationId', 'createdBy', 'createdAt'] })
@Index({
  name: 'payment_retry_due_idx',
  expression: 'create index "payment_retry_due_idx" on "payment" ("next_retry_at") where "next_retry_at" is not null',
})
@Check({
  name: 'payment_amounts',
  expression: '"amount" > 0 and "amount_refunded" >= 0 and "amount_refunded" <= "amount"',
})
export class Payment extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => PaymentStatus, nativeEnumName: 'payment_status' })
  status: PaymentStatus = PaymentStatus.PENDING;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  amountRefunded: bigint = 0n;

  @Enum({ items: () => PaymentPurpose, nativeEnumName: 'payment_purpose' })
  purpose!: PaymentPurpose;

  /** The installment, agreement period, mass charge batch or payment request paid; null for INVOICES / ON_ACCOUNT. */
  @Property({ type: 'uuid', nullable: true })
  purposeRefId: string | null = null;

  /** What it is meant to pay (allocated through Invoicing when it succeeds). Empty for ON_ACCOUNT. */
  @Property({ type: 'json' })
  allocations: PlannedAllocation[] = [];

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Enum({ items: () => PaymentMethodType, nativeEnumName: 'payment_method_type' })
  methodType!: PaymentMethodType;

  /** The Wallet's saved method, or null for a one-off card or bank account. */
  @Property({ type: 'uuid', nullable: true })
  paymentMethodId: string | null = null;

  /** The gateway's method id (pm_…): the saved one's, or the one-off token. Never a card number. */
  @Property({ type: 'text' })
  gatewayPaymentMethodId!: string;

  @Property({ type: 'text', nullable: true })
  gatewayCustomerId: string | null = null;

  /** "Visa ending in 4242", for receipts, lists and messages. */
  @Property({ type: 'text' })
  methodLabel!: string;

  @Property({ type: 'text', nullable: true })
  brand: string | null = null;

  @Property({ type: 'text', nullable: true })
  last4: string | null = null;

  /** stripe or sandbox. */
  @Property({ type: 'text' })
  gateway!: string;

  /** The customer is not present (a saved method with consent): installments, agreements, mass charges, retries. */
  @Property({ type: 'boolean' })
  offSession!: boolean;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Property({ type: 'text' })
  requestHash!: string;

  /** Attempts made so far (1 for the first charge); the current attempt is number `attemptCount`. */
  @Property({ type: 'smallint' })
  attemptCount: number = 0;

  /** The current attempt's gateway charge (pi_…), once the gateway named it. */
  @Property({ type: 'text', nullable: true })
  gatewayChargeId: string | null = null;

  /** The last failure, in words a person understands, with the gateway's codes. */
  @Property({ type: 'text', nullable: true })
  failureCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureMessage: string | null = null;

  /** When the automatic retry schedule will try again (null: no retry planned). */
  @Property({ type: 'timestamptz', nullable: true })
  nextRetryAt: Date | null = null;

  @Enum({ items: () => PaymentResolution, nativeEnumName: 'payment_resolution', nullable: true })
  resolution: PaymentResolution | null = null;

  @Property({ type: 'uuid', nullable: true })
  resolvedBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  resolvedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  resolutionNote: string | null = null;

  /** The staff member who took it; null for automatic ones (jobs). */
  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  succeededAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  failedAt: Date | null = null;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }

  /** Moves forward or not at all; answers whether it moved. */
  moveTo(status: PaymentStatus): boolean {
    if (!canMove(this.status, status)) return false;
    this.status = status;
    return true;
  }
}

export enum AttemptStatus {
  PENDING = 'PENDING',
  PROCESSING = 'PROCESSING',
  UNKNOWN = 'UNKNOWN',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(AttemptStatus, { name: 'PaymentAttemptStatus' });

/**
 * One call to the gateway for a payment, under its own idempotency key `payment:<paymentId>:attempt:<number>`:
 * asking again with that key (a crashed worker, a timeout) returns the first answer instead of charging again.
 * The janitor finds unsettled attempts by `started_at` (set from the Clock; `updated_at` is wall time).
 */
@Entity({ tableName: 'payment_attempt' })
@TenantScoped()
@Unique({ properties: ['paymentId', 'number'] })
@Unique({ properties: ['organizationId', 'gatewayChargeId'] })
@Index({
  name: 'payment_attempt_unsettled_idx',
  expression:
    'create index "payment_attempt_unsettled_idx" on "payment_attempt" ("started_at") where "status" in (\'PENDING\', \'UNKNOWN\', \'PROCESSING\')',
})
export class PaymentAttempt extends TenantEntity {
  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: 'smallint' })
  number!: number;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Enum({ items: () => AttemptStatus, nativeEnumName: 'payment_attempt_status' })
  status: AttemptStatus = AttemptStatus.PENDING;

  @Property({ type: 'text', nullable: true })
  gatewayChargeId: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureCode: string | null = null;

  /** The gateway's own code (decline_code), e.g. insufficient_funds. */
  @Property({ type: 'text', nullable: true })
  gatewayCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureMessage: string | null = null;

  /** Who or what started it: a staff user, or null for a job (retry schedule, janitor, mass charge). */
  @Property({ type: 'uuid', nullable: true })
  startedBy: string | null = null;

  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;
}

export enum PaymentEventType {
  CREATED = 'CREATED',
  ATTEMPT_STARTED = 'ATTEMPT_STARTED',
  PROCESSING = 'PROCESSING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  UNKNOWN = 'UNKNOWN',
  WEBHOOK = 'WEBHOOK',
  ALLOCATED = 'ALLOCATED',
  REVERSED = 'REVERSED',
  REFUNDED = 'REFUNDED',
  CANCELLED = 'CANCELLED',
  RETRY_SCHEDULED = 'RETRY_SCHEDULED',
  RESOLVED = 'RESOLVED',
  METHOD_UPDATE_REQUESTED = 'METHOD_UPDATE_REQUESTED',
}
registerEnumType(PaymentEventType, { name: 'PaymentEventType' });

/** The payment's timeline: attempts, webhooks, refunds, allocations, retries, resolution. Append-only. */
@Entity({ tableName: 'payment_event' })
@TenantScoped()
@Index({ properties: ['organizationId', 'paymentId', 'createdAt'] })
export class PaymentEvent extends TenantEntity {
  @Property({ type: 'uuid' })
  paymentId!: string;

  @Enum({ items: () => PaymentEventType, nativeEnumName: 'payment_event_type' })
  type!: PaymentEventType;

  /** What a person reads in the timeline, e.g. "Attempt 2 declined: insufficient funds". */
  @Property({ type: 'text' })
  summary!: string;

  @Property({ type: 'json', nullable: true })
  detail: Record<string, unknown> | null = null;

  @Property({ type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  @Property({ type: 'timestamptz' })
  at!: Date;
}

export const PAYMENT_CORE_ENTITIES = [Payment, PaymentAttempt, PaymentEvent];
