import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { Allow, IsArray, IsBoolean, IsDate, IsEnum, IsOptional, IsString, IsUUID, Length, MaxLength, ValidateNested } from 'class-validator';
import { PostalAddressInput } from '../../../graphql/address.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyInput, MoneyType } from '../../../graphql/scalars.js';
import {
  AttemptStatus,
  type Payment,
  type PaymentAttempt,
  type PaymentEvent,
  PaymentEventType,
  PaymentMethodType,
  PaymentPurpose,
  PaymentResolution,
  PaymentStatus,
} from '../domain/payment.entity.js';

@ObjectType('PaymentAllocationPlan', { description: 'An invoice a payment is meant to pay, and how much of it' })
export class PaymentAllocationPlanView {
  @Field(() => ID)
  invoiceId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;
}

@ObjectType('Payment', { description: 'Money taken from a customer through the payment gateway, and its outcome' })
export class PaymentView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => PaymentStatus)
  status!: PaymentStatus;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => MoneyType)
  amountRefunded!: MoneyType;

  @Field(() => PaymentPurpose)
  purpose!: PaymentPurpose;

  @Field(() => ID, { nullable: true, description: 'The installment, agreement period, mass charge batch or payment request paid' })
  purposeRefId!: string | null;

  @Field(() => [PaymentAllocationPlanView], { description: 'What it pays (applied to the invoices when it succeeds); empty on account' })
  allocations!: PaymentAllocationPlanView[];

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => PaymentMethodType)
  methodType!: PaymentMethodType;

  @Field({ description: '"Visa ending in 4242"' })
  methodLabel!: string;

  @Field(() => String, { nullable: true })
  brand!: string | null;

  @Field(() => String, { nullable: true })
  last4!: string | null;

  @Field(() => ID, { nullable: true, description: 'The saved method charged (null for a one-off card not saved)' })
  paymentMethodId!: string | null;

  @Field(() => Int, { description: 'Attempts made (more than 1: completed after a retry)' })
  attemptCount!: number;

  @Field(() => String, { nullable: true, description: 'Stable code of the last failure, e.g. INSUFFICIENT_FUNDS' })
  failureCode!: string | null;

  @Field(() => String, { nullable: true, description: 'The last failure in words, e.g. "The card has insufficient funds."' })
  failureMessage!: string | null;

  @Field(() => PaymentResolution, { nullable: true, description: 'Payment Action Center: OPEN while a failed payment needs attention' })
  resolution!: PaymentResolution | null;

  @Field(() => ID, { nullable: true, description: 'The staff member who took it; null for automatic payments' })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  succeededAt!: Date | null;

  @Field(() => Date, { nullable: true })
  failedAt!: Date | null;

  @Field({ description: 'True when this answer is the stored result of an earlier identical request (same idempotency key)' })
  replayed!: boolean;

  static from(p: Payment, locale: string, replayed = false): PaymentView {
    const money = (minor: bigint) => MoneyType.from(p.money(minor), locale);
    return Object.assign(new PaymentView(), {
      id: p.id,
      customerId: p.customerId,
      status: p.status,
      amount: money(p.amount),
      amountRefunded: money(p.amountRefunded),
      purpose: p.purpose,
      purposeRefId: p.purposeRefId,
      allocations: p.allocations.map((a) => Object.assign(new PaymentAllocationPlanView(), { invoiceId: a.invoiceId, amount: money(BigInt(a.amount)) })),
      description: p.description,
      methodType: p.methodType,
      methodLabel: p.methodLabel,
      brand: p.brand,
      last4: p.last4,
      paymentMethodId: p.paymentMethodId,
      attemptCount: p.attemptCount,
      failureCode: p.failureCode,
      failureMessage: p.failureMessage,
      resolution: p.resolution,
      createdBy: p.createdBy,
      createdAt: p.createdAt,
      succeededAt: p.succeededAt,
      failedAt: p.failedAt,
      replayed,
    });
  }
}

@ObjectType('PaymentConnection')
export class PaymentConnection extends ConnectionType(PaymentView, 'Payment') {}

@ObjectType('PaymentAttempt', { description: 'One call to the payment gateway for a payment' })
export class PaymentAttemptView {
  @Field(() => ID)
  id!: string;

  @Field(() => Int)
  number!: number;

  @Field(() => AttemptStatus)
  status!: AttemptStatus;

  @Field(() => String, { nullable: true, description: "The gateway's charge id (pi_…)" })
  gatewayChargeId!: string | null;

