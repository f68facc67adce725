import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/*
 * Billing runs (issue 8, seed 001: "bill all unbilled agreements up to the current date").
 *
 * The exactly-once key lives in the database: `billed_period` has UNIQUE (agreement_id, period_start). A period is
 * claimed with INSERT … ON CONFLICT DO NOTHING in the same transaction that issues its invoice and prepares its
 * payment (keyed `agreement-period:<billed_period.id>`), and moves the agreement's billedThrough. Whatever runs,
 * retries, resumes or crashes, a period has at most one row, hence one invoice and one payment.
 */

export enum BillingRunStatus {
  /** Created; its planning job has not run yet. */
  QUEUED = 'QUEUED',
  /** Planned into batches that are being billed (or a worker died and the run waits to be resumed). */
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  /** Finished; some charges failed or some agreements were skipped (see the report). */
  COMPLETED_WITH_FAILURES = 'COMPLETED_WITH_FAILURES',
}
registerEnumType(BillingRunStatus, { name: 'BillingRunStatus' });

export const FINISHED_BILLING_RUN_STATUSES: readonly BillingRunStatus[] = [BillingRunStatus.COMPLETED, BillingRunStatus.COMPLETED_WITH_FAILURES];

/**
 * One run: every ACTIVE agreement of the organization when it was planned, each period that started on or before
 * `upTo` and is not billed yet. Counters move in the transactions of the changes they count, so they always add up.
 */
@Entity({ tableName: 'billing_run' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
export class BillingRun extends TenantEntity {
  /** Bill periods that start on or before this date (YYYY-MM-DD, the organization's calendar). */
  @Property({ type: 'date' })
  upTo!: string;

  @Enum({ items: () => BillingRunStatus, nativeEnumName: 'billing_run_status' })
  status: BillingRunStatus = BillingRunStatus.QUEUED;

  /** Started by the organization's daily schedule (agreement_billing_settings), not by a person. */
  @Property({ type: 'boolean', default: false })
  scheduled: boolean = false;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  /** ACTIVE agreements when the run was planned. */
  @Property({ type: 'int', default: 0 })
  agreementsTotal: number = 0;

  /** Agreements whose batch is done (billed, skipped or with nothing due). */
  @Property({ type: 'int', default: 0 })
  agreementsDone: number = 0;

  /** Periods invoiced by this run (one invoice each). */
  @Property({ type: 'int', default: 0 })
  invoiced: number = 0;

  /** Periods invoiced by this run whose charge succeeded. */
  @Property({ type: 'int', default: 0 })
  charged: number = 0;

  /** Periods invoiced by this run whose charge failed (the invoice stays open; dunning takes over). */
  @Property({ type: 'int', default: 0 })
  failed: number = 0;

  /** Agreements not billed: no method, a method that cannot be charged, an archived customer, ... (the report says why). */
  @Property({ type: 'int', default: 0 })
  skipped: number = 0;

  /** Agreements with nothing due up to the date (already billed, by this run's earlier attempt or another run). */
  @Property({ type: 'int', default: 0 })
  upToDate: number = 0;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountInvoiced: bigint = 0n;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountCharged: bigint = 0n;

  @Property({ type: 'int', default: 0 })
  batchesTotal: number = 0;

  @Property({ type: 'int', default: 0 })
  batchesDone: number = 0;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  /** When its batches were written (null: the planning job has not run). */
  @Property({ type: 'timestamptz', nullable: true })
  plannedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  startedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;
}

export enum BillingRunBatchStatus {
  PENDING = 'PENDING',
  DONE = 'DONE',
}

/** A slice of a run's agreements (by id), billed by one job with one transaction before and one after the gateway. */
@Entity({ tableName: 'billing_run_batch' })
@TenantScoped()
@Unique({ properties: ['runId', 'seq'] })
export class BillingRunBatch extends TenantEntity {
  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ type: 'int' })
  seq!: number;

  /** The agreements of the batch, fixed when the run was planned. */
  @Property({ type: 'json' })
  agreementIds!: string[];

  @Enum({ items: () => BillingRunBatchStatus, nativeEnumName: 'billing_run_batch_status' })
  status: BillingRunBatchStatus = BillingRunBatchStatus.PENDING;
}

