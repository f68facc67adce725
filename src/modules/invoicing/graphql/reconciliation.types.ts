import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsEnum, IsOptional, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyInput, MoneyType } from '../../../graphql/scalars.js';
import { Money } from '#libs/money/index.js';
import { MAX_ALLOCATIONS } from '../application/reconciliation-ledger.js';
import { CreditView } from './credits.types.js';
import { MAX_REFERENCE } from '../application/reconciliation.use-case.js';
import {
  OfflinePaymentMethod,
  PaymentSource,
  ReceivedPaymentStatus,
  type PaymentAllocation,
  type ReceivedPayment,
} from '../domain/received-payment.entity.js';


@ObjectType('PaymentAllocation', { description: 'Part of a received payment allocated to an invoice' })
export class PaymentAllocationView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  paymentId!: string;

  @Field(() => ID)
  invoiceId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => ID, { nullable: true, description: 'Who allocated it; null when Payments allocated it with the payment' })
  createdBy!: string | null;

  @Field({ description: 'When it was allocated' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Set when the payment was reversed: the allocation no longer counts' })
  reversedAt!: Date | null;

  static from(a: PaymentAllocation, locale: string): PaymentAllocationView {
    return Object.assign(new PaymentAllocationView(), {
      id: a.id,
      paymentId: a.paymentId,
      invoiceId: a.invoiceId,
      amount: MoneyType.from(Money.of(a.amount, a.currency), locale),
      createdBy: a.createdBy,
      createdAt: a.createdAt,
      reversedAt: a.reversedAt,
    });
  }
}

@ObjectType('ReceivedPayment', { description: 'Money received from a customer, and how much of it is reconciled with invoices' })
export class ReceivedPaymentView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => PaymentSource)
  source!: PaymentSource;

  @Field({ description: 'CASH, CHEQUE, BANK_TRANSFER, OTHER, or e.g. "Visa ending in 4242"' })
  method!: string;

  @Field(() => String, { nullable: true, description: 'Cheque number, transfer reference' })
  reference!: string | null;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'Allocated to invoices (allocations in force)' })
  amountAllocated!: MoneyType;

  @Field(() => MoneyType, { description: 'Turned into account credit' })
  amountCredited!: MoneyType;

  @Field(() => MoneyType, { description: 'Neither allocated nor credited: what is left to reconcile' })
  unallocated!: MoneyType;

  @Field(() => ReceivedPaymentStatus)
  status!: ReceivedPaymentStatus;

  @Field()
  receivedAt!: Date;

  @Field(() => ID, { nullable: true, description: 'The staff member who recorded an offline payment' })
  recordedBy!: string | null;

  @Field(() => Date, { nullable: true })
  reversedAt!: Date | null;

  @Field(() => String, { nullable: true })
  reversalReason!: string | null;

  @Field()
  createdAt!: Date;

  static from(p: ReceivedPayment, locale: string): ReceivedPaymentView {
    const m = (minor: bigint) => MoneyType.from(p.money(minor), locale);
    return Object.assign(new ReceivedPaymentView(), {
      id: p.id,
      customerId: p.customerId,
      source: p.source,
      method: p.method,
      reference: p.reference,
      amount: m(p.amount),
      amountAllocated: m(p.amountAllocated),
      amountCredited: m(p.amountCredited),
      unallocated: MoneyType.from(p.unallocated(), locale),
      status: p.status,
      receivedAt: p.receivedAt,
      recordedBy: p.recordedBy,
      reversedAt: p.reversedAt,
      reversalReason: p.reversalReason,
      createdAt: p.createdAt,
    });
  }
}

export const ReceivedPaymentConnection = ConnectionType(ReceivedPaymentView, 'ReceivedPayment');

@ObjectType('InvoicePayment', { description: 'A payment allocation in force on an invoice, with the payment it came from' })
export class InvoicePaymentView {
  @Field(() => ID, { description: 'The allocation' })
  id!: string;

  @Field(() => ID)
  paymentId!: string;

  @Field(() => MoneyType, { description: 'What of the payment went to this invoice' })
  amount!: MoneyType;

  @Field({ description: 'When it was allocated' })
  allocatedAt!: Date;

  @Field()
  receivedAt!: Date;

  @Field(() => PaymentSource)
  source!: PaymentSource;

  @Field()
  method!: string;

  @Field(() => String, { nullable: true })
  reference!: string | null;
}

@InputType()
export class AllocationInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'invoiceId must be an invoice id' })
  invoiceId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;
}

@InputType()
export class RecordOfflinePaymentInput {
  @Field(() => ID, {
    nullable: true,
    description: 'A UUID the client chooses so that a retried request records the payment once; a new one when omitted',
  })
  @IsOptional()
  @IsUUID('all', { message: 'paymentId must be a UUID' })
  paymentId?: string | null;

  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;

  @Field(() => OfflinePaymentMethod)
  @IsEnum(OfflinePaymentMethod)
  method!: OfflinePaymentMethod;

  @Field(() => String, { nullable: true, description: 'Cheque number, transfer reference' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_REFERENCE)
  reference?: string | null;

  @Field(() => Date, { nullable: true, description: 'When the money was received; now when omitted' })
  @IsOptional()
  receivedAt?: Date | null;

  @Field(() => [AllocationInput], { nullable: true, description: 'Invoices it pays; without, it waits in the unreconciled list' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ALLOCATIONS)
  @ValidateNested({ each: true })
  @Type(() => AllocationInput)
  allocations?: AllocationInput[] | null;
}

@InputType()
export class AllocatePaymentInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'paymentId must be a payment id' })
  paymentId!: string;

  @Field(() => [AllocationInput], { description: 'Invoices of the payment’s customer and the amount to each' })
  @IsArray()
  @ArrayMaxSize(MAX_ALLOCATIONS)
  @ValidateNested({ each: true })
  @Type(() => AllocationInput)
  allocations!: AllocationInput[];

  @Field({ defaultValue: false, description: 'Turn what is left unallocated afterwards into account credit (OVERPAYMENT)' })
  @IsBoolean()
  creditRemainder: boolean = false;
}

@ArgsType()
export class UnreconciledPaymentsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only this customer’s' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;
}

@ArgsType()
export class ReceivedPaymentsArgs extends PageArgs {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;
}

@ObjectType('AllocatePaymentPayload')
export class AllocatePaymentPayload {
  @Field(() => ReceivedPaymentView)
  payment!: ReceivedPaymentView;

  @Field(() => [PaymentAllocationView], { description: 'The allocations just made' })
  allocations!: PaymentAllocationView[];

  @Field(() => CreditView, { nullable: true, description: 'The account credit made from the rest, with creditRemainder' })
  credit!: CreditView | null;
}

@ObjectType('CreditUnallocatedPaymentPayload')
export class CreditUnallocatedPaymentPayload {
  @Field(() => ReceivedPaymentView)
  payment!: ReceivedPaymentView;

  @Field(() => CreditView)
  credit!: CreditView;
}
