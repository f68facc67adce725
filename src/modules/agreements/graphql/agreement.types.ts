import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { IsBigIntInRange } from '../../../graphql/validators.js';
import { type AgreementTransition, type ServiceAgreement } from '../domain/agreement.entity.js';
import { MAX_DESCRIPTION, MAX_LINES, priceLines } from '../domain/agreement-lines.js';
import { AgreementStatus } from '../domain/agreement-status.js';
import { BillingFrequency } from '../domain/billing-schedule.js';
import { MAX_RENEWAL_BATCH } from '../application/renewals.use-case.js';

const MAX_UNIT_PRICE = 100_000_000_000n;

@ObjectType('AgreementLine', { description: 'A priced service of one period (the same rounding as an invoice line)' })
export class AgreementLineView {
  @Field()
  description!: string;

  @Field({ description: 'Decimal with at most 3 places' })
  quantity!: string;

  @Field(() => MoneyType)
  unitPrice!: MoneyType;

  @Field(() => String, { nullable: true, description: 'Percent with at most 3 places; null: no tax' })
  taxRate!: string | null;

  @Field(() => MoneyType)
  subtotal!: MoneyType;

  @Field(() => MoneyType)
  tax!: MoneyType;

  @Field(() => MoneyType)
  total!: MoneyType;
}

@ObjectType('AgreementTransition', { description: 'One status change of an agreement: who, when, why' })
export class AgreementTransitionView {
  @Field(() => AgreementStatus, { nullable: true, description: 'Null for the creation of the quote' })
  from!: AgreementStatus | null;

  @Field(() => AgreementStatus)
  to!: AgreementStatus;

  @Field()
  at!: Date;

  @Field(() => ID, { nullable: true, description: 'The staff member; null for the customer (sign-up page) or Settle' })
  actorUserId!: string | null;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  static from(t: AgreementTransition): AgreementTransitionView {
    return Object.assign(new AgreementTransitionView(), { from: t.fromStatus, to: t.toStatus, at: t.at, actorUserId: t.actorUserId, reason: t.reason });
  }
}

@ObjectType('Agreement', { description: 'A service agreement: priced services billed every period to a saved method with consent' })
export class AgreementView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field()
  name!: string;

  @Field({ description: 'The terms the customer accepts on the sign-up page' })
  terms!: string;

  @Field(() => [AgreementLineView])
  lines!: AgreementLineView[];

  @Field(() => MoneyType, { description: 'Per period, before tax' })
  subtotal!: MoneyType;

  @Field(() => MoneyType, { description: 'Per period' })
  tax!: MoneyType;

  @Field(() => MoneyType, { description: 'What each period bills' })
  total!: MoneyType;

  @Field(() => BillingFrequency)
  frequency!: BillingFrequency;

  @Field(() => Int, { nullable: true, description: 'Day of the month periods start on (1–28); null with billOnLastDay' })
  billingDay!: number | null;

  @Field({ description: 'Periods start on the last day of the month' })
  billOnLastDay!: boolean;

  @Field({ description: 'YYYY-MM-DD, on the billing day' })
  startDate!: string;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD inclusive; null: open-ended (bills until closed)' })
  endDate!: string | null;

  @Field(() => ID, { nullable: true, description: 'The saved method (with consent) that pays it' })
  paymentMethodId!: string | null;

  @Field(() => AgreementStatus)
  status!: AgreementStatus;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD: the end of the last billed period; null: nothing billed yet' })
  billedThrough!: string | null;

  @Field(() => Int, { description: 'Goes up with every change; the acceptance records the version the customer saw' })
  version!: number;

  @Field(() => ID, { nullable: true, description: 'The agreement this quote renews' })
  renewalOfId!: string | null;

  @Field(() => Date, { nullable: true })
  signedAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'The version the customer accepted' })
  signedVersion!: number | null;

  @Field(() => Date, { nullable: true })
  approvedAt!: Date | null;

  @Field(() => ID, { nullable: true })
  approvedBy!: string | null;

  @Field(() => Date, { nullable: true })
  closedAt!: Date | null;

  @Field()
  createdAt!: Date;

  static from(a: ServiceAgreement, locale = 'en-US'): AgreementView {
    const priced = priceLines(a.lines, a.currency);
    const money = (m: Parameters<typeof MoneyType.from>[0]) => MoneyType.from(m, locale);
    return Object.assign(new AgreementView(), {
      id: a.id,
      customerId: a.customerId,
      name: a.name,
      terms: a.terms,
      lines: priced.lines.map((l) =>
        Object.assign(new AgreementLineView(), {
          description: l.line.description,
          quantity: l.line.quantity,
          unitPrice: money(l.unitPrice),
          taxRate: l.line.taxRate,
          subtotal: money(l.subtotal),
          tax: money(l.tax),
          total: money(l.total),
        }),
      ),
      subtotal: money(priced.subtotal),
      tax: money(priced.tax),
      total: money(priced.total),
      frequency: a.frequency,
      billingDay: a.billingDay,
      billOnLastDay: a.billingDay === null,
      startDate: a.startDate,
      endDate: a.endDate,
      paymentMethodId: a.paymentMethodId,
      status: a.status,
      billedThrough: a.billedThrough,
      version: a.version,
      renewalOfId: a.renewalOfId,
      signedAt: a.signedAt,
      signedVersion: a.signedVersion,
      approvedAt: a.approvedAt,
      approvedBy: a.approvedBy,
      closedAt: a.closedAt,
      createdAt: a.createdAt,
    });
  }
}

