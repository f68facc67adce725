import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { Allow, ArrayMaxSize, ArrayMinSize, IsArray, IsEnum, IsOptional, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { CustomerFilterInput } from '../../customers/index.js';
import { MAX_MASS_CHARGE_CUSTOMERS, MAX_MASS_CHARGE_NOTE } from '../application/mass-charges.use-case.js';
import {
  MassChargeAmountMode,
  MassChargeBatch,
  MassChargeItem,
  MassChargeItemStatus,
  MassChargeStatus,
} from '../domain/mass-charge.entity.js';
import type { MassChargeProgressEvent } from '../infrastructure/mass-charge-progress.pubsub.js';

@InputType({ description: "Charge each selected customer's default consented method, once, as a queued job" })
export class CreateMassChargeInput {
  @Field(() => CustomerFilterInput, { nullable: true, description: 'The customers the `customers` list shows for this filter (give this or customerIds)' })
  @IsOptional()
  @ValidateNested()
  @Type(() => CustomerFilterInput)
  filter?: CustomerFilterInput | null;

  @Field(() => [ID], { nullable: true, description: `These customers, in this order (at most ${MAX_MASS_CHARGE_CUSTOMERS})` })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'customerIds must list at least one customer' })
  @ArrayMaxSize(MAX_MASS_CHARGE_CUSTOMERS, { message: `customerIds: at most ${MAX_MASS_CHARGE_CUSTOMERS} customers per mass charge` })
  @IsUUID('all', { each: true, message: 'customerIds must be customer ids' })
  customerIds?: string[] | null;

  @Field(() => MassChargeAmountMode, { description: 'OPEN_BALANCE: what each customer owes (paying their invoices oldest first); FIXED: `amount` each, on account' })
  @IsEnum(MassChargeAmountMode)
  amountMode!: MassChargeAmountMode;

  // The MinorUnits scalar has checked it is an integer; the use case checks the range.
  @Field(() => BigInt, { nullable: true, description: "FIXED only: minor units of the organization's currency, charged to each customer" })
  @Allow()
  amount?: bigint | null;

  @Field(() => String, { nullable: true, description: "A note for the office; also the payments' description" })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_MASS_CHARGE_NOTE)
  note?: string | null;
}

/** Counters shared by the batch and its progress events. */
@ObjectType({ isAbstract: true })
abstract class MassChargeCounters {
  @Field(() => MassChargeStatus)
  status!: MassChargeStatus;

  @Field(() => Int, { description: 'Customers selected' })
  total!: number;

  @Field(() => Int, { description: 'Customers handled so far: succeeded + processing + failed + skipped' })
  done!: number;

  @Field(() => Int)
  succeeded!: number;

  @Field(() => Int, { description: 'Bank debits processing (or outcomes being checked with the gateway); they settle by themselves' })
  processing!: number;

  @Field(() => Int, { description: 'Declined or refused (see the items with status FAILED and their reason)' })
  failed!: number;

  @Field(() => Int, { description: 'Not charged: no default method, no consent, expired card, nothing owed, archived, or cancelled' })
  skipped!: number;

  @Field(() => Int, { description: 'Still to do: total − done' })
  pending!: number;
}

@ObjectType('MassChargeProgress', { description: 'The counters of a mass charge, as a subscription pushes them' })
export class MassChargeProgressView extends MassChargeCounters {
  @Field(() => ID)
  batchId!: string;

  static from(e: MassChargeProgressEvent): MassChargeProgressView {
    const done = e.succeeded + e.processing + e.failed + e.skipped;
    return Object.assign(new MassChargeProgressView(), {
      batchId: e.batchId,
      status: e.status,
      total: e.total,
      succeeded: e.succeeded,
      processing: e.processing,
      failed: e.failed,
      skipped: e.skipped,
      done,
      pending: e.total - done,
    });
  }
}

@ObjectType('MassCharge', { description: "One charge per selected customer's default consented method, made by a queued job; the report once finished" })
export class MassChargeView extends MassChargeCounters {
  @Field(() => ID)
  id!: string;

