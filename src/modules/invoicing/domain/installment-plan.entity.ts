import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum InstallmentPlanStatus {
  /** Installments are being charged as they fall due. */
  ACTIVE = 'ACTIVE',
  /** Every installment is PAID or SKIPPED (or what it covered was settled otherwise). */
  COMPLETED = 'COMPLETED',
  /** Stopped by staff: its remaining installments are CANCELLED; what was paid stays paid. */
  CANCELLED = 'CANCELLED',
}
registerEnumType(InstallmentPlanStatus, { name: 'InstallmentPlanStatus' });

export enum InstallmentStatus {
  /** Waiting for its due date; the daily job charges it then. */
  SCHEDULED = 'SCHEDULED',
  /**
   * Claimed by the daily job: a charge was (or is about to be) asked of the gateway. Stays here while a bank debit
   * settles, or while the gateway's answer is unknown (outage, crash); a later run resolves it with the same key.
   */
  PROCESSING = 'PROCESSING',
  PAID = 'PAID',
  /** The gateway refused the charge (a decline), or the method could no longer be charged; `lastError` says why. */
  FAILED = 'FAILED',
  /** Skipped by staff: its amount moved onto the next scheduled installment. */
  SKIPPED = 'SKIPPED',
  /** Its plan was cancelled (or completed early) before it was charged. */
  CANCELLED = 'CANCELLED',
}
registerEnumType(InstallmentStatus, { name: 'InstallmentStatus' });

/**
 * A plan to pay what a customer owes in installments, charged to a saved method the customer consented to future
 * charges on. Over one invoice (`invoiceId`), or over the customer's balance at creation (`invoiceId` null): the
 * invoices it covers are InstallmentPlanInvoice rows either way, and payments are allocated to them.
 */
@Entity({ tableName: 'installment_plan' })
@TenantScoped()
@Index({ properties: ['organizationId', 'customerId', 'status'] })
@Check({ name: 'installment_plan_total_positive', expression: '"total" > 0' })
export class InstallmentPlan extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** The invoice the plan pays; null for a plan over the customer's balance. */
  @Property({ type: 'uuid', nullable: true })
  invoiceId: string | null = null;

  /** The Wallet's saved method (checked chargeable with consent when set, and again before each charge). */
  @Property({ type: 'uuid' })
  paymentMethodId!: string;

  @Property({ type: new BigIntType('bigint') })
  total!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Enum({ items: () => InstallmentPlanStatus, nativeEnumName: 'installment_plan_status' })
  status: InstallmentPlanStatus = InstallmentPlanStatus.ACTIVE;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  cancelledBy: string | null = null;

  @Property({ type: 'text', nullable: true })
  cancelReason: string | null = null;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }
}

/** An invoice a plan covers, and what it owed when the plan was made. */
@Entity({ tableName: 'installment_plan_invoice' })
@TenantScoped()
@Unique({ properties: ['planId', 'invoiceId'] })
@Index({ properties: ['organizationId', 'invoiceId'] })
export class InstallmentPlanInvoice extends TenantEntity {
  @Property({ type: 'uuid' })
  planId!: string;

  @Property({ type: 'uuid' })
  invoiceId!: string;

  /** What the invoice still owed when the plan was created. */
  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;
}

/** One scheduled payment of a plan. */
@Entity({ tableName: 'installment' })
@TenantScoped()
@Unique({ properties: ['planId', 'sequence'] })
@Unique({ properties: ['idempotencyKey'] })
@Index({ properties: ['organizationId', 'status', 'dueOn'] })
@Index({ properties: ['organizationId', 'customerId', 'status', 'dueOn'] })
// The daily job's cross-organization scan: only the rows it may act on.
@Index({
  name: 'installment_due_idx',
  expression: `create index "installment_due_idx" on "installment" ("due_on") where "status" in ('SCHEDULED', 'PROCESSING')`,
})
@Check({ name: 'installment_amount_positive', expression: '"amount" > 0' })
export class Installment extends TenantEntity {
  @Property({ type: 'uuid' })
  planId!: string;

  /** Copied from the plan: the upcoming-payments list and the charge job read installments without the plan. */
  @Property({ type: 'uuid' })
  customerId!: string;

  /** 1, 2, 3 ... in date order (rescheduling keeps the order). */
  @Property({ type: 'smallint' })
  sequence!: number;

  /** YYYY-MM-DD in the organization's time zone: charged by the daily job on or after that day. */
  @Property({ type: 'date' })
  dueOn!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Enum({ items: () => InstallmentStatus, nativeEnumName: 'installment_status' })
  status: InstallmentStatus = InstallmentStatus.SCHEDULED;

  /** Charge attempts claimed so far; attempt n charges with idempotency key `installment:<id>:attempt:<n>`. */
  @Property({ type: 'smallint', default: 0 })
  attempts: number = 0;

  /** The key of the current attempt, set when it is claimed (never reused for another attempt). */
  @Property({ type: 'text', nullable: true })
  idempotencyKey: string | null = null;

  /** When the current attempt was claimed (by the injected clock). */
  @Property({ type: 'timestamptz', nullable: true })
  claimedAt: Date | null = null;

  /**
   * The saved method the current attempt charges (the plan's method when it was claimed). Kept so an unknown outcome
   * is retried with exactly the first request, even if staff changed the plan's method since.
   */
  @Property({ type: 'uuid', nullable: true })
  paymentMethodId: string | null = null;

  /** The gateway's charge (pi_...) once it answered; null while its outcome is unknown. */
  @Property({ type: 'text', nullable: true })
  gatewayChargeId: string | null = null;

  /** Why the last attempt failed, in words ("The card was declined ..."), or the last gateway outage. */
  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  paidAt: Date | null = null;

  /** The due date the UPCOMING_INSTALLMENT reminder was sent for (a rescheduled installment is reminded again). */
  @Property({ type: 'date', nullable: true })
  remindedFor: string | null = null;

  money(): Money {
    return Money.of(this.amount, this.currency);
  }
}

export const INSTALLMENT_ENTITIES: (abstract new (...args: never[]) => object)[] = [InstallmentPlan, InstallmentPlanInvoice, Installment];
