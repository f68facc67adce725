import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { BilledRefType } from './invoice.entity.js';

export enum MassInvoiceStatus {
  /** Created; its job has not started yet. */
  QUEUED = 'QUEUED',
  /** A job is invoicing its customers (or crashed doing so and is retried / can be resumed). */
  RUNNING = 'RUNNING',
  /** Every customer got their invoice. */
  COMPLETED = 'COMPLETED',
  /** Every customer was handled, and some were skipped or failed (see the items and their reasons). */
  COMPLETED_WITH_FAILURES = 'COMPLETED_WITH_FAILURES',
  /** Stopped by staff: the customers not invoiced yet were skipped. */
  CANCELLED = 'CANCELLED',
}
registerEnumType(MassInvoiceStatus, { name: 'MassInvoiceStatus' });

export const FINISHED_MASS_INVOICE_STATUSES: readonly MassInvoiceStatus[] = [
  MassInvoiceStatus.COMPLETED,
  MassInvoiceStatus.COMPLETED_WITH_FAILURES,
  MassInvoiceStatus.CANCELLED,
];

export enum MassInvoiceItemStatus {
  /** Not handled yet. */
  PENDING = 'PENDING',
  /** The customer's invoice exists (invoiceId). */
  INVOICED = 'INVOICED',
  /** Invoicing this customer was refused (e.g. the due date had passed by the time the job ran): see the error. */
  FAILED = 'FAILED',
  /** Not invoiced on purpose: the customer is archived (or gone), or the batch was cancelled. */
  SKIPPED = 'SKIPPED',
}
registerEnumType(MassInvoiceItemStatus, { name: 'MassInvoiceItemStatus' });

/** One line of the invoice every customer gets, as given (validated before the batch was created). */
export interface MassInvoiceLine {
  description: string;
  /** Decimal with at most 3 places, e.g. "1.5". */
  quantity: string;
  /** Minor units of `currency`, as a string (JSON has no bigint). */
  unitPrice: string;
  taxRate: string | null;
}

/**
 * The same invoice for many customers, created by a queued job. The selection is resolved when the batch is created:
 * one MassInvoiceItem per customer, so the job invoices exactly the customers staff saw, in list order, even if the
 * filter would match others later. The counters move in the same transaction as each item, so they always add up:
 * total = invoiced + failed + skipped + (still pending).
 */
@Entity({ tableName: 'mass_invoice_batch' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
export class MassInvoiceBatch extends TenantEntity {
  @Enum({ items: () => MassInvoiceStatus, nativeEnumName: 'mass_invoice_status' })
  status: MassInvoiceStatus = MassInvoiceStatus.QUEUED;

  /** Issue the invoices (numbered, OPEN) or leave them as drafts. */
  @Property({ type: 'boolean' })
  issue!: boolean;

  /** The organization's currency when the batch was created: the unit of the lines' prices. */
  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: 'jsonb' })
  lines!: MassInvoiceLine[];

  /** YYYY-MM-DD; else each invoice is due its issue date plus paymentTermsDays. */
  @Property({ type: 'date', nullable: true })
  dueDate: string | null = null;

  @Property({ type: 'smallint', nullable: true })
  paymentTermsDays: number | null = null;

  @Enum({ items: () => BilledRefType, nativeEnumName: 'billed_ref_type', default: BilledRefType.NONE })
  billedRefType: BilledRefType = BilledRefType.NONE;

  @Property({ type: 'uuid', nullable: true })
  billedRefId: string | null = null;

  @Property({ type: 'text', nullable: true })
  billedRefLabel: string | null = null;

  @Property({ type: 'text', nullable: true })
  memo: string | null = null;

  /** The Customers filter the customers were selected by (bigints as strings); null for an explicit list. */
  @Property({ type: 'jsonb', nullable: true })
  customerFilter: Record<string, unknown> | null = null;

  @Property({ type: 'int' })
  total!: number;

  @Property({ type: 'int', default: 0 })
  invoiced: number = 0;

  @Property({ type: 'int', default: 0 })
  failed: number = 0;

  @Property({ type: 'int', default: 0 })
  skipped: number = 0;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  startedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;

  /** Items handled so far, whatever the outcome. */
  get done(): number {
    return this.invoiced + this.failed + this.skipped;
  }
}

/**
 * One customer of a batch. UNIQUE (batch_id, customer_id) and the conditional PENDING -> INVOICED update, in the
 * transaction that creates the invoice, are what make the job idempotent: a retried job, a restarted worker or two
 * jobs racing on one batch cannot invoice a customer twice (see MassInvoiceRunner).
 */
@Entity({ tableName: 'mass_invoice_item' })
@TenantScoped()
@Unique({ properties: ['batchId', 'customerId'] })
@Index({ properties: ['batchId', 'status', 'position'] })
export class MassInvoiceItem extends TenantEntity {
  @Property({ type: 'uuid' })
  batchId!: string;

  /** 0, 1, 2, … in the order of the selection (the customers list order, or the explicit list's). */
  @Property({ type: 'int' })
  position!: number;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => MassInvoiceItemStatus, nativeEnumName: 'mass_invoice_item_status', default: MassInvoiceItemStatus.PENDING })
  status: MassInvoiceItemStatus = MassInvoiceItemStatus.PENDING;

  @Property({ type: 'uuid', nullable: true })
  invoiceId: string | null = null;

  /** The error code of a FAILED or SKIPPED item, e.g. CUSTOMER_ARCHIVED. */
  @Property({ type: 'text', nullable: true })
  errorCode: string | null = null;

  /** Why it failed or was skipped, for people. */
  @Property({ type: 'text', nullable: true })
  error: string | null = null;
}

export const MASS_INVOICE_ENTITIES = [MassInvoiceBatch, MassInvoiceItem];
