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
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { Money } from '#libs/money/index.js';
import { PageArgs, ConnectionType } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { IsBigIntInRange } from '../../../graphql/validators.js';
import { MAX_DESCRIPTION, MAX_LINES, MAX_MEMO, MAX_TERMS_DAYS, type InvoiceLineCommand } from '../application/invoices.use-case.js';
import type { CustomerBalance } from '../application/customer-balances.js';
import { daysBetween } from '../domain/calendar.js';
import type { InvoiceLine } from '../domain/invoice-line.entity.js';
import { formatThousandths, MAX_UNIT_PRICE } from '../domain/invoice-math.js';
import { BilledRefType, Invoice, InvoiceStatus } from '../domain/invoice.entity.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

@ObjectType('BilledRef', { description: 'What an invoice bills: a work order, an agreement period, an opportunity, or nothing in particular' })
export class BilledRefView {
  @Field(() => BilledRefType)
  type!: BilledRefType;

  @Field(() => ID, { nullable: true })
  id!: string | null;

  @Field(() => String, { nullable: true, description: 'How it reads on the invoice, e.g. "Work order #1042"' })
  label!: string | null;
}

@ObjectType('InvoiceLine')
export class InvoiceLineView {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: '0, 1, 2, … in the order given' })
  position!: number;

  @Field()
  description!: string;

  @Field({ description: 'Decimal quantity with at most 3 places, e.g. "1.5"' })
  quantity!: string;

  @Field(() => MoneyType)
  unitPrice!: MoneyType;

  @Field(() => String, { nullable: true, description: 'Tax rate in percent with at most 3 places, e.g. "14.975"; null: no tax' })
  taxRate!: string | null;

  @Field(() => MoneyType, { description: 'round(unit price × quantity), half up' })
  subtotal!: MoneyType;

  @Field(() => MoneyType, { description: 'round(line subtotal × rate), half up' })
  tax!: MoneyType;

  @Field(() => MoneyType)
  total!: MoneyType;

  static from(line: InvoiceLine, currency: string, locale: string): InvoiceLineView {
    const m = (minor: bigint) => MoneyType.from(Money.of(minor, currency), locale);
    return Object.assign(new InvoiceLineView(), {
      id: line.id,
      position: line.position,
      description: line.description,
      quantity: formatThousandths(line.quantity),
      unitPrice: m(line.unitPrice),
      taxRate: line.taxRate === null ? null : formatThousandths(line.taxRate),
      subtotal: m(line.subtotal),
      tax: m(line.tax),
      total: m(line.total),
    });
  }
}

@ObjectType('Invoice')
export class InvoiceView {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'INV-000123, assigned when issued; null for a draft' })
  number!: string | null;

  @Field(() => InvoiceStatus)
  status!: InvoiceStatus;

  @Field(() => ID)
  customerId!: string;

  @Field({ description: "ISO 4217: the organization's currency when the invoice was created" })
  currency!: string;

  @Field(() => MoneyType)
  subtotal!: MoneyType;

  @Field(() => MoneyType)
  tax!: MoneyType;

  @Field(() => MoneyType)
  total!: MoneyType;

  @Field(() => MoneyType, { description: 'Payments allocated to it' })
  amountPaid!: MoneyType;

  @Field(() => MoneyType, { description: 'Credits applied to it' })
  amountCredited!: MoneyType;

  @Field(() => MoneyType, { description: 'Still owed: total − paid − credited (zero for drafts and void invoices)' })
  amountDue!: MoneyType;

  @Field(() => String, { nullable: true, description: "YYYY-MM-DD in the organization's time zone" })
  issueDate!: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD' })
  dueDate!: string | null;

  @Field(() => Int, { description: 'Days from issue to due when no due date was given' })
  paymentTermsDays!: number;

  @Field(() => Int, { description: 'Days past the due date while something is owed; 0 otherwise' })
  daysOverdue!: number;

  @Field(() => BilledRefView)
  billedRef!: BilledRefView;

  @Field(() => String, { nullable: true })
  memo!: string | null;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  issuedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  paidAt!: Date | null;

  @Field(() => Date, { nullable: true })
  voidedAt!: Date | null;

  @Field(() => String, { nullable: true })
  voidReason!: string | null;

  static from(invoice: Invoice, locale: string, today: string): InvoiceView {
    const m = (minor: bigint) => MoneyType.from(invoice.money(minor), locale);
    const due = invoice.amountDue();
    const overdue = due.isPositive() && invoice.dueDate !== null && invoice.dueDate < today ? daysBetween(invoice.dueDate, today) : 0;
    return Object.assign(new InvoiceView(), {
      id: invoice.id,
      number: invoice.number,
      status: invoice.status,
      customerId: invoice.customerId,
      currency: invoice.currency,
      subtotal: m(invoice.subtotal),
      tax: m(invoice.tax),
      total: m(invoice.total),
      amountPaid: m(invoice.amountPaid),
      amountCredited: m(invoice.amountCredited),
      amountDue: MoneyType.from(due, locale),
      issueDate: invoice.issueDate,
      dueDate: invoice.dueDate,
      paymentTermsDays: invoice.paymentTermsDays,
      daysOverdue: overdue,
      billedRef: Object.assign(new BilledRefView(), { type: invoice.billedRefType, id: invoice.billedRefId, label: invoice.billedRefLabel }),
      memo: invoice.memo,
      createdBy: invoice.createdBy,
      createdAt: invoice.createdAt,
      issuedAt: invoice.issuedAt,
      paidAt: invoice.paidAt,
      voidedAt: invoice.voidedAt,
      voidReason: invoice.voidReason,
    });
  }
}