  @Field(() => MassChargeAmountMode)
  amountMode!: MassChargeAmountMode;

  @Field(() => MoneyType, { nullable: true, description: 'FIXED: charged to each customer' })
  amount!: MoneyType | null;

  @Field()
  currency!: string;

  @Field(() => MoneyType, { description: 'Collected so far: the succeeded payments' })
  amountSucceeded!: MoneyType;

  @Field(() => String, { nullable: true })
  note!: string | null;

  @Field({ description: 'true: the customers were selected by a filter; false: listed' })
  selectedByFilter!: boolean;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  static from(b: MassChargeBatch, locale: string): MassChargeView {
    return Object.assign(new MassChargeView(), {
      id: b.id,
      status: b.status,
      total: b.total,
      done: b.done,
      succeeded: b.succeeded,
      processing: b.processing,
      failed: b.failed,
      skipped: b.skipped,
      pending: b.total - b.done,
      amountMode: b.amountMode,
      amount: b.amount === null ? null : MoneyType.from(Money.of(b.amount, b.currency), locale),
      currency: b.currency,
      amountSucceeded: MoneyType.from(Money.of(b.amountSucceeded, b.currency), locale),
      note: b.note,
      selectedByFilter: b.customerFilter !== null,
      createdBy: b.createdBy,
      createdAt: b.createdAt,
      startedAt: b.startedAt,
      finishedAt: b.finishedAt,
    });
  }
}

export const MassChargeConnection = ConnectionType(MassChargeView, 'MassCharge');

@ObjectType('MassChargeItem', { description: 'One customer of a mass charge and what became of them' })
export class MassChargeItemView {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: 'Place in the selection: 0, 1, 2, …' })
  position!: number;

  @Field(() => ID)
  customerId!: string;

  @Field(() => MassChargeItemStatus)
  status!: MassChargeItemStatus;

  @Field(() => MoneyType, { nullable: true, description: 'What was (or is being) charged; null until the customer is handled, and for skipped ones' })
  amount!: MoneyType | null;

  @Field(() => ID, { nullable: true, description: "The wallet's method charged" })
  paymentMethodId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The payment made for this customer (see payment(id) for its timeline)' })
  paymentId!: string | null;

  @Field(() => [ID], { description: 'The invoices the payment pays (OPEN_BALANCE), oldest first' })
  invoiceIds!: string[];

  @Field(() => String, { nullable: true, description: 'Why it failed or was skipped, as a code: NO_DEFAULT_METHOD, CONSENT_REQUIRED, CARD_EXPIRED, NOTHING_OWED, CUSTOMER_ARCHIVED, CANCELLED, or the decline code' })
  reasonCode!: string | null;

  @Field(() => String, { nullable: true, description: 'Why it failed or was skipped, for people' })
  reason!: string | null;

  static from(i: MassChargeItem, currency: string, locale: string): MassChargeItemView {
    return Object.assign(new MassChargeItemView(), {
      id: i.id,
      position: i.position,
      customerId: i.customerId,
      status: i.status,
      amount: i.amount === null || i.status === MassChargeItemStatus.SKIPPED ? null : MoneyType.from(Money.of(i.amount, currency), locale),
      paymentMethodId: i.paymentMethodId,
      paymentId: i.paymentId,
      invoiceIds: (i.allocations ?? []).map((a) => a.invoiceId),
      reasonCode: i.reasonCode,
      reason: i.reason,
    });
  }
}

export const MassChargeItemConnection = ConnectionType(MassChargeItemView, 'MassChargeItem');

@ArgsType()
export class MassChargeItemsArgs extends PageArgs {
  @Field(() => [MassChargeItemStatus], { nullable: true, description: 'Any of these statuses (e.g. [FAILED, SKIPPED] for the report)' })
  @IsOptional()
  @IsArray()
  @IsEnum(MassChargeItemStatus, { each: true })
  status?: MassChargeItemStatus[] | null;
}
