import { ArrayType, BigIntType } from '@mikro-orm/core';
import { Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

// ─── Payment settings (Payment Action Center engineer: the organization's automatic retry schedule) ───────────────

/** Days after the first failure, as Settle ships it (seed 002: "days 1, 3, 7"). */
export const DEFAULT_RETRY_SCHEDULE_DAYS: readonly number[] = [1, 3, 7];

/**
 * An organization's payment settings; a missing row means the defaults. `retryScheduleDays` are days after a
 * payment's FIRST failure on which the automatic retries happen (strictly increasing, 1..60, at most 10).
 */
@Entity({ tableName: 'payment_settings' })
@TenantScoped()
export class PaymentSettings {
  @PrimaryKey({ type: 'uuid' })
  organizationId!: string;

  @Property({ type: new ArrayType<number>((i) => Number(i), (i) => String(i)), columnType: 'smallint[]', defaultRaw: "'{1,3,7}'" })
  retryScheduleDays: number[] = [...DEFAULT_RETRY_SCHEDULE_DAYS];

  @Property({ type: 'boolean', default: true })
  autoRetry: boolean = true;

  /** Payment requests: how long a pay link stays open (hours, 1 to 720; seed 003: 24). Payment requests engineer. */
  @Property({ type: 'smallint', default: 24 })
  paymentRequestTtlHours: number = 24;

  /** Payment requests: the pay page offers "Pay in 4" (monthly installments through Invoicing's plans). Off by default. */
  @Property({ type: 'boolean', default: false })
  paymentRequestInstallments: boolean = false;

  @Property({ type: 'uuid', nullable: true })
  updatedBy: string | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

// ─── Mass charges (mass charge engineer) ──────────────────────────────────────────────────────────────────────────

export enum MassChargeStatus {
  /** Created; its job has not started yet. */
  QUEUED = 'QUEUED',
  /** A job is charging its customers (or crashed doing so and is retried / can be resumed). */
  RUNNING = 'RUNNING',
  /** Every customer was charged successfully (or their bank debit is processing). */
  COMPLETED = 'COMPLETED',
  /** Every customer was handled, and some were skipped or failed (see the items and their reasons). */
  COMPLETED_WITH_FAILURES = 'COMPLETED_WITH_FAILURES',
  /** Stopped by staff: the customers not charged yet were skipped. */
  CANCELLED = 'CANCELLED',
}
registerEnumType(MassChargeStatus, { name: 'MassChargeStatus' });

export const FINISHED_MASS_CHARGE_STATUSES: readonly MassChargeStatus[] = [
  MassChargeStatus.COMPLETED,
  MassChargeStatus.COMPLETED_WITH_FAILURES,
  MassChargeStatus.CANCELLED,
];

export enum MassChargeAmountMode {
  /** What each customer owes on their issued invoices, which the payment pays oldest first. */
  OPEN_BALANCE = 'OPEN_BALANCE',
  /** The same amount for everyone, on account (UNRECONCILED until allocated, seed 002 §4.2). */
  FIXED = 'FIXED',
}
registerEnumType(MassChargeAmountMode, { name: 'MassChargeAmountMode' });

export enum MassChargeItemStatus {
  /** Not handled yet. */
  PENDING = 'PENDING',
  /**
   * Claimed (amount, method and invoices fixed and committed) and being charged. A worker that died here leaves it
   * CHARGING: the next run charges it again under the same idempotency key, which returns the first payment.
   */
  CHARGING = 'CHARGING',
  /** Paid (paymentId). */
  SUCCEEDED = 'SUCCEEDED',
  /** Submitted and not settled yet: a bank debit (days), or a gateway answer being checked. Settles by itself. */
  PROCESSING = 'PROCESSING',
  /** Declined or refused: see the reason (paymentId when a payment was made). */
  FAILED = 'FAILED',
  /** Not charged on purpose: no default method, no consent, expired card, nothing owed, archived, or cancelled. */
  SKIPPED = 'SKIPPED',
}
registerEnumType(MassChargeItemStatus, { name: 'MassChargeItemStatus' });

/** An invoice an item's payment pays, and how much (minor units, as a string: JSON has no bigint). */
export interface MassChargeAllocation {
  invoiceId: string;
  amount: string;
}

/**
 * A charge of many customers' default consented methods, made by a queued job (seed 002 §4.2). The selection is
 * fixed when the batch is created: one MassChargeItem per customer. The counters move in the same transaction as
 * each item, so they always add up: total = succeeded + processing + failed + skipped + pending.
 */
@Entity({ tableName: 'mass_charge_batch' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
export class MassChargeBatch extends TenantEntity {
  @Enum({ items: () => MassChargeStatus, nativeEnumName: 'mass_charge_status' })
  status: MassChargeStatus = MassChargeStatus.QUEUED;

  @Enum({ items: () => MassChargeAmountMode, nativeEnumName: 'mass_charge_amount_mode' })
  amountMode!: MassChargeAmountMode;

  /** FIXED: what every customer is charged (minor units of `currency`); null for OPEN_BALANCE. */
  @Property({ type: new BigIntType('bigint'), nullable: true })
  amount: bigint | null = null;

  /** The organization's currency when the batch was created. */
  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  /** Staff's note; also the payments' description. */
  @Property({ type: 'text', nullable: true })
  note: string | null = null;

  /** The Customers filter the customers were selected by (bigints as strings); null for an explicit list. */
  @Property({ type: 'jsonb', nullable: true })
  customerFilter: Record<string, unknown> | null = null;

  @Property({ type: 'int' })
  total!: number;

  @Property({ type: 'int', default: 0 })
  succeeded: number = 0;

  @Property({ type: 'int', default: 0 })
  processing: number = 0;

  @Property({ type: 'int', default: 0 })
  failed: number = 0;

  @Property({ type: 'int', default: 0 })
  skipped: number = 0;

  /** Σ of the succeeded items' amounts. */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountSucceeded: bigint = 0n;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  startedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;

  /** Items handled so far, whatever the outcome. */
  get done(): number {
    return this.succeeded + this.processing + this.failed + this.skipped;
  }
}

/**
 * One customer of a mass charge. UNIQUE (batch_id, customer_id) plus the idempotency key
 * `masscharge:<batchId>:<customerId>` of its payment are what keep it to one charge whatever happens to the job
 * (see MassChargeRunner).
 */
@Entity({ tableName: 'mass_charge_item' })
@TenantScoped()
@Unique({ properties: ['batchId', 'customerId'] })
@Index({ properties: ['batchId', 'status', 'position'] })
export class MassChargeItem extends TenantEntity {
  @Property({ type: 'uuid' })
  batchId!: string;

  /** 0, 1, 2, … in the order of the selection. */
  @Property({ type: 'int' })
  position!: number;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => MassChargeItemStatus, nativeEnumName: 'mass_charge_item_status', default: MassChargeItemStatus.PENDING })
  status: MassChargeItemStatus = MassChargeItemStatus.PENDING;

  /** Fixed when the item is claimed, before the charge: a resumed charge asks for exactly the same. */
  @Property({ type: new BigIntType('bigint'), nullable: true })
  amount: bigint | null = null;

  /** The wallet's method charged (the customer's default when claimed). */
  @Property({ type: 'uuid', nullable: true })
  paymentMethodId: string | null = null;

  @Property({ type: 'jsonb', nullable: true })
  allocations: MassChargeAllocation[] | null = null;

  @Property({ type: 'uuid', nullable: true })
  paymentId: string | null = null;

  /** Why it failed or was skipped, as a code: NO_DEFAULT_METHOD, CONSENT_REQUIRED, CARD_EXPIRED, NOTHING_OWED, … */
  @Property({ type: 'text', nullable: true })
  reasonCode: string | null = null;

  /** …and in words. */
  @Property({ type: 'text', nullable: true })
  reason: string | null = null;
}

/** Mass charge batches and their per-customer items; the organization's payment settings (retry schedule) (entities listed in ../entities.ts). */
export const MASS_CHARGE_ENTITIES: (abstract new (...args: never[]) => object)[] = [PaymentSettings, MassChargeBatch, MassChargeItem];