export const InvoiceConnection = ConnectionType(InvoiceView, 'Invoice');

@ObjectType('CustomerBalance', { description: 'What a customer owes and has in their favour' })
export class CustomerBalanceView {
  @Field(() => MoneyType, { description: 'Σ over issued, unpaid invoices of total − payments − credits applied' })
  owed!: MoneyType;

  @Field(() => MoneyType, { description: 'The part of it past its due date' })
  overdue!: MoneyType;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD: earliest due date among unpaid invoices' })
  oldestUnpaidDueDate!: string | null;

  @Field(() => Int)
  unpaidInvoices!: number;

  @Field(() => MoneyType, { description: 'Account credit and credit notes not yet applied to an invoice' })
  creditAvailable!: MoneyType;

  @Field(() => MoneyType, { description: 'Payments received and not yet allocated to invoices (to reconcile)' })
  unallocatedPayments!: MoneyType;

  static from(b: CustomerBalance, locale: string): CustomerBalanceView {
    return Object.assign(new CustomerBalanceView(), {
      owed: MoneyType.from(b.owed, locale),
      overdue: MoneyType.from(b.overdue, locale),
      oldestUnpaidDueDate: b.oldestUnpaidDueDate,
      unpaidInvoices: b.unpaidInvoices,
      creditAvailable: MoneyType.from(b.creditAvailable, locale),
      unallocatedPayments: MoneyType.from(b.unallocatedPayments, locale),
    });
  }
}

// Lines, quantities, rates and dates are checked by the use case (all problems at once, with their field paths); the
// input types only check shapes.
@InputType()
export class InvoiceLineInput implements InvoiceLineCommand {
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
export class BilledRefInput {
  @Field(() => BilledRefType)
  @IsEnum(BilledRefType)
  type!: BilledRefType;

  @Field(() => ID, { nullable: true, description: 'The work order, agreement period or opportunity' })
  @IsOptional()
  @IsUUID('all', { message: 'billedRef.id must be a UUID' })
  id?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_DESCRIPTION)
  label?: string | null;
}

@InputType()
export class UpdateInvoiceDraftInput {
  @Field(() => [InvoiceLineInput], { nullable: true, description: 'Replaces every line' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_LINES, { message: `at most ${MAX_LINES} lines` })
  @ValidateNested({ each: true })
  @Type(() => InvoiceLineInput)
  lines?: InvoiceLineInput[];

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD; else the issue date plus paymentTermsDays' })
  @IsOptional()
  @IsString()
  dueDate?: string | null;

  @Field(() => Int, { nullable: true, description: 'Net days (default 30)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_TERMS_DAYS)
  paymentTermsDays?: number | null;

  @Field(() => BilledRefInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => BilledRefInput)
  billedRef?: BilledRefInput | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_MEMO)
  memo?: string | null;
}

@InputType()
export class CreateInvoiceInput extends UpdateInvoiceDraftInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => [InvoiceLineInput])
  @IsArray()
  @ArrayMaxSize(MAX_LINES, { message: `at most ${MAX_LINES} lines` })
  @ValidateNested({ each: true })
  @Type(() => InvoiceLineInput)
  declare lines: InvoiceLineInput[];

  @Field({ defaultValue: false, description: 'Issue it at once (numbered, immutable) instead of keeping a draft' })
  @IsBoolean()
  issue: boolean = false;
}

@InputType()
export class InvoiceFilterInput {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;

  @Field(() => [InvoiceStatus], { nullable: true, description: 'Any of these statuses' })
  @IsOptional()
  @IsEnum(InvoiceStatus, { each: true })
  status?: InvoiceStatus[] | null;

  @Field(() => String, { nullable: true, description: 'Issued on or after (YYYY-MM-DD)' })
  @IsOptional()
  @Matches(DATE, { message: 'issuedFrom must be a date as YYYY-MM-DD' })
  issuedFrom?: string | null;

  @Field(() => String, { nullable: true, description: 'Issued on or before (YYYY-MM-DD)' })
  @IsOptional()
  @Matches(DATE, { message: 'issuedTo must be a date as YYYY-MM-DD' })
  issuedTo?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'true: unpaid and past due' })
  @IsOptional()
  @IsBoolean()
  overdue?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Exact number, e.g. INV-000123' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  number?: string | null;
}

@ArgsType()
export class InvoicesArgs extends PageArgs {
  @Field(() => InvoiceFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => InvoiceFilterInput)
  filter?: InvoiceFilterInput | null;
}
