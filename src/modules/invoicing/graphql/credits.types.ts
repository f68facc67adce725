import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsBoolean, IsEnum, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyInput, MoneyType } from '../../../graphql/scalars.js';
import { MAX_REASON } from '../application/reconciliation-ledger.js';
import { CreditKind, type Credit, type CreditApplication } from '../domain/credit.entity.js';

@ObjectType('CreditApplication', { description: 'Part of a credit applied to an invoice' })
export class CreditApplicationView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  creditId!: string;

  @Field(() => ID)
  invoiceId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field({ description: 'When it was applied' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Set when the credit was cancelled: the application no longer counts' })
  reversedAt!: Date | null;

  static from(a: CreditApplication, locale: string): CreditApplicationView {
    return Object.assign(new CreditApplicationView(), {
      id: a.id,
      creditId: a.creditId,
      invoiceId: a.invoiceId,
      amount: MoneyType.from(Money.of(a.amount, a.currency), locale),
      createdBy: a.createdBy,
      createdAt: a.createdAt,
      reversedAt: a.reversedAt,
    });
  }
}

@ObjectType('Credit', {
  description: 'An amount in the customer’s favour: a credit note against an invoice (REFUND, ADJUSTMENT) or account credit (GOODWILL, OVERPAYMENT)',
})
export class CreditView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => ID, { nullable: true, description: 'The invoice a credit note is against; null for account credit' })
  invoiceId!: string | null;

  @Field(() => CreditKind)
  kind!: CreditKind;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'Not yet applied to an invoice' })
  remaining!: MoneyType;

  @Field()
  reason!: string;

  @Field(() => ID, { nullable: true, description: 'OVERPAYMENT: the payment it came from' })
  sourcePaymentId!: string | null;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Cancelled because its payment was reversed' })
  cancelledAt!: Date | null;

  static from(c: Credit, locale: string): CreditView {
    const m = (minor: bigint) => MoneyType.from(c.money(minor), locale);
    return Object.assign(new CreditView(), {
      id: c.id,
      customerId: c.customerId,
      invoiceId: c.invoiceId,
      kind: c.kind,
      amount: m(c.amount),
      remaining: m(c.remaining),
      reason: c.reason,
      sourcePaymentId: c.sourcePaymentId,
      createdBy: c.createdBy,
      createdAt: c.createdAt,
      cancelledAt: c.cancelledAt,
    });
  }
}

export const CreditConnection = ConnectionType(CreditView, 'Credit');

@ObjectType('InvoiceCredit', { description: 'A credit application in force on an invoice, with the credit it came from' })
export class InvoiceCreditView {
  @Field(() => ID, { description: 'The application' })
  id!: string;

  @Field(() => ID)
  creditId!: string;

  @Field(() => CreditKind)
  kind!: CreditKind;

  @Field(() => MoneyType, { description: 'What of the credit went to this invoice' })
  amount!: MoneyType;

  @Field()
  reason!: string;

  @Field({ description: 'When it was applied' })
  appliedAt!: Date;
}

@InputType()
export class CreateCreditNoteInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'invoiceId must be an invoice id' })
  invoiceId!: string;

  @Field(() => CreditKind, { description: 'REFUND or ADJUSTMENT' })
  @IsEnum(CreditKind)
  kind!: CreditKind;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;

  @Field()
  @IsString()
  @MaxLength(MAX_REASON)
  reason!: string;
}

@InputType()
export class CreateAccountCreditInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;

  @Field()
  @IsString()
  @MaxLength(MAX_REASON)
  reason!: string;
}

@InputType()
export class ApplyCreditInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'creditId must be a credit id' })
  creditId!: string;

  @Field(() => ID)
  @IsUUID('all', { message: 'invoiceId must be an invoice id' })
  invoiceId!: string;

  @Field(() => MoneyInput)
  @ValidateNested()
  @Type(() => MoneyInput)
  amount!: MoneyInput;
}

@ArgsType()
export class CreditsArgs extends PageArgs {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field({ defaultValue: false, description: 'Also list credits used up or cancelled' })
  @IsBoolean()
  includeSpent: boolean = false;
}
