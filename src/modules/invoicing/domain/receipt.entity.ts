import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** Printed numbers: RCT-000123. The digits grow past six when they must. */
export function receiptNumber(sequence: bigint): string {
  return `RCT-${sequence.toString().padStart(6, '0')}`;
}

/** One invoice the payment paid, as it stood when the receipt was issued. Amounts in minor units, as strings. */
export interface ReceiptLine {
  invoiceId: string;
  invoiceNumber: string;
  amount: string;
}

/**
 * The receipt of one payment received (ReceivedPayment): numbered per organization without gaps (the counter row is
 * taken in the issuing transaction, like invoice numbers), one per payment (unique payment_id). Everything a person
 * reads on it is a snapshot taken when it was issued — the organization's and the customer's names, the method,
 * what it paid — so the document stays the same when those change later.
 *
 * The customer's download link is HMAC(receipt id) under a key derived from JWT_SECRET (SealedLinks): only its
 * SHA-256 is stored (`linkTokenHash`), to find the receipt from the link. It works until `linkExpiresAt`, which every
 * email carrying the link moves forward.
 */
@Entity({ tableName: 'receipt' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'number'] })
@Unique({ properties: ['paymentId'] })
@Unique({ properties: ['linkTokenHash'] })
@Index({ properties: ['organizationId', 'customerId', 'receivedAt', 'id'] })
@Index({ properties: ['organizationId', 'receivedAt', 'id'] })
@Check({
  name: 'receipt_amounts_within_amount',
  expression: '"amount" > 0 and "amount_applied" >= 0 and "amount_credited" >= 0 and "amount_applied" + "amount_credited" <= "amount"',
})
export class Receipt extends TenantEntity {
  /** RCT-000123. */
  @Property({ type: 'text' })
  number!: string;

  @Property({ type: new BigIntType('bigint') })
  sequence!: bigint;

  /** The ReceivedPayment (its id is the payment's id). */
  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  /** What the customer paid. */
  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  /** Applied to invoices (the sum of `appliedTo`) when the receipt was issued. */
  @Property({ type: new BigIntType('bigint') })
  amountApplied: bigint = 0n;

  /** Turned into account credit when the receipt was issued. */
  @Property({ type: new BigIntType('bigint') })
  amountCredited: bigint = 0n;

  /** For people: "Visa ending in 4242", "Cheque", "Cash". */
  @Property({ type: 'text' })
  methodLabel!: string;

  /** The card brand or bank ("Visa"), when the method is a saved card or bank account. */
  @Property({ type: 'text', nullable: true })
  methodBrand: string | null = null;

  @Property({ type: 'string', columnType: 'varchar(4)', nullable: true })
  methodLast4: string | null = null;

  /** Cheque number, transfer reference. */
  @Property({ type: 'text', nullable: true })
  paymentReference: string | null = null;

  @Property({ type: 'timestamptz' })
  receivedAt!: Date;

  /** The invoices it paid and how much of each, when issued. */
  @Property({ type: 'jsonb' })
  appliedTo: ReceiptLine[] = [];

  @Property({ type: 'text' })
  organizationName!: string;

  @Property({ type: 'text' })
  customerName!: string;

  @Property({ type: 'text', nullable: true })
  customerEmail: string | null = null;

  /** SHA-256 (hex) of the customer's link token. */
  @Property({ type: 'text' })
  linkTokenHash!: string;

  @Property({ type: 'timestamptz' })
  linkExpiresAt!: Date;

  /** The last time it was queued to the customer by email; null when it never was (no email address). */
  @Property({ type: 'timestamptz', nullable: true })
  lastEmailedAt: Date | null = null;

  /** How many times it was queued by email (1 with the payment, +1 per resend). */
  @Property({ type: 'int' })
  emailCount: number = 0;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }

  /** Neither applied to an invoice nor held as account credit when issued. */
  unapplied(): Money {
    return this.money(this.amount - this.amountApplied - this.amountCredited);
  }
}

/**
 * The next receipt number of an organization, taken with one `INSERT … ON CONFLICT DO UPDATE … RETURNING` in the
 * issuing transaction (see ReceiptIssuer): the row stays locked until it ends, so numbers have no gaps and no
 * duplicates.
 */
@Entity({ tableName: 'receipt_number_counter' })
@TenantScoped()
export class ReceiptNumberCounter {
  @PrimaryKey({ type: 'uuid' })
  organizationId!: string;

  @Property({ type: new BigIntType('bigint'), fieldName: 'next' })
  next!: bigint;
}

/** Receipts (entities listed in ../entities.ts). */
export const RECEIPT_ENTITIES: (abstract new (...args: never[]) => object)[] = [Receipt, ReceiptNumberCounter];