export enum BilledPeriodStatus {
  /** Invoiced; its charge is being made (or a worker died between the two: the next job charges it under the same key). */
  INVOICED = 'INVOICED',
  /** The charge succeeded: the invoice is paid. */
  CHARGED = 'CHARGED',
  /** A bank debit the gateway accepted; the bank answers in a few days. */
  PROCESSING = 'PROCESSING',
  /** The charge failed (declined, ...): the invoice stays open. */
  FAILED = 'FAILED',
}
registerEnumType(BilledPeriodStatus, { name: 'BilledPeriodStatus' });

/**
 * One billed period of an agreement: the exactly-once key (UNIQUE agreement, period start), its invoice and its
 * payment (id fixed when claimed; the payment's idempotency key is `agreement-period:<id>`).
 */
@Entity({ tableName: 'billed_period' })
@TenantScoped()
@Unique({ properties: ['agreementId', 'periodStart'] })
@Index({ properties: ['organizationId', 'runId', 'status'] })
@Index({ properties: ['organizationId', 'agreementId', 'periodStart'] })
@Check({ name: 'billed_period_dates', expression: '"period_end" >= "period_start"' })
export class BilledPeriod extends TenantEntity {
  @Property({ type: 'uuid' })
  agreementId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  /** The run that invoiced it. */
  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ type: 'date' })
  periodStart!: string;

  /** Inclusive. */
  @Property({ type: 'date' })
  periodEnd!: string;

  /** "Pool care — June 2026": the invoice's billed reference label. */
  @Property({ type: 'text' })
  label!: string;

  @Property({ type: 'uuid' })
  invoiceId!: string;

  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Enum({ items: () => BilledPeriodStatus, nativeEnumName: 'billed_period_status' })
  status: BilledPeriodStatus = BilledPeriodStatus.INVOICED;

  @Property({ type: 'text', nullable: true })
  failureCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureReason: string | null = null;
}

/** An agreement a run did not bill, and why (counted once per run). */
@Entity({ tableName: 'billing_run_skip' })
@TenantScoped()
@Unique({ properties: ['runId', 'agreementId'] })
export class BillingRunSkip extends TenantEntity {
  @Property({ type: 'uuid' })
  runId!: string;

  @Property({ type: 'uuid' })
  agreementId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  /** NO_PAYMENT_METHOD, METHOD_NOT_CHARGEABLE (with the wallet's reason), CUSTOMER_ARCHIVED, TOTAL_NOT_POSITIVE. */
  @Property({ type: 'text' })
  reasonCode!: string;

  @Property({ type: 'text' })
  reason!: string;
}

/** Per organization: bill agreements automatically every day at `hour` (organization's time zone). Missing row: off. */
@Entity({ tableName: 'agreement_billing_settings' })
@TenantScoped()
@Check({ name: 'agreement_billing_settings_hour', expression: '"hour" >= 0 and "hour" <= 23' })
export class AgreementBillingSettings {
  @PrimaryKey({ type: 'uuid' })
  organizationId!: string;

  @Property({ type: 'boolean', default: false })
  autoBill: boolean = false;

  /** The hour of the day (0–23, organization's time zone) after which the daily run starts. */
  @Property({ type: 'smallint', default: 6 })
  hour: number = 6;

  /** The organization's date of the last scheduled run (the claim that keeps it to one a day). */
  @Property({ type: 'date', nullable: true })
  lastScheduledOn: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  updatedBy: string | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

export const BILLING_RUN_ENTITIES = [BillingRun, BillingRunBatch, BilledPeriod, BillingRunSkip, AgreementBillingSettings];