export const AgreementConnection = ConnectionType(AgreementView, 'Agreement');

// Shapes only here; the use case checks values (all problems at once, with their field paths).
@InputType()
export class ServiceLineInput {
  @Field()
  @IsString()
  @MaxLength(MAX_DESCRIPTION, { message: `description must be at most ${MAX_DESCRIPTION} characters` })
  description!: string;

  @Field({ defaultValue: '1', description: 'Decimal with at most 3 places, more than 0, e.g. "1.5"' })
  @IsString()
  quantity: string = '1';

  @Field(() => BigInt, { description: "Minor units of the organization's currency; negative for a discount" })
  @IsBigIntInRange(-MAX_UNIT_PRICE, MAX_UNIT_PRICE, { message: `unitPrice must be a whole number of minor units between -${MAX_UNIT_PRICE} and ${MAX_UNIT_PRICE}` })
  unitPrice!: bigint;

  @Field(() => String, { nullable: true, description: 'Percent with at most 3 places, e.g. "8.875"; omit for no tax' })
  @IsOptional()
  @IsString()
  taxRate?: string | null;
}

@InputType()
export class UpdateAgreementQuoteInput {
  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  name?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  terms?: string;

  @Field(() => [ServiceLineInput], { nullable: true, description: 'Replaces every line' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_LINES, { message: `at most ${MAX_LINES} lines` })
  @ValidateNested({ each: true })
  @Type(() => ServiceLineInput)
  lines?: ServiceLineInput[];

  @Field(() => BillingFrequency, { nullable: true })
  @IsOptional()
  @IsEnum(BillingFrequency)
  frequency?: BillingFrequency;

  @Field(() => Int, { nullable: true, description: 'Day of the month each period starts on, 1–28 (default: the start date’s)' })
  @IsOptional()
  @IsInt()
  billingDay?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Periods start on the last day of the month' })
  @IsOptional()
  @IsBoolean()
  billOnLastDay?: boolean | null;

  @Field({ nullable: true, description: 'YYYY-MM-DD, on the billing day' })
  @IsOptional()
  @IsString()
  startDate?: string;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD inclusive; null: open-ended' })
  @IsOptional()
  @IsString()
  endDate?: string | null;
}

@InputType()
export class CreateAgreementQuoteInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId!: string;

  @Field()
  @IsString()
  name!: string;

  @Field({ description: 'The terms the customer accepts on the sign-up page' })
  @IsString()
  terms!: string;

  @Field(() => [ServiceLineInput])
  @IsArray()
  @ArrayMaxSize(MAX_LINES, { message: `at most ${MAX_LINES} lines` })
  @ValidateNested({ each: true })
  @Type(() => ServiceLineInput)
  lines!: ServiceLineInput[];

  @Field(() => BillingFrequency)
  @IsEnum(BillingFrequency)
  frequency!: BillingFrequency;

  @Field(() => Int, { nullable: true, description: 'Day of the month each period starts on, 1–28 (default: the start date’s)' })
  @IsOptional()
  @IsInt()
  billingDay?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Periods start on the last day of the month' })
  @IsOptional()
  @IsBoolean()
  billOnLastDay?: boolean | null;

  @Field({ description: 'YYYY-MM-DD, on the billing day' })
  @IsString()
  startDate!: string;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD inclusive; null or absent: open-ended (bills until closed)' })
  @IsOptional()
  @IsString()
  endDate?: string | null;
}

@InputType()
export class AgreementFilterInput {
  @Field(() => [AgreementStatus], { nullable: true, description: 'Any of these (all when absent; ACTIVE and SUSPENDED with expiringWithinDays)' })
  @IsOptional()
  @IsArray()
  @IsEnum(AgreementStatus, { each: true })
  status?: AgreementStatus[] | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string | null;

  @Field(() => Int, { nullable: true, description: 'Renewals: the end date is from today to today + N days' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3660)
  expiringWithinDays?: number | null;
}

@ArgsType()
export class AgreementsArgs extends PageArgs {
  @Field(() => AgreementFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AgreementFilterInput)
  filter?: AgreementFilterInput | null;
}

@InputType({ description: 'Some agreements by id, or every agreement the filter matches (at most 500)' })
export class AgreementSelectionInput {
  @Field(() => [ID], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_RENEWAL_BATCH)
  @IsUUID('all', { each: true, message: 'ids must be UUIDs' })
  ids?: string[] | null;

  @Field(() => AgreementFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AgreementFilterInput)
  filter?: AgreementFilterInput | null;
}

@ObjectType()
export class RenewalNoticeSkip {
  @Field(() => ID)
  agreementId!: string;

  @Field({ description: 'OPTED_OUT (marketing opt-out), NO_CONTACT, NO_END_DATE or NOT_IN_FORCE' })
  reason!: string;
}

@ObjectType()
export class RenewalNoticesResult {
  @Field(() => [ID], { description: 'Agreements whose customer was sent a notice (or had been already)' })
  sent!: string[];

  @Field(() => [RenewalNoticeSkip])
  skipped!: RenewalNoticeSkip[];
}
