import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsEnum, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { CustomerFilterInput } from '../../customers/index.js';
import { MAX_LINES, MAX_MEMO, MAX_TERMS_DAYS } from '../application/invoices.use-case.js';
import { MAX_MASS_INVOICE_CUSTOMERS } from '../application/mass-invoices.use-case.js';
import type { MassInvoiceProgressEvent } from '../infrastructure/mass-invoice-progress.pubsub.js';
import { MassInvoiceBatch, MassInvoiceItem, MassInvoiceItemStatus, MassInvoiceStatus } from '../domain/mass-invoice.entity.js';
import { BilledRefInput, BilledRefView, InvoiceLineInput } from './invoice.types.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

@InputType({ description: 'The same invoice for every customer selected by a filter or listed' })
export class CreateMassInvoiceInput {
  @Field(() => CustomerFilterInput, { nullable: true, description: 'The customers the `customers` list shows for this filter (give this or customerIds)' })
  @IsOptional()
  @ValidateNested()
  @Type(() => CustomerFilterInput)
  filter?: CustomerFilterInput | null;

  @Field(() => [ID], { nullable: true, description: `These customers, in this order (at most ${MAX_MASS_INVOICE_CUSTOMERS})` })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'customerIds must list at least one customer' })
  @ArrayMaxSize(MAX_MASS_INVOICE_CUSTOMERS, { message: `customerIds: at most ${MAX_MASS_INVOICE_CUSTOMERS} customers per mass invoice` })
  @IsUUID('all', { each: true, message: 'customerIds must be customer ids' })
  customerIds?: string[] | null;

  @Field(() => [InvoiceLineInput])
  @IsArray()
  @ArrayMinSize(1, { message: 'lines: give at least one line' })
  @ArrayMaxSize(MAX_LINES, { message: `at most ${MAX_LINES} lines` })
  @ValidateNested({ each: true })
  @Type(() => InvoiceLineInput)
  lines!: InvoiceLineInput[];

  @Field({ description: 'true: issue every invoice (numbered, OPEN); false: leave them as drafts' })
  @IsBoolean()
  issue!: boolean;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD; else each invoice is due its issue date plus paymentTermsDays' })
  @IsOptional()
  @Matches(DATE, { message: 'dueDate must be a date as YYYY-MM-DD' })
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

@ObjectType('MassInvoiceLine')
export class MassInvoiceLineView {
  @Field()
  description!: string;

  @Field()
  quantity!: string;

  @Field(() => MoneyType)
  unitPrice!: MoneyType;

  @Field(() => String, { nullable: true })
  taxRate!: string | null;
}

/** Counters shared by the batch and its progress events. */
@ObjectType({ isAbstract: true })
abstract class MassInvoiceCounters {
  @Field(() => MassInvoiceStatus)
  status!: MassInvoiceStatus;

  @Field(() => Int, { description: 'Customers selected' })
  total!: number;

  @Field(() => Int, { description: 'Customers handled so far, whatever the outcome: invoiced + failed + skipped' })
  done!: number;

  @Field(() => Int)
  invoiced!: number;

  @Field(() => Int, { description: 'Refused (see the items with status FAILED and their error)' })
  failed!: number;

  @Field(() => Int, { description: 'Left out: archived customers, or the batch was cancelled' })
  skipped!: number;

  @Field(() => Int, { description: 'Still to do: total − done' })
  pending!: number;
}

@ObjectType('MassInvoiceProgress', { description: 'The counters of a mass invoice, as a subscription pushes them' })
export class MassInvoiceProgressView extends MassInvoiceCounters {
  @Field(() => ID)
  batchId!: string;

  static from(e: MassInvoiceProgressEvent): MassInvoiceProgressView {
    const done = e.invoiced + e.failed + e.skipped;
    return Object.assign(new MassInvoiceProgressView(), { ...e, done, pending: e.total - done });
  }
}

@ObjectType('MassInvoice', { description: 'One invoice per selected customer, created by a queued job; the final report once finished' })
export class MassInvoiceView extends MassInvoiceCounters {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Whether the invoices are issued or left as drafts' })
  issue!: boolean;

  @Field()
  currency!: string;

  @Field(() => [MassInvoiceLineView])
  lines!: MassInvoiceLineView[];

  @Field(() => String, { nullable: true })
  dueDate!: string | null;

  @Field(() => Int, { nullable: true })
  paymentTermsDays!: number | null;

  @Field(() => BilledRefView)
  billedRef!: BilledRefView;

  @Field(() => String, { nullable: true })
  memo!: string | null;

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

  static from(b: MassInvoiceBatch, locale: string): MassInvoiceView {
    return Object.assign(new MassInvoiceView(), {
      id: b.id,
      status: b.status,
      total: b.total,
      done: b.done,
      invoiced: b.invoiced,
      failed: b.failed,
      skipped: b.skipped,
      pending: b.total - b.done,
      issue: b.issue,
      currency: b.currency,
      lines: b.lines.map((l) =>
        Object.assign(new MassInvoiceLineView(), {
          description: l.description,
          quantity: l.quantity,
          unitPrice: MoneyType.from(Money.of(BigInt(l.unitPrice), b.currency), locale),
          taxRate: l.taxRate,
        }),
      ),
      dueDate: b.dueDate,
      paymentTermsDays: b.paymentTermsDays,
      billedRef: Object.assign(new BilledRefView(), { type: b.billedRefType, id: b.billedRefId, label: b.billedRefLabel }),
      memo: b.memo,
      selectedByFilter: b.customerFilter !== null,
      createdBy: b.createdBy,
      createdAt: b.createdAt,
      startedAt: b.startedAt,
      finishedAt: b.finishedAt,
    });
  }
}

export const MassInvoiceConnection = ConnectionType(MassInvoiceView, 'MassInvoice');

@ObjectType('MassInvoiceItem', { description: 'One customer of a mass invoice and what became of them' })
export class MassInvoiceItemView {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: 'Place in the selection: 0, 1, 2, …' })
  position!: number;

  @Field(() => ID)
  customerId!: string;

  @Field(() => MassInvoiceItemStatus)
  status!: MassInvoiceItemStatus;

  @Field(() => ID, { nullable: true, description: 'The invoice created for this customer' })
  invoiceId!: string | null;

  @Field(() => String, { nullable: true, description: 'Why it failed or was skipped, as a code (e.g. CUSTOMER_ARCHIVED, CANCELLED)' })
  errorCode!: string | null;

  @Field(() => String, { nullable: true, description: 'Why it failed or was skipped, for people' })
  error!: string | null;

  static from(i: MassInvoiceItem): MassInvoiceItemView {
    return Object.assign(new MassInvoiceItemView(), {
      id: i.id,
      position: i.position,
      customerId: i.customerId,
      status: i.status,
      invoiceId: i.invoiceId,
      errorCode: i.errorCode,
      error: i.error,
    });
  }
}

export const MassInvoiceItemConnection = ConnectionType(MassInvoiceItemView, 'MassInvoiceItem');

@ArgsType()
export class MassInvoiceItemsArgs extends PageArgs {
  @Field(() => [MassInvoiceItemStatus], { nullable: true, description: 'Any of these statuses (e.g. [FAILED, SKIPPED] for the report)' })
  @IsOptional()
  @IsArray()
  @IsEnum(MassInvoiceItemStatus, { each: true })
  status?: MassInvoiceItemStatus[] | null;
}
