import { ArgsType, Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { IsOptional, IsUUID } from 'class-validator';
import { Money } from '#libs/money/index.js';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import type { Receipt } from '../domain/receipt.entity.js';

@ObjectType('ReceiptLine', { description: 'An invoice the payment paid, and how much of it, when the receipt was issued' })
export class ReceiptLineView {
  @Field(() => ID)
  invoiceId!: string;

  @Field({ description: 'INV-000123' })
  invoiceNumber!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;
}

@ObjectType('Receipt', {
  description:
    'The receipt of one payment received: numbered per organization (RCT-000001), emailed to the customer with a link ' +
    'to its PDF, downloadable by staff at downloadUrl. What it shows is a snapshot taken when it was issued.',
})
export class ReceiptView {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'RCT-000123' })
  number!: string;

  @Field(() => ID, { description: 'The payment received (ReceivedPayment id)' })
  paymentId!: string;

  @Field(() => ID)
  customerId!: string;

  @Field()
  customerName!: string;

  @Field(() => String, { nullable: true, description: 'The email address on the customer record when it was issued' })
  customerEmail!: string | null;

  @Field({ description: 'The organization name printed on it' })
  organizationName!: string;

  @Field(() => MoneyType, { description: 'What the customer paid' })
  amount!: MoneyType;

  @Field(() => MoneyType, { description: 'Applied to invoices (the sum of appliedTo)' })
  amountApplied!: MoneyType;

  @Field(() => MoneyType, { description: 'Held as account credit' })
  amountCredited!: MoneyType;

  @Field(() => MoneyType, { description: 'Not yet applied to an invoice when the receipt was issued' })
  amountUnapplied!: MoneyType;

  @Field(() => [ReceiptLineView])
  appliedTo!: ReceiptLineView[];

  @Field({ description: 'For people: "Visa ending in 4242", "Cheque", "Cash"' })
  paymentMethod!: string;

  @Field(() => String, { nullable: true, description: 'Card brand or bank account type, for saved methods' })
  paymentMethodBrand!: string | null;

  @Field(() => String, { nullable: true })
  paymentMethodLast4!: string | null;

  @Field(() => String, { nullable: true, description: 'Cheque number, transfer reference' })
  paymentReference!: string | null;

  @Field()
  receivedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was last queued to the customer by email; null if never (no email address)' })
  lastEmailedAt!: Date | null;

  @Field(() => Int, { description: 'How many times it was emailed (1 with the payment, +1 per resend)' })
  emailCount!: number;

  @Field({ description: "Until when the link in the customer's email works (a resend extends it)" })
  customerLinkExpiresAt!: Date;

  @Field({ description: 'The PDF, for staff: GET it with the access token as a Bearer token' })
  downloadUrl!: string;

  @Field()
  createdAt!: Date;

  static from(r: Receipt, locale: string, downloadUrl: string): ReceiptView {
    const money = (minor: bigint) => MoneyType.from(Money.of(minor, r.currency), locale);
    return Object.assign(new ReceiptView(), {
      id: r.id,
      number: r.number,
      paymentId: r.paymentId,
      customerId: r.customerId,
      customerName: r.customerName,
      customerEmail: r.customerEmail,
      organizationName: r.organizationName,
      amount: money(r.amount),
      amountApplied: money(r.amountApplied),
      amountCredited: money(r.amountCredited),
      amountUnapplied: money(r.unapplied().amount),
      appliedTo: r.appliedTo.map((l) =>
        Object.assign(new ReceiptLineView(), { invoiceId: l.invoiceId, invoiceNumber: l.invoiceNumber, amount: money(BigInt(l.amount)) }),
      ),
      paymentMethod: r.methodLabel,
      paymentMethodBrand: r.methodBrand,
      paymentMethodLast4: r.methodLast4,
      paymentReference: r.paymentReference,
      receivedAt: r.receivedAt,
      lastEmailedAt: r.lastEmailedAt,
      emailCount: r.emailCount,
      customerLinkExpiresAt: r.linkExpiresAt,
      downloadUrl,
      createdAt: r.createdAt,
    });
  }
}

export const ReceiptConnection = ConnectionType(ReceiptView, 'Receipt');

@ArgsType()
export class ReceiptsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: "Only this customer's receipts" })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;
}
