import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type DomainEvent, domainEvent, executeBound, isUuid, newOrderedId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { InvoiceStatus } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import {
  InvoicingEvents,
  type InvoicePaidPayload,
  type PaymentAllocatedPayload,
  type PaymentRecordedPayload,
} from '../invoicing.events.js';
import { lockManyCustomerReceivables, refreshManyBalances } from './bulk-invoices.js';
import { OrganizationContext } from './organization-context.js';
import type { RecordPaymentCommand } from './reconciliation.use-case.js';

/** A PostgreSQL array literal (for `= any(?::uuid[])`: the planner knows its size, unlike a set-returning function). */
const pgArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

export interface BulkRecordOptions {
  /**
   * Cut each allocation to what its invoice still owes when it is recorded (money already taken is never refused:
   * the rest stays unallocated, for reconciliation) — what Payments does for a charge that succeeded. Without it an
   * allocation above what is due is refused (ALLOCATION_EXCEEDS_DUE) like recordPayment.
   */
  capAllocationsToDue?: boolean;
  /** False: the customers' balance summaries are left to the caller (Invoicing.refreshBalancesBulk later in the same work). */
  refreshBalances?: boolean;
}

/** What recordPaymentsBulk did with one payment: recorded now (or before), and the allocations it made now. */
export interface BulkRecorded {
  paymentId: string;
  created: boolean;
  allocations: { invoiceId: string; amount: Money }[];
}

interface InvoiceRow {
  id: string;
  customer_id: string;
  status: InvoiceStatus;
  currency: string;
  number: string | null;
  total: string;
  amount_paid: string;
  amount_credited: string;
  paid_at: Date | null;
}

/** JSON with bigints as strings; the replacer (slow on large arrays) only when a bigint is really there. */
const json = (value: unknown) => {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
};

/**
 * Reconciliation.recordPayment for many payments in the caller's transaction, with the same rows and events
 * (ReceivedPayment, PaymentAllocation, the invoices' amount paid and status, PaymentRecorded / PaymentAllocated /
 * InvoicePaid, the customers' balance summaries) in a fixed number of statements: the customers' receivables locks
 * (sorted), the invoices row-locked in id order, multi-row inserts, one UPDATE … FROM for the invoices, one insert
 * for the events, one UPDATE for the balances. Idempotent by paymentId like recordPayment: an id recorded before
 * (same customer and amount) is left as it is; another customer or amount is PAYMENT_ID_CONFLICT.
 */