  @Field(() => String, { nullable: true })
  failureCode!: string | null;

  @Field(() => String, { nullable: true })
  failureMessage!: string | null;

  @Field(() => ID, { nullable: true })
  startedBy!: string | null;

  @Field()
  startedAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  static from(a: PaymentAttempt): PaymentAttemptView {
    return Object.assign(new PaymentAttemptView(), {
      id: a.id,
      number: a.number,
      status: a.status,
      gatewayChargeId: a.gatewayChargeId,
      failureCode: a.failureCode,
      failureMessage: a.failureMessage,
      startedBy: a.startedBy,
      startedAt: a.startedAt,
      finishedAt: a.finishedAt,
    });
  }
}

@ObjectType('PaymentEvent', { description: "A step of a payment's timeline" })
export class PaymentEventView {
  @Field(() => ID)
  id!: string;

  @Field(() => PaymentEventType)
  type!: PaymentEventType;

  @Field({ description: 'What happened, in words, e.g. "Attempt 2 failed: The card has insufficient funds."' })
  summary!: string;

  @Field(() => ID, { nullable: true })
  actorUserId!: string | null;

  @Field()
  at!: Date;

  static from(e: PaymentEvent): PaymentEventView {
    return Object.assign(new PaymentEventView(), { id: e.id, type: e.type, summary: e.summary, actorUserId: e.actorUserId, at: e.at });
  }
}

@InputType('TakePaymentInvoiceInput')
export class TakePaymentInvoiceInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'invoiceId must be an invoice id' })
  invoiceId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;
}

@InputType('TakePaymentInput')
export class TakePaymentInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => ID, { nullable: true, description: "A saved method of the customer's wallet (or give token)" })
  @IsOptional()
  @IsString()
  paymentMethodId?: string | null;

  @Field(() => String, { nullable: true, description: 'A one-off card or bank account tokenized by the gateway (or give paymentMethodId)' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  token?: string | null;

  @Field({ defaultValue: false, description: "With token: also save it to the customer's wallet (the customer is notified)" })
  @IsBoolean()
  saveToWallet: boolean = false;

  @Field({ defaultValue: false, description: 'With saveToWallet: the customer agreed to future charges on it' })
  @IsBoolean()
  consentGiven: boolean = false;

  @Field(() => PostalAddressInput, { nullable: true, description: 'With saveToWallet, when the customer has none on file' })
  @IsOptional()
  @ValidateNested()
  @Type(() => PostalAddressInput)
  billingAddress?: PostalAddressInput | null;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;

  @Field(() => [TakePaymentInvoiceInput], { defaultValue: [], description: 'What it pays; empty: on account. The rest of the amount is on account.' })
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => TakePaymentInvoiceInput)
  invoices: TakePaymentInvoiceInput[] = [];

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The client's idempotency key: sending the same request again answers the first one's result (replayed: true)",
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  idempotencyKey?: string | null;
}

@InputType('PaymentFilterInput')
export class PaymentFilterInput {
  @Field(() => [PaymentStatus], { nullable: true })
  @IsOptional()
  @IsArray()
  @IsEnum(PaymentStatus, { each: true })
  status?: PaymentStatus[] | null;

  @Field(() => PaymentMethodType, { nullable: true })
  @IsOptional()
  @IsEnum(PaymentMethodType)
  methodType?: PaymentMethodType | null;

  @Field(() => Date, { nullable: true, description: 'Created at or after' })
  @IsOptional()
  @IsDate()
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Created before' })
  @IsOptional()
  @IsDate()
  to?: Date | null;

  @Field(() => BigInt, { nullable: true, description: 'Minor units, at least' })
  @IsOptional()
  @Allow()
  amountMin?: bigint | null;

  @Field(() => BigInt, { nullable: true, description: 'Minor units, at most' })
  @IsOptional()
  @Allow()
  amountMax?: bigint | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;

  @Field(() => ID, { nullable: true, description: 'The staff member who took them' })
  @IsOptional()
  @IsUUID('all', { message: 'createdBy must be a user id' })
  createdBy?: string | null;

  @Field(() => PaymentPurpose, { nullable: true })
  @IsOptional()
  @IsEnum(PaymentPurpose)
  purpose?: PaymentPurpose | null;
}

@ArgsType()
export class PaymentsArgs extends PageArgs {
  @Field(() => PaymentFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PaymentFilterInput)
  filter?: PaymentFilterInput | null;
}
