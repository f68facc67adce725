import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { Allow, ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsDate, IsEnum, IsInt, IsOptional, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyInput, MoneyType } from '../../../graphql/scalars.js';
import { Channel } from '../../notifications/index.js';
import {
  type PaymentRequest,
  type PaymentRequestAttempt,
  PaymentRequestAttemptStatus,
  PaymentRequestPayMode,
  PaymentRequestReferenceType,
  PaymentRequestStatus,
} from '../domain/payment-request.entity.js';

/** The list filters of seed 003 ("Filter as needed"); several are OR-ed. */
export enum PaymentRequestFilterStatus {
  OPEN = 'OPEN',
  EXPIRED = 'EXPIRED',
  /** Paid and not consolidated yet. */
  COMPLETED = 'COMPLETED',
  /** Paid (consolidated or not) after more than one attempt: "Complete (1)". */
  COMPLETED_AFTER_RETRY = 'COMPLETED_AFTER_RETRY',
  CANCELLED = 'CANCELLED',
  CONSOLIDATED = 'CONSOLIDATED',
  /** Paid, and the creator has not marked it read. */
  UNREAD = 'UNREAD',
}
registerEnumType(PaymentRequestFilterStatus, { name: 'PaymentRequestFilterStatus' });

@ObjectType('PaymentRequestAttempt', { description: 'One try of the customer on the pay link (one payment each)' })
export class PaymentRequestAttemptView {
  @Field(() => Int)
  number!: number;

  @Field(() => PaymentRequestAttemptStatus)
  status!: PaymentRequestAttemptStatus;

  @Field(() => PaymentRequestPayMode, { description: 'In full by card, in full from a bank account, or in 4 installments' })
  mode!: PaymentRequestPayMode;

  @Field(() => ID, { nullable: true, description: 'The payment of this attempt (null when it was refused before any charge)' })
  paymentId!: string | null;

  @Field(() => String, { nullable: true, description: '"Visa ending in 4242"' })
  methodLabel!: string | null;

  @Field(() => String, { nullable: true, description: 'Why it did not go through, in words' })
  failureMessage!: string | null;

  @Field()
  startedAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  static from(a: PaymentRequestAttempt): PaymentRequestAttemptView {
    return Object.assign(new PaymentRequestAttemptView(), {
      number: a.number,
      status: a.status,
      mode: a.mode,
      paymentId: a.paymentId,
      methodLabel: a.methodLabel,
      failureMessage: a.failureMessage,
      startedAt: a.startedAt,
      finishedAt: a.finishedAt,
    });
  }
}

@ObjectType('PaymentRequest', { description: 'A payment requested from a customer by email and/or SMS, with a secure pay link' })
export class PaymentRequestView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true, description: 'Invoice number, contract number or opportunity id' })
  reference!: string | null;

  @Field(() => PaymentRequestReferenceType)
  referenceType!: PaymentRequestReferenceType;

  @Field(() => ID, { nullable: true, description: 'The invoice a successful payment is allocated to' })
  invoiceId!: string | null;

  @Field(() => [Channel])
  channels!: Channel[];

  @Field(() => String, { nullable: true })
  sentToEmail!: string | null;

  @Field(() => String, { nullable: true })
  sentToPhone!: string | null;

  @Field(() => Int, { description: 'How many times the link was sent' })
  sendCount!: number;

  @Field(() => PaymentRequestStatus, { description: 'As of now: an open request past its expiry is EXPIRED' })
  status!: PaymentRequestStatus;

  @Field()
  expiresAt!: Date;

  @Field(() => Int, { description: 'Charges tried on the link (more than 1 when paid: completed after retry)' })
  attemptCount!: number;

  @Field({ description: 'Paid after more than one attempt ("Complete (1)" in seed 003)' })
  completedAfterRetry!: boolean;

  @Field(() => String, { nullable: true, description: 'Why the last attempt did not go through' })
  lastFailureMessage!: string | null;

  @Field(() => ID, { nullable: true, description: 'The payment that completed it' })
  paymentId!: string | null;

  @Field(() => String, { nullable: true })
  methodLabel!: string | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  cancelledAt!: Date | null;

  @Field(() => ID, { nullable: true })
  cancelledBy!: string | null;

  @Field(() => Date, { nullable: true })
  consolidatedAt!: Date | null;

  @Field(() => ID, { nullable: true })
  consolidatedBy!: string | null;

  @Field({ description: "Paid and not yet marked read by its creator (the creator's notice)" })
  unread!: boolean;

  @Field(() => Date, { nullable: true })
  readAt!: Date | null;

  @Field(() => ID)
  createdBy!: string;

  @Field()
  createdAt!: Date;

  @Field(() => ID, { nullable: true, description: 'The expired or cancelled request this one re-creates' })
  recreatedFromId!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Paid in 4: the Invoicing installment plan (over invoiceId) that charges the rest; completed once its first installment was paid',
  })
  installmentPlanId!: string | null;

  @Field({ description: 'A bank debit is processing: the bank confirms it in a few days (the request does not expire meanwhile)' })
  bankDebitPending!: boolean;

  static from(r: PaymentRequest, now: Date, locale: string): PaymentRequestView {
    const paid = r.status === PaymentRequestStatus.COMPLETED || r.status === PaymentRequestStatus.CONSOLIDATED;
    return Object.assign(new PaymentRequestView(), {
      id: r.id,
      customerId: r.customerId,
      amount: MoneyType.from(r.money(), locale),
      description: r.description,
      reference: r.reference,
      referenceType: r.referenceType,
      invoiceId: r.invoiceId,
      channels: r.channels as Channel[],
      sentToEmail: r.sentToEmail,
      sentToPhone: r.sentToPhone,
      sendCount: r.sendCount,
      status: r.statusAt(now),
      expiresAt: r.expiresAt,
      attemptCount: r.attemptCount,
      completedAfterRetry: paid && r.attemptCount > 1,
      lastFailureMessage: r.lastFailureMessage,
      paymentId: r.paymentId,
      methodLabel: r.methodLabel,
      completedAt: r.completedAt,
      cancelledAt: r.cancelledAt,
      cancelledBy: r.cancelledBy,
      consolidatedAt: r.consolidatedAt,
      consolidatedBy: r.consolidatedBy,
      unread: paid && r.readAt === null,
      readAt: r.readAt,
      createdBy: r.createdBy,
      createdAt: r.createdAt,
      recreatedFromId: r.recreatedFromId,
      installmentPlanId: r.installmentPlanId,
      bankDebitPending: r.bankDebitPendingSince !== null,
    });
  }
}