@Injectable()
export class BulkReconciliation {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly context: OrganizationContext,
    private readonly outbox: Outbox,
  ) {}

  async recordPayments(em: EntityManager, cmds: readonly RecordPaymentCommand[], options: BulkRecordOptions = {}): Promise<BulkRecorded[]> {
    if (!cmds.length) return [];
    const org = await this.context.of(em);
    cmds.forEach((c, i) => {
      if (!isUuid(c.paymentId ?? '')) throw InvoicingError.invalid([{ field: `items.${i}.paymentId`, message: 'must be a UUID' }]);
      if (!c.method?.trim()) throw InvoicingError.invalid([{ field: `items.${i}.method`, message: 'is required' }]);
      if (c.amount.currency !== org.currency) {
        throw new InvoicingError(InvoicingErrorReason.CURRENCY_MISMATCH, `items.${i}.amount: is in ${c.amount.currency} but the organization bills in ${org.currency}`);
      }
      if (!c.amount.isPositive()) throw InvoicingError.invalid([{ field: `items.${i}.amount`, message: 'must be more than zero' }]);
    });
    await lockManyCustomerReceivables(
      em,
      cmds.map((c) => c.customerId),
    );

    // Under the customers' locks: a one-by-one recordPayment of the same id waits for us, or we see its row.
    const existing = new Map(
      (
        await executeBound<{ id: string; customer_id: string; amount: string }[]>(em,
          `select id, customer_id, amount::text from received_payment where organization_id = ? and id = any(?::uuid[])`,
          [org.id, pgArray(cmds.map((c) => c.paymentId))],
        )
      ).map((r) => [r.id, r]),
    );
    const fresh = cmds.filter((c) => {
      const seen = existing.get(c.paymentId);
      if (!seen) return true;
      if (seen.customer_id === c.customerId && BigInt(seen.amount) === c.amount.amount) return false;
      throw new InvoicingError(InvoicingErrorReason.PAYMENT_ID_CONFLICT, `Payment ${c.paymentId} was already recorded for another customer or amount`, 'paymentId');
    });

    const invoiceIds = [...new Set(fresh.flatMap((c) => (c.allocations ?? []).map((a) => a.invoiceId)))].sort();
    // `(organization_id = ?) is true` (NOT NULL: the same rows) keeps the plan on the primary key even without column
    // statistics, where `organization_id = ?` would look selective and scan the organization's whole index.
    const invoices = new Map(
      (invoiceIds.length
        ? await executeBound<InvoiceRow[]>(em,
            `select id, customer_id, status, currency, number, total::text, amount_paid::text, amount_credited::text, paid_at from invoice
              where id = any(?::uuid[]) and (organization_id = ?) is true order by id for update`,
            [pgArray(invoiceIds), org.id],
          )
        : []
      ).map((r) => [r.id, { row: r, paid: BigInt(r.amount_paid), touched: false }]),
    );

    const now = org.now;
    const events: DomainEvent<object>[] = [];
    const payments: Record<string, unknown>[] = [];
    const allocations: Record<string, unknown>[] = [];
    const made = new Map<string, { invoiceId: string; amount: Money }[]>();
    for (const c of fresh) {
      const mine: { invoiceId: string; amount: Money }[] = [];
      made.set(c.paymentId, mine);
      let allocated = 0n;
      events.push(domainEvent<PaymentRecordedPayload>(InvoicingEvents.PaymentRecorded, org.id, { paymentId: c.paymentId, customerId: c.customerId, amount: c.amount.toJSON() }));
      for (const [j, a] of (c.allocations ?? []).entries()) {
        const field = `allocations.${j}`;
        const inv = invoices.get(a.invoiceId);
        if (!inv) throw new InvoicingError(InvoicingErrorReason.INVOICE_NOT_FOUND, `Invoice ${a.invoiceId} was not found`, `${field}.invoiceId`);
        if (inv.row.customer_id !== c.customerId) {
          throw new InvoicingError(InvoicingErrorReason.CUSTOMER_MISMATCH, `${inv.row.number ?? a.invoiceId} belongs to another customer`, `${field}.invoiceId`);
        }
        if (inv.row.status === InvoiceStatus.DRAFT || inv.row.status === InvoiceStatus.VOID) {
          throw new InvoicingError(InvoicingErrorReason.INVOICE_NOT_ISSUED, `${inv.row.number ?? a.invoiceId} is ${inv.row.status}: only an issued invoice takes payments`, `${field}.invoiceId`);
        }
        const due = BigInt(inv.row.total) - inv.paid - BigInt(inv.row.amount_credited);
        let amount = a.amount.amount;
        if (amount > due) {
          if (!options.capAllocationsToDue) {
            throw new InvoicingError(InvoicingErrorReason.ALLOCATION_EXCEEDS_DUE, `${field}.amount: is more than ${inv.row.number} still owes`, `${field}.amount`);
          }
          amount = due;
        }
        if (allocated + amount > c.amount.amount) {
          if (!options.capAllocationsToDue) throw new InvoicingError(InvoicingErrorReason.ALLOCATION_EXCEEDS_PAYMENT, 'allocations: more than the payment has left to allocate', 'allocations');
          amount = c.amount.amount - allocated;
        }
        if (amount <= 0n) continue;
        const allocationId = newOrderedId();
        allocations.push({ id: allocationId, payment_id: c.paymentId, invoice_id: a.invoiceId, customer_id: c.customerId, amount: amount.toString() });
        mine.push({ invoiceId: a.invoiceId, amount: Money.of(amount, org.currency) });
        events.push(
          domainEvent<PaymentAllocatedPayload>(InvoicingEvents.PaymentAllocated, org.id, {
            allocationId,
            paymentId: c.paymentId,
            invoiceId: a.invoiceId,
            customerId: c.customerId,
            amount: Money.of(amount, org.currency).toJSON(),
          }),
        );
        inv.paid += amount;
        inv.touched = true;
        allocated += amount;
      }
      payments.push({
        id: c.paymentId,
        customer_id: c.customerId,
        source: c.source,
        method: c.method.trim(),
        reference: c.reference?.trim() || null,
        amount: c.amount.amount.toString(),
        amount_allocated: allocated.toString(),
        status: allocated === c.amount.amount ? 'RECONCILED' : 'UNRECONCILED',
        received_at: c.receivedAt,
        recorded_by: c.recordedBy ?? null,
      });
    }
    if (payments.length) {
      await executeBound(em,
        `insert into received_payment (id, organization_id, created_at, updated_at, customer_id, source, method, reference, currency, amount, amount_allocated,
                                       amount_credited, amount_refunded, status, received_at, recorded_by)
         select v.id, ?, ?, ?, v.customer_id, v.source::payment_source, v.method, v.reference, ?, v.amount, v.amount_allocated, 0, 0,
                v.status::received_payment_status, v.received_at, v.recorded_by
           from jsonb_to_recordset(?::jsonb) as v(id uuid, customer_id uuid, source text, method text, reference text, amount bigint,
                amount_allocated bigint, status text, received_at timestamptz, recorded_by uuid)`,
        [org.id, now, now, org.currency, json(payments)],
      );
    }
    if (allocations.length) {
      await executeBound(em,
        `insert into payment_allocation (id, organization_id, created_at, updated_at, payment_id, invoice_id, customer_id, currency, amount, created_by)
         select v.id, ?, ?, ?, v.payment_id, v.invoice_id, v.customer_id, ?, v.amount, null
           from jsonb_to_recordset(?::jsonb) as v(id uuid, payment_id uuid, invoice_id uuid, customer_id uuid, amount bigint)`,
        [org.id, now, now, org.currency, json(allocations)],
      );
    }
    const changed = [...invoices.values()].filter((i) => i.touched);
    if (changed.length) {
      const updates = changed.map((inv) => {
        const total = BigInt(inv.row.total);
        const settled = inv.paid + BigInt(inv.row.amount_credited);
        const status = settled >= total ? InvoiceStatus.PAID : settled > 0n ? InvoiceStatus.PARTIALLY_PAID : InvoiceStatus.OPEN;
        const becamePaid = status === InvoiceStatus.PAID && inv.row.status !== InvoiceStatus.PAID;
        if (becamePaid) {
          events.push(
            domainEvent<InvoicePaidPayload>(InvoicingEvents.InvoicePaid, org.id, {
              invoiceId: inv.row.id,
              customerId: inv.row.customer_id,
              total: Money.of(total, inv.row.currency).toJSON(),
              amountPaid: Money.of(inv.paid, inv.row.currency).toJSON(),
              amountCredited: Money.of(BigInt(inv.row.amount_credited), inv.row.currency).toJSON(),
            }),
          );
        }
        return { id: inv.row.id, amount_paid: inv.paid.toString(), status, paid_at: status !== InvoiceStatus.PAID ? null : becamePaid ? now : inv.row.paid_at };
      });
      await executeBound(em,
        `update invoice i set amount_paid = v.amount_paid, status = v.status::invoice_status, paid_at = v.paid_at, updated_at = ?
           from jsonb_to_recordset(?::jsonb) as v(id uuid, amount_paid bigint, status text, paid_at timestamptz)
          where i.id = v.id and i.organization_id = ?`,
        [now, json(updates), org.id],
      );
    }
    await this.outbox.recordMany(em, events);
    if (options.refreshBalances !== false) {
      await refreshManyBalances(
        em,
        this.customers,
        org.id,
        fresh.map((c) => c.customerId),
        org.currency,
      );
    }
    return cmds.map((c) => ({ paymentId: c.paymentId, created: made.has(c.paymentId), allocations: made.get(c.paymentId) ?? [] }));
  }
}
