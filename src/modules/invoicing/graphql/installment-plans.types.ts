import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, Min, ValidateNested } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { IsBigIntInRange } from '../../../graphql/validators.js';
import type { UpcomingPayment } from '../application/installment-plans.use-case.js';
import { Installment, InstallmentPlan, InstallmentPlanStatus, InstallmentStatus } from '../domain/installment-plan.entity.js';
import { MAX_INSTALLMENTS } from '../domain/installment-schedule.js';
import { MAX_TOTAL } from '../domain/invoice-math.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_MESSAGE = (field: string) => `${field} must be a date as YYYY-MM-DD`;

export enum InstallmentIntervalEnum {
  WEEKLY = 'WEEKLY',
  BIWEEKLY = 'BIWEEKLY',
  MONTHLY = 'MONTHLY',
}
registerEnumType(InstallmentIntervalEnum, { name: 'InstallmentInterval', description: 'How often equal installments fall due' });

@ObjectType('Installment', { description: 'One scheduled payment of an installment plan' })
export class InstallmentView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  planId!: string;

  @Field(() => Int, { description: '1, 2, 3 … in date order' })
  sequence!: number;

  @Field({ description: 'YYYY-MM-DD in the organization’s time zone; charged by the daily job on that day' })
  dueOn!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => InstallmentStatus)
  status!: InstallmentStatus;

  @Field(() => Int, { description: 'Charge attempts so far' })
  attempts!: number;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed, in words' })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: "The gateway's charge id (pi_…)" })
  gatewayChargeId!: string | null;

  @Field(() => Date, { nullable: true })
  paidAt!: Date | null;

  static from(i: Installment, locale: string): InstallmentView {
    return Object.assign(new InstallmentView(), {
      id: i.id,
      planId: i.planId,
      sequence: i.sequence,
      dueOn: i.dueOn,
      amount: MoneyType.from(i.money(), locale),
      status: i.status,
      attempts: i.attempts,
      lastError: i.lastError,
      gatewayChargeId: i.gatewayChargeId,
      paidAt: i.paidAt,
    });
  }
}

@ObjectType('InstallmentPlan', { description: 'What a customer owes, paid in scheduled installments on a saved method' })
export class InstallmentPlanView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => ID, { nullable: true, description: 'The invoice it pays; null for a plan over the balance' })
  invoiceId!: string | null;

  @Field(() => [ID], { description: 'The invoices it covers (one for an invoice plan)' })
  invoiceIds!: string[];

  @Field(() => ID)
  paymentMethodId!: string;

  @Field(() => String, { nullable: true, description: '"Visa ending in 4242"; null when it can no longer be charged' })
  paymentMethodLabel!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the method can no longer be charged, if so' })
  paymentMethodProblem!: string | null;

  @Field(() => MoneyType, { description: 'What was owed when the plan was made; the installments add up to it' })
  total!: MoneyType;

  @Field(() => InstallmentPlanStatus)
  status!: InstallmentPlanStatus;

  @Field(() => [InstallmentView])
  installments!: InstallmentView[];

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  cancelledAt!: Date | null;

  @Field(() => ID, { nullable: true })
  cancelledBy!: string | null;

  @Field(() => String, { nullable: true })
  cancelReason!: string | null;

  @Field()
  createdAt!: Date;

  static from(
    plan: InstallmentPlan,
    installments: Installment[],
    invoiceIds: string[],
    method: { label: string | null; problem: string | null },
    locale: string,
  ): InstallmentPlanView {
    return Object.assign(new InstallmentPlanView(), {
      id: plan.id,
      customerId: plan.customerId,
      invoiceId: plan.invoiceId,
      invoiceIds,
      paymentMethodId: plan.paymentMethodId,
      paymentMethodLabel: method.label,
      paymentMethodProblem: method.problem,
      total: MoneyType.from(plan.money(plan.total), locale),
      status: plan.status,
      installments: installments.map((i) => InstallmentView.from(i, locale)),
      createdBy: plan.createdBy,
      completedAt: plan.completedAt,
      cancelledAt: plan.cancelledAt,
      cancelledBy: plan.cancelledBy,
      cancelReason: plan.cancelReason,
      createdAt: plan.createdAt,
    });
  }
}