@ObjectType('PaymentRequestConnection')
export class PaymentRequestConnection extends ConnectionType(PaymentRequestView, 'PaymentRequest') {}

@InputType()
export class CreatePaymentRequestInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;

  @Field({ description: 'What it is for, shown to the customer (e.g. "Deposit on the 2024 Lund 1875")' })
  @IsString()
  @MaxLength(500, { message: 'description must be at most 500 characters' })
  description!: string;

  @Field(() => String, { nullable: true, description: 'Invoice number, contract number or opportunity id (the invoice number when invoiceId is given)' })
  @IsOptional()
  @IsString()
  @MaxLength(120, { message: 'reference must be at most 120 characters' })
  reference?: string | null;

  @Field(() => PaymentRequestReferenceType, { nullable: true, description: 'What the reference names; INVOICE with invoiceId' })
  @IsOptional()
  @IsEnum(PaymentRequestReferenceType)
  referenceType?: PaymentRequestReferenceType | null;

  @Field(() => ID, { nullable: true, description: 'The invoice it pays: a successful payment is allocated to it' })
  @IsOptional()
  @IsUUID('all', { message: 'invoiceId must be an invoice id' })
  invoiceId?: string | null;

  @Field(() => [Channel], { description: 'EMAIL, SMS or both' })
  @IsArray()
  @ArrayNotEmpty({ message: 'channels must name EMAIL, SMS or both' })
  @ArrayUnique({ message: 'channels must not repeat a channel' })
  @IsEnum(Channel, { each: true, message: 'channels must be EMAIL or SMS' })
  channels!: Channel[];
}

@InputType()
export class PaymentRequestFilterInput {
  @Field(() => [PaymentRequestFilterStatus], { nullable: true, description: 'Any of these' })
  @IsOptional()
  @IsArray()
  @IsEnum(PaymentRequestFilterStatus, { each: true })
  status?: PaymentRequestFilterStatus[] | null;

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

  @Field(() => ID, { nullable: true, description: 'The staff member who sent them' })
  @IsOptional()
  @IsUUID('all', { message: 'createdBy must be a user id' })
  createdBy?: string | null;

  @Field(() => String, { nullable: true, description: 'The reference contains this (case-insensitive)' })
  @IsOptional()
  @IsString()
  @MaxLength(120)
  reference?: string | null;
}

@ArgsType()
export class PaymentRequestsArgs extends PageArgs {
  @Field(() => PaymentRequestFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PaymentRequestFilterInput)
  filter?: PaymentRequestFilterInput | null;
}

@InputType()
export class UpdatePaymentRequestSettingsInput {
  @Field(() => Int, { nullable: true, description: 'How long a pay link stays open, in hours (1 to 720; 24 by default)' })
  @IsOptional()
  @IsInt({ message: 'ttlHours must be a whole number of hours' })
  ttlHours?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Offer "Pay in 4" (monthly installments through installment plans) on the pay page' })
  @IsOptional()
  @IsBoolean()
  installmentsEnabled?: boolean | null;
}

@ObjectType('PaymentRequestSettings')
export class PaymentRequestSettingsView {
  @Field(() => Int, { description: 'How long a pay link stays open, in hours' })
  ttlHours!: number;

  @Field({ description: 'The pay page offers "Pay in 4": 4 equal monthly installments, the first charged at once (off by default)' })
  installmentsEnabled!: boolean;
}
