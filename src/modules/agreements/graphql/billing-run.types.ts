import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { IsArray, IsBoolean, IsEnum, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import type { BillingSettingsValue } from '../application/billing-runs.use-case.js';
import { BilledPeriod, BilledPeriodStatus, BillingRun, BillingRunSkip, BillingRunStatus } from '../domain/billing-run.entity.js';
import type { BillingRunProgressEvent } from '../infrastructure/billing-run-progress.pubsub.js';

/** Counters shared by the run and its progress events. */
@ObjectType({ isAbstract: true })
abstract class BillingRunCounters {
  @Field(() => BillingRunStatus)
  status!: BillingRunStatus;

  @Field(() => Int, { description: 'ACTIVE agreements when the run was planned (0 until then)' })
  agreementsTotal!: number;

  @Field(() => Int, { description: 'Agreements handled so far (billed, skipped or with nothing due)' })
  agreementsDone!: number;

  @Field(() => Int, { description: 'Periods invoiced by this run (one invoice and one charge each)' })
  invoiced!: number;

  @Field(() => Int, { description: 'Periods whose charge succeeded (the invoice is paid; a receipt is emailed)' })
  charged!: number;

  @Field(() => Int, { description: 'Periods whose charge failed (the invoice stays open; see periods(status: [FAILED]))' })
  failed!: number;

  @Field(() => Int, { description: 'Agreements not billed, with the reason (see skippedAgreements)' })
  skipped!: number;

  @Field(() => Int, { description: 'Agreements with nothing due up to the date' })
  upToDate!: number;

  @Field(() => Int, { description: 'Periods invoiced whose charge has no final answer yet: invoiced − charged − failed' })
  pendingCharges!: number;
}

@ObjectType('BillingRunProgress', { description: 'The counters of a billing run, as billingRunProgress pushes them' })
export class BillingRunProgressView extends BillingRunCounters {
  @Field(() => ID)
  runId!: string;

  static from(e: BillingRunProgressEvent): BillingRunProgressView {
    return Object.assign(new BillingRunProgressView(), {
      runId: e.runId,
      status: e.status,
      agreementsTotal: e.total,
      agreementsDone: e.agreementsDone,
      invoiced: e.invoiced,
      charged: e.charged,
      failed: e.failed,
      skipped: e.skipped,
      upToDate: e.upToDate,
      pendingCharges: e.invoiced - e.charged - e.failed,
    });
  }
}

@ObjectType('BillingRun', { description: 'Bill all unbilled agreements up to a date: its progress, and once finished its report' })
export class BillingRunView extends BillingRunCounters {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Periods that start on or before this date (YYYY-MM-DD) are billed' })
  upTo!: string;

  @Field({ description: "Started by the organization's daily schedule" })
  scheduled!: boolean;

  @Field(() => MoneyType)
  amountInvoiced!: MoneyType;

  @Field(() => MoneyType)
  amountCharged!: MoneyType;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  static from(r: BillingRun, locale: string): BillingRunView {
    return Object.assign(new BillingRunView(), {
      id: r.id,
      upTo: r.upTo,
      status: r.status,
      scheduled: r.scheduled,
      agreementsTotal: r.agreementsTotal,
      agreementsDone: r.agreementsDone,
      invoiced: r.invoiced,
      charged: r.charged,
      failed: r.failed,
      skipped: r.skipped,
      upToDate: r.upToDate,
      pendingCharges: r.invoiced - r.charged - r.failed,
      amountInvoiced: MoneyType.from(Money.of(r.amountInvoiced, r.currency), locale),
      amountCharged: MoneyType.from(Money.of(r.amountCharged, r.currency), locale),
      createdBy: r.createdBy,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    });
  }
}

@ObjectType('BilledPeriod', { description: 'One period of an agreement a run billed: its invoice, its charge, and what became of it' })
export class BilledPeriodView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  agreementId!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => ID, { description: 'The run that invoiced it' })
  runId!: string;

  @Field()
  periodStart!: string;

  @Field({ description: 'Inclusive' })
  periodEnd!: string;

  @Field({ description: 'The invoice\'s billed reference, e.g. "Pool care — June 2026"' })
  label!: string;

  @Field(() => ID)
  invoiceId!: string;

  @Field(() => ID)
  paymentId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => BilledPeriodStatus)
  status!: BilledPeriodStatus;

  @Field(() => String, { nullable: true })
  failureCode!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the charge failed, in words' })
  failureReason!: string | null;

  static from(p: BilledPeriod, locale: string): BilledPeriodView {
    return Object.assign(new BilledPeriodView(), {
      id: p.id,
      agreementId: p.agreementId,
      customerId: p.customerId,
      runId: p.runId,
      periodStart: p.periodStart,
      periodEnd: p.periodEnd,
      label: p.label,
      invoiceId: p.invoiceId,
      paymentId: p.paymentId,
      amount: MoneyType.from(Money.of(p.amount, p.currency), locale),
      status: p.status,
      failureCode: p.failureCode,
      failureReason: p.failureReason,
    });
  }
}

@ObjectType('BillingRunSkip', { description: 'An agreement a run did not bill, and why (its periods stay unbilled for a later run)' })
export class BillingRunSkipView {
  @Field(() => ID)
  agreementId!: string;

  @Field(() => ID)
  customerId!: string;

  @Field({ description: 'NO_PAYMENT_METHOD, METHOD_NOT_CHARGEABLE, CUSTOMER_ARCHIVED, TOTAL_NOT_POSITIVE, CURRENCY_MISMATCH' })
  reasonCode!: string;

  @Field()
  reason!: string;

  static from(s: BillingRunSkip): BillingRunSkipView {
    return Object.assign(new BillingRunSkipView(), { agreementId: s.agreementId, customerId: s.customerId, reasonCode: s.reasonCode, reason: s.reason });
  }
}

@ObjectType()
export class BillingRunConnection extends ConnectionType(BillingRunView, 'BillingRun') {}

@ObjectType()
export class BilledPeriodConnection extends ConnectionType(BilledPeriodView, 'BilledPeriod') {}

@ObjectType()
export class BillingRunSkipConnection extends ConnectionType(BillingRunSkipView, 'BillingRunSkip') {}

@ArgsType()
export class BilledPeriodsArgs extends PageArgs {
  @Field(() => [BilledPeriodStatus], { nullable: true, description: 'Only periods in these statuses' })
  @IsOptional()
  @IsArray()
  @IsEnum(BilledPeriodStatus, { each: true })
  status?: BilledPeriodStatus[] | null;
}

@ObjectType('AgreementBillingSettings', { description: "The organization's automatic billing runs" })
export class AgreementBillingSettingsView {
  @Field({ description: 'Bill every ACTIVE agreement automatically, once a day (up to that day)' })
  autoBill!: boolean;

  @Field(() => Int, { description: "The hour (0–23, the organization's time zone) after which the daily run starts" })
  hour!: number;

  @Field(() => String, { nullable: true, description: 'The date of the last scheduled run' })
  lastScheduledOn!: string | null;

  @Field(() => ID, { nullable: true })
  updatedBy!: string | null;

  @Field(() => Date, { nullable: true })
  updatedAt!: Date | null;

  static from(v: BillingSettingsValue): AgreementBillingSettingsView {
    return Object.assign(new AgreementBillingSettingsView(), v);
  }
}

@InputType()
export class UpdateAgreementBillingSettingsInput {
  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  autoBill?: boolean | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0, { message: 'hour must be from 0 to 23' })
  @Max(23, { message: 'hour must be from 0 to 23' })
  hour?: number | null;
}