@ObjectType('UpcomingPayment', { description: "A customer's installment still to be charged (seed: Client Billing › Upcoming payments)" })
export class UpcomingPaymentView {
  @Field(() => ID, { description: 'The installment' })
  id!: string;

  @Field(() => ID)
  planId!: string;

  @Field(() => Int)
  sequence!: number;

  @Field(() => Int, { description: 'Installments in the plan' })
  installmentCount!: number;

  @Field()
  dueOn!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => InstallmentStatus, { description: 'SCHEDULED, or PROCESSING while a bank debit settles' })
  status!: InstallmentStatus;

  @Field(() => ID)
  paymentMethodId!: string;

  @Field(() => String, { nullable: true, description: '"Visa ending in 4242"; null when it can no longer be charged' })
  paymentMethodLabel!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the method can no longer be charged, if so' })
  paymentMethodProblem!: string | null;

  static from(u: UpcomingPayment, installmentCount: number, locale: string): UpcomingPaymentView {
    return Object.assign(new UpcomingPaymentView(), {
      id: u.installment.id,
      planId: u.plan.id,
      sequence: u.installment.sequence,
      installmentCount,
      dueOn: u.installment.dueOn,
      amount: MoneyType.from(Money.of(u.installment.amount, u.installment.currency), locale),
      status: u.installment.status,
      paymentMethodId: u.installment.paymentMethodId ?? u.plan.paymentMethodId,
      paymentMethodLabel: u.paymentMethodLabel,
      paymentMethodProblem: u.paymentMethodProblem,
    });
  }
}

export const UpcomingPaymentConnection = ConnectionType(UpcomingPaymentView, 'UpcomingPayment');

@ArgsType()
export class UpcomingPaymentsArgs extends PageArgs {
  /** A malformed or another organization's id is NOT_FOUND (checked by the use case). */
  @Field(() => ID)
  @IsString()
  customerId!: string;
}

@InputType()
export class CustomInstallmentInput {
  @Field({ description: 'YYYY-MM-DD, today or later; strictly after the previous one' })
  @Matches(DATE, { message: DATE_MESSAGE('dueOn') })
  dueOn!: string;

  @Field(() => BigInt, { description: 'Minor units of the organization’s currency, more than zero' })
  @IsBigIntInRange(1n, MAX_TOTAL, { message: 'amount must be a whole number of minor units, more than zero' })
  amount!: bigint;
}

@InputType({ description: 'Either count + firstDueOn + interval (equal parts), or installments (custom parts)' })
export class CreateInstallmentPlanInput {
  @Field(() => ID, { nullable: true, description: 'A plan over this invoice (what it still owes) …' })
  @IsOptional()
  @IsUUID('all', { message: 'invoiceId must be an id' })
  invoiceId?: string | null;

  @Field(() => ID, { nullable: true, description: '… or over everything this customer owes (invoices not already under a plan)' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be an id' })
  customerId?: string | null;

  @Field(() => ID, { description: 'A saved method of the customer, with consent to future charges' })
  @IsUUID('all', { message: 'paymentMethodId must be an id' })
  paymentMethodId!: string;

  @Field(() => Int, { nullable: true, description: `Equal parts: how many (2 to ${MAX_INSTALLMENTS}); the first ones take the leftover cents` })
  @IsOptional()
  @IsInt()
  @Min(2, { message: 'count must be at least 2' })
  @Max(MAX_INSTALLMENTS, { message: `count must be at most ${MAX_INSTALLMENTS}` })
  count?: number | null;

  @Field(() => String, { nullable: true, description: 'Equal parts: the first due date (YYYY-MM-DD), today or later' })
  @IsOptional()
  @Matches(DATE, { message: DATE_MESSAGE('firstDueOn') })
  firstDueOn?: string | null;

  @Field(() => InstallmentIntervalEnum, { nullable: true, description: 'Equal parts: monthly dates keep the day of the month (or the month’s last day)' })
  @IsOptional()
  @IsIn(Object.values(InstallmentIntervalEnum))
  interval?: InstallmentIntervalEnum | null;

  @Field(() => [CustomInstallmentInput], { nullable: true, description: 'Custom parts: they must add up to what is owed' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_INSTALLMENTS, { message: `installments must list at most ${MAX_INSTALLMENTS}` })
  @ValidateNested({ each: true })
  @Type(() => CustomInstallmentInput)
  installments?: CustomInstallmentInput[] | null;
}
