import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum InvoiceStatus {
  /** Being prepared: editable, no number, owes nothing. */
  DRAFT = 'DRAFT',
  /** Issued: numbered and immutable; nothing paid or credited yet. */
  OPEN = 'OPEN',
  /** Issued, and part of it is settled by payments and/or credits. */
  PARTIALLY_PAID = 'PARTIALLY_PAID',
  /** Settled in full by payments and/or credits. */
  PAID = 'PAID',
  /** Cancelled. An issued invoice keeps its number; only an invoice with nothing paid or credited can be voided. */
  VOID = 'VOID',
}
registerEnumType(InvoiceStatus, { name: 'InvoiceStatus' });

/** Issued invoices that still owe something: what the customer's balance adds up. */
export const UNPAID_STATUSES: readonly InvoiceStatus[] = [InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID];

export enum BilledRefType {
  WORK_ORDER = 'WORK_ORDER',
  AGREEMENT_PERIOD = 'AGREEMENT_PERIOD',
  OPPORTUNITY = 'OPPORTUNITY',
  NONE = 'NONE',
}
registerEnumType(BilledRefType, { name: 'BilledRefType', description: 'What an invoice bills' });

/** Printed numbers: INV-000123. The digits grow past six when they must (INV-1000000). */
export function invoiceNumber(sequence: bigint): string {
  return `INV-${sequence.toString().padStart(6, '0')}`;
}

/**
 * An invoice to a customer, in the organization's currency. Amounts are integer minor units (bigint); the lines are
 * InvoiceLine rows and the totals here are their sums (invoice-math.ts). Once issued, nothing about what it bills
 * changes: amountPaid and amountCredited move as payments are allocated and credits applied, and the status follows
 * (OPEN -> PARTIALLY_PAID -> PAID). Corrections are credit notes.
 *
 * The number is assigned when the invoice is issued, from the organization's counter row in the issuing transaction,
 * so numbers have no gaps (a rolled-back issue returns its number) and no duplicates (the counter row serializes
 * issuers; the unique index is the backstop).
 */
@Entity({ tableName: 'invoice' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'number'] })
@Index({ properties: ['organizationId', 'customerId', 'status'] })
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
@Index({ properties: ['organizationId', 'issueDate'] })
@Index({
  name: 'invoice_unpaid_due_idx',
  expression:
    'create index "invoice_unpaid_due_idx" on "invoice" ("organization_id", "due_date") where "status" in (\'OPEN\', \'PARTIALLY_PAID\')',
})
// The backstop under the row locks: whatever a bug might try, an invoice is never settled beyond its total.
@Check({
  name: 'invoice_settled_within_total',
  expression: '"amount_paid" >= 0 and "amount_credited" >= 0 and "amount_paid" + "amount_credited" <= greatest("total", 0)',
})
export class Invoice extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** INV-000123; null while a draft (and for a draft that was voided). */
  @Property({ type: 'text', nullable: true })
  number: string | null = null;

  /** The number's sequence (123 for INV-000123), for ordering and search by number. */
  @Property({ type: new BigIntType('bigint'), nullable: true })
  sequence: bigint | null = null;

  @Enum({ items: () => InvoiceStatus, nativeEnumName: 'invoice_status' })
  status: InvoiceStatus = InvoiceStatus.DRAFT;

  /** The organization's currency when the invoice was created; every amount on it is in this currency. */
  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  subtotal: bigint = 0n;

  @Property({ type: new BigIntType('bigint') })
  tax: bigint = 0n;

  @Property({ type: new BigIntType('bigint') })
  total: bigint = 0n;

  /** Sum of the payment allocations in force (reversed ones excluded). */
  @Property({ type: new BigIntType('bigint') })
  amountPaid: bigint = 0n;

  /** Sum of the credit applications in force. */
  @Property({ type: new BigIntType('bigint') })
  amountCredited: bigint = 0n;

  /** YYYY-MM-DD in the organization's time zone; set when issued. */
  @Property({ type: 'date', nullable: true })
  issueDate: string | null = null;

  /** YYYY-MM-DD. A draft may carry one; otherwise the issue date plus paymentTermsDays. */
  @Property({ type: 'date', nullable: true })
  dueDate: string | null = null;

  /** Days from issue to due when no due date is given (net 30 by default). */
  @Property({ type: 'smallint', default: 30 })
  paymentTermsDays: number = 30;

  @Enum({ items: () => BilledRefType, nativeEnumName: 'billed_ref_type', default: BilledRefType.NONE })
  billedRefType: BilledRefType = BilledRefType.NONE;

  /** The work order, agreement period or opportunity billed (owned by another module; not checked here). */
  @Property({ type: 'uuid', nullable: true })
  billedRefId: string | null = null;

  /** How it reads on the invoice, e.g. "Work order #1042" or "Pool maintenance, June 2026". */
  @Property({ type: 'text', nullable: true })
  billedRefLabel: string | null = null;

  @Property({ type: 'text', nullable: true })
  memo: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  issuedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  issuedBy: string | null = null;

  /** When the invoice last became PAID. */
  @Property({ type: 'timestamptz', nullable: true })
  paidAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  voidedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  voidedBy: string | null = null;

  @Property({ type: 'text', nullable: true })
  voidReason: string | null = null;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }

  /** What is still owed: total − payments − credits (zero for drafts and voided invoices). */
  amountDue(): Money {
    if (this.status === InvoiceStatus.DRAFT || this.status === InvoiceStatus.VOID) return Money.zero(this.currency);
    return this.money(this.total - this.amountPaid - this.amountCredited);
  }

  isIssued(): boolean {
    return this.status !== InvoiceStatus.DRAFT && !(this.status === InvoiceStatus.VOID && this.number === null);
  }

  /** How people refer to it: the number, or "draft invoice <id>". */
  label(): string {
    return this.number ?? `draft invoice ${this.id}`;
  }

  /** Moves an issued invoice between OPEN, PARTIALLY_PAID and PAID after its paid or credited amount changed. */
  settle(now: Date): { becamePaid: boolean } {
    const settled = this.amountPaid + this.amountCredited;
    const before = this.status;
    this.status = settled >= this.total ? InvoiceStatus.PAID : settled > 0n ? InvoiceStatus.PARTIALLY_PAID : InvoiceStatus.OPEN;
    if (this.status === InvoiceStatus.PAID && before !== InvoiceStatus.PAID) {
      this.paidAt = now;
      return { becamePaid: true };
    }
    if (this.status !== InvoiceStatus.PAID) this.paidAt = null;
    return { becamePaid: false };
  }
}
