import { Injectable } from '@nestjs/common';
import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { addDays, dateIn, isCalendarDate, startOfDay } from '../domain/calendar.js';
import { InvoicingError } from '../invoicing.error.js';
import { OrganizationContext } from './organization-context.js';

export const EXPORT_KINDS = ['invoices', 'payments', 'credits', 'allocations'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** Rows per keyset page: memory stays flat however many rows the range holds. */
export const EXPORT_PAGE_SIZE = 1000;

export interface ExportRange {
  /** YYYY-MM-DD, inclusive, in the organization's time zone. */
  from: string;
  /** YYYY-MM-DD, inclusive. */
  to: string;
}

/** Checks `from` and `to` as given in the query string; BAD_USER_INPUT naming each bad parameter. */
export function exportRange(from: unknown, to: unknown): ExportRange {
  const problems: { field: string; message: string }[] = [];
  const check = (field: string, value: unknown) => {
    if (value === undefined || value === '') problems.push({ field, message: 'is required, as a date YYYY-MM-DD' });
    else if (!isCalendarDate(value)) problems.push({ field, message: `must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}` });
  };
  check('from', from);
  check('to', to);
  if (!problems.length && (to as string) < (from as string)) problems.push({ field: 'to', message: `must be on or after from (${String(from)})` });
  if (problems.length) throw InvoicingError.invalid(problems);
  return { from: from as string, to: to as string };
}

/** One CSV cell (RFC 4180), with the formula-injection guard: text starting with = + - @ (or a tab/CR) gets a leading '. */
export function csvCell(value: string | number | bigint | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // Plain numbers ("-12.50") are data, not formulas; anything else that a spreadsheet would evaluate is defused.
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: (string | number | bigint | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

type Row = Record<string, string | null>;

interface KindSpec {
  header: string[];
  /** One keyset page after `after` (the previous page's last [key, id]). */
  page(em: EntityManager, org: string, range: Bounds, after: [string, string] | null): Promise<Row[]>;
  cells(row: Row, ctx: RowContext): (string | null)[];
}

interface Bounds {
  from: string;
  to: string;
  /** The instants the range starts and ends (exclusive) in the organization's time zone. */
  start: Date;
  end: Date;
}

interface RowContext {
  timeZone: string;
  customerName(id: string | null): string | null;
}

const money = (minor: string | null, currency: string | null): [string | null, string | null] =>
  minor === null || currency === null ? [null, null] : [Money.of(minor, currency.trim()).toDecimalString(), minor];

/** A timestamptz as ISO 8601 UTC with microseconds: exact for the keyset cursor, readable by Date. */
const ts = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const iso = (value: string | null): string | null => (value === null ? null : new Date(value).toISOString());

const keyset = (after: [string, string] | null, key: string, id: string, cast: string) =>
  after ? { sql: ` and (${key}, ${id}) > (?::${cast}, ?::uuid)`, params: after } : { sql: '', params: [] as string[] };

const SPECS: Record<ExportKind, KindSpec> = {
  invoices: {
    header: [
      'invoice_id', 'number', 'issue_date', 'due_date', 'customer_id', 'customer_name', 'status', 'currency',
      'subtotal', 'subtotal_minor', 'tax', 'tax_minor', 'total', 'total_minor', 'amount_paid', 'amount_paid_minor',
      'amount_credited', 'amount_credited_minor', 'amount_due', 'amount_due_minor', 'billed_ref_type', 'billed_ref_id',
      'billed_ref_label', 'memo', 'voided_at', 'void_reason',
    ],
    async page(em, org, range, after) {
      const k = keyset(after, 'issue_date', 'id', 'date');
      return em.execute<Row[]>(
        `select id, number, issue_date::text as key, due_date::text as due_date, customer_id, status, currency,
                subtotal::text as subtotal, tax::text as tax, total::text as total, amount_paid::text as amount_paid,
                amount_credited::text as amount_credited,
                (case when status = 'VOID' then 0 else total - amount_paid - amount_credited end)::text as amount_due,
                billed_ref_type, billed_ref_id, billed_ref_label, memo, ${ts('voided_at')} as voided_at, void_reason
           from invoice
          where organization_id = ? and issue_date >= ?::date and issue_date <= ?::date${k.sql}
          order by issue_date, id limit ${EXPORT_PAGE_SIZE}`,
        [org, range.from, range.to, ...k.params],
      );
    },
    cells: (r, ctx) => [
      r.id, r.number, r.key, r.due_date, r.customer_id, ctx.customerName(r.customer_id), r.status, r.currency,
      ...money(r.subtotal!, r.currency), ...money(r.tax!, r.currency), ...money(r.total!, r.currency),
      ...money(r.amount_paid!, r.currency), ...money(r.amount_credited!, r.currency), ...money(r.amount_due!, r.currency),
      r.billed_ref_type, r.billed_ref_id, r.billed_ref_label, r.memo, iso(r.voided_at), r.void_reason,
    ],
  },
  payments: {
    header: [
      'payment_id', 'received_at', 'received_date', 'customer_id', 'customer_name', 'source', 'method', 'reference', 'status',
      'currency', 'amount', 'amount_minor', 'allocated', 'allocated_minor', 'credited', 'credited_minor', 'unallocated',
      'unallocated_minor', 'reversed_at', 'reversal_reason',
    ],
    async page(em, org, range, after) {
      const k = keyset(after, 'received_at', 'id', 'timestamptz');
      return em.execute<Row[]>(
        `select id, ${ts('received_at')} as key, customer_id, source, method, reference, status, currency, amount::text as amount,
                amount_allocated::text as allocated, amount_credited::text as credited,
                (case when status = 'REVERSED' then 0 else amount - amount_allocated - amount_credited - amount_refunded end)::text as unallocated,
                ${ts('reversed_at')} as reversed_at, reversal_reason
           from received_payment
          where organization_id = ? and received_at >= ? and received_at < ?${k.sql}
          order by received_at, id limit ${EXPORT_PAGE_SIZE}`,
        [org, range.start, range.end, ...k.params],
      );
    },
    cells: (r, ctx) => [
      r.id, iso(r.key), dateIn(new Date(r.key!), ctx.timeZone), r.customer_id, ctx.customerName(r.customer_id), r.source, r.method,
      r.reference, r.status, r.currency, ...money(r.amount!, r.currency), ...money(r.allocated!, r.currency),
      ...money(r.credited!, r.currency), ...money(r.unallocated!, r.currency), iso(r.reversed_at), r.reversal_reason,
    ],
  },
  credits: {
    header: [
      'credit_id', 'created_at', 'created_date', 'customer_id', 'customer_name', 'kind', 'invoice_id', 'invoice_number',
      'source_payment_id', 'currency', 'amount', 'amount_minor', 'remaining', 'remaining_minor', 'reason', 'cancelled_at',
    ],
    async page(em, org, range, after) {
      const k = keyset(after, 'c.created_at', 'c.id', 'timestamptz');
      return em.execute<Row[]>(
        `select c.id, ${ts('c.created_at')} as key, c.customer_id, c.kind, c.invoice_id, i.number as invoice_number,
                c.source_payment_id, c.currency, c.amount::text as amount, c.remaining::text as remaining, c.reason,
                ${ts('c.cancelled_at')} as cancelled_at
           from credit c left join invoice i on i.organization_id = c.organization_id and i.id = c.invoice_id
          where c.organization_id = ? and c.created_at >= ? and c.created_at < ?${k.sql}
          order by c.created_at, c.id limit ${EXPORT_PAGE_SIZE}`,
        [org, range.start, range.end, ...k.params],
      );
    },
    cells: (r, ctx) => [
      r.id, iso(r.key), dateIn(new Date(r.key!), ctx.timeZone), r.customer_id, ctx.customerName(r.customer_id), r.kind, r.invoice_id,
      r.invoice_number, r.source_payment_id, r.currency, ...money(r.amount!, r.currency), ...money(r.remaining!, r.currency),
      r.reason, iso(r.cancelled_at),
    ],
  },
  allocations: {
    header: [
      'type', 'allocation_id', 'created_at', 'created_date', 'customer_id', 'customer_name', 'invoice_id', 'invoice_number',
      'payment_id', 'credit_id', 'currency', 'amount', 'amount_minor', 'reversed_at',
    ],
    // Payment allocations and credit applications together: each branch reads its own (organization, created_at)
    // index range and stops at a page; the outer query merges the two pages.
    async page(em, org, range, after) {
      const ka = keyset(after, 'a.created_at', 'a.id', 'timestamptz');
      const kc = keyset(after, 'ca.created_at', 'ca.id', 'timestamptz');
      return em.execute<Row[]>(
        `select * from (
           (select 'PAYMENT' as type, a.id, a.created_at as at, ${ts('a.created_at')} as key, a.customer_id, a.invoice_id,
                   i.number as invoice_number, a.payment_id, null::uuid as credit_id, a.currency, a.amount::text as amount,
                   ${ts('a.reversed_at')} as reversed_at
              from payment_allocation a join invoice i on i.organization_id = a.organization_id and i.id = a.invoice_id
             where a.organization_id = ? and a.created_at >= ? and a.created_at < ?${ka.sql}
             order by a.created_at, a.id limit ${EXPORT_PAGE_SIZE})
           union all
           (select 'CREDIT' as type, ca.id, ca.created_at as at, ${ts('ca.created_at')} as key, ca.customer_id, ca.invoice_id,
                   i.number as invoice_number, null::uuid as payment_id, ca.credit_id, ca.currency, ca.amount::text as amount,
                   ${ts('ca.reversed_at')} as reversed_at
              from credit_application ca join invoice i on i.organization_id = ca.organization_id and i.id = ca.invoice_id
             where ca.organization_id = ? and ca.created_at >= ? and ca.created_at < ?${kc.sql}
             order by ca.created_at, ca.id limit ${EXPORT_PAGE_SIZE})
         ) x order by at, id limit ${EXPORT_PAGE_SIZE}`,
        [org, range.start, range.end, ...ka.params, org, range.start, range.end, ...kc.params],
      );
    },
    cells: (r, ctx) => [
      r.type, r.id, iso(r.key), dateIn(new Date(r.key!), ctx.timeZone), r.customer_id, ctx.customerName(r.customer_id), r.invoice_id,
      r.invoice_number, r.payment_id, r.credit_id, r.currency, ...money(r.amount!, r.currency), iso(r.reversed_at),
    ],
  },
};

/**
 * The accounting export: invoices (by issue date), payments (by received date), credits and allocations (by the date
 * they were made), for a range of days in the organization's time zone, as CSV. Read in keyset pages of 1,000 inside
 * one read-only REPEATABLE READ transaction, so the file is one consistent snapshot however long it streams, and
 * handed to `write` page by page (which waits for the client when it is slow).
 */
@Injectable()
export class AccountingExport {
  constructor(
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
  ) {}

  async export(em: EntityManager, kind: ExportKind, range: ExportRange, write: (chunk: string) => Promise<void>): Promise<number> {
    const spec = SPECS[kind];
    return em.transactional(
      async (tx) => {
        const org = currentTenant(tx);
        if (!org) throw new Error('AccountingExport needs a tenant-scoped EntityManager');
        const { timeZone } = await this.context.of(tx);
        const bounds: Bounds = { ...range, start: startOfDay(range.from, timeZone), end: startOfDay(addDays(range.to, 1), timeZone) };
        await write(csvLine(spec.header));
        let after: [string, string] | null = null;
        let count = 0;
        for (;;) {
          const rows = await spec.page(tx, org, bounds, after);
          if (!rows.length) break;
          const names = new Map(
            (await this.customers.getMany(tx, [...new Set(rows.map((r) => r.customer_id!))])).map((c) => [c.id, c.name]),
          );
          const ctx: RowContext = { timeZone, customerName: (id) => (id ? (names.get(id) ?? null) : null) };
          await write(rows.map((r) => csvLine(spec.cells(r, ctx))).join(''));
          count += rows.length;
          if (rows.length < EXPORT_PAGE_SIZE) break;
          const last = rows[rows.length - 1]!;
          after = [last.key!, last.id!];
        }
        return count;
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
    );
  }
}
