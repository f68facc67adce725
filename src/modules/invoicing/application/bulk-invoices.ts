import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent, executeBound, type FieldProblem, isUuid, newOrderedId } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory, type CustomerSnapshot, CustomerStatus } from '../../customers/index.js';
import { addDays } from '../domain/calendar.js';
import { invoiceAmounts } from '../domain/invoice-math.js';
import { BilledRefType, invoiceNumber, InvoiceStatus } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { InvoicingEvents, type InvoiceIssuedPayload } from '../invoicing.events.js';
import type { Money } from '#libs/money/index.js';
import { checkLines, checkTerms } from './invoice-terms.js';
import type { DraftInvoiceCommand } from './invoices.use-case.js';
import { OrganizationContext } from './organization-context.js';

/** What issueInvoicesBulk answers per invoice (the shape of the facade's InvoiceSummary). */
export interface IssuedInvoice {
  id: string;
  customerId: string;
  number: string | null;
  status: InvoiceStatus;
  total: Money;
  amountDue: Money;
  issueDate: string | null;
  dueDate: string | null;
  billedRefType: BilledRefType;
  billedRefId: string | null;
  billedRefLabel: string | null;
}

/** How a bulk issue may lean on what its caller already did in the same transaction. */
export interface BulkIssueOptions {
  /**
   * The customers' snapshots, read by the caller in this transaction (they are not read again). Every customer of the
   * commands must be among them.
   */
  customers?: readonly CustomerSnapshot[];
  /**
   * False: the customers' balance summaries are left to the caller, who refreshes them (Invoicing.refreshBalancesBulk)
   * later in its work — a billing run does it once per batch, after the charges, in its second transaction.
   */
  refreshBalances?: boolean;
}

/** One invoice of a bulk issue: a DraftInvoiceCommand, optionally with the id it is to get (chosen by the caller). */
export interface BulkInvoiceCommand extends DraftInvoiceCommand {
  id?: string;
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
 * Receivables locks of many customers in one statement, in a fixed (sorted) order so two bulk writers never
 * deadlock; the same keys as lockCustomerReceivables, so bulk and one-by-one writers exclude each other.
 */
export async function lockManyCustomerReceivables(em: EntityManager, customerIds: readonly string[]): Promise<void> {
  const keys = [...new Set(customerIds)].sort().map((id) => `invoicing:customer:${id}`);
  if (!keys.length) return;
  await executeBound(em, `select count(pg_advisory_xact_lock(hashtextextended(k, 0))) from (select k from jsonb_array_elements_text(?::jsonb) as k order by k) s`, [
    JSON.stringify(keys),
  ]);
}

/**
 * What the customers owe now, recomputed from the rows (never from deltas) and written to their balance summaries
 * with one UPDATE: CustomerBalances.refresh for many customers. Callers hold the customers' receivables locks.
 */
export async function refreshManyBalances(em: EntityManager, customers: CustomerDirectory, organizationId: string, customerIds: readonly string[], currency: string): Promise<void> {
  const ids = [...new Set(customerIds)];
  if (!ids.length) return;
  const rows = await executeBound<{ customer_id: string; owed: string; oldest: string | null }[]>(em,
    `select c.id as customer_id, coalesce(sum(i.total - i.amount_paid - i.amount_credited), 0)::text as owed, min(i.due_date)::text as oldest
       from jsonb_array_elements_text(?::jsonb) as c(id)
       left join invoice i on i.organization_id = ? and i.customer_id = c.id::uuid and i.status in ('OPEN', 'PARTIALLY_PAID')
      group by c.id`,
    [JSON.stringify(ids), organizationId],
  );
  await customers.recordBalanceSummaries(
    em,
    organizationId,
    rows.map((r) => ({ customerId: r.customer_id, balanceOwed: BigInt(r.owed), currency, oldestUnpaidDueDate: r.oldest })),
  );
}

/**
 * Issues many invoices at once in the caller's transaction, with the same rules and rows as Invoices.createAndIssue
 * one by one (checked lines and terms, billable customers, the customers' receivables locks, gap-free numbers,
 * InvoiceIssued, the customers' balance summaries), in a handful of statements whatever the count:
 * the numbers are reserved with ONE counter upsert (`next = next + N`), invoices and lines are multi-row inserts,
 * the events one insert, the balance summaries one UPDATE. All or nothing: any refusal throws before anything is
 * written (fields are named `items.<i>.…`).
 */
@Injectable()
export class BulkInvoices {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly context: OrganizationContext,
    private readonly outbox: Outbox,
  ) {}

  /** The balance summaries of these customers recomputed and written (their receivables locked first, sorted). */
  async refreshBalances(em: EntityManager, customerIds: readonly string[]): Promise<void> {
    if (!customerIds.length) return;
    const org = await this.context.of(em);
    await lockManyCustomerReceivables(em, customerIds);
    await refreshManyBalances(em, this.customers, org.id, customerIds, org.currency);
  }

  async issue(em: EntityManager, cmds: readonly BulkInvoiceCommand[], actorUserId: string | null, options: BulkIssueOptions = {}): Promise<IssuedInvoice[]> {
    if (!cmds.length) return [];
    const org = await this.context.of(em);
    const problems: FieldProblem[] = [];
    const prepared = cmds.map((cmd, i) => {
      const own: FieldProblem[] = [];
      const lines = checkLines(cmd.lines, org.currency, own);
      checkTerms(cmd, own);
      if (!isUuid(cmd.customerId)) own.push({ field: 'customerId', message: `no customer ${cmd.customerId} in this organization` });
      if (cmd.id !== undefined && !isUuid(cmd.id)) own.push({ field: 'id', message: 'must be a UUID' });
      problems.push(...own.map((p) => ({ field: `items.${i}.${p.field}`, message: p.message })));
      return { cmd, lines };
    });
    if (problems.length) throw InvoicingError.invalid(problems);

    const found = new Map((options.customers ?? (await this.customers.getMany(em, cmds.map((c) => c.customerId)))).map((c) => [c.id, c]));
    const rows = prepared.map(({ cmd, lines }, i) => {
      const customer = found.get(cmd.customerId);
      if (!customer) throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${cmd.customerId} was not found`, `items.${i}.customerId`);
      if (customer.status === CustomerStatus.ARCHIVED) {
        throw new InvoicingError(InvoicingErrorReason.CUSTOMER_ARCHIVED, `${customer.name} is archived; reactivate the customer to invoice them`, `items.${i}.customerId`);
      }
      if (lines.length === 0) throw new InvoicingError(InvoicingErrorReason.EMPTY_INVOICE, `items.${i}: the invoice has no lines`);
      const amounts = invoiceAmounts(lines, org.currency);
      if (!amounts.total.isPositive()) {
        throw new InvoicingError(
          InvoicingErrorReason.TOTAL_NOT_POSITIVE,
          `items.${i}: the invoice totals ${amounts.total.format('en-US')}; an invoice must total more than zero (give account credit instead)`,
        );
      }
      const terms = cmd.paymentTermsDays ?? 30;
      const dueDate = cmd.dueDate ?? addDays(org.today, terms);
      if (dueDate < org.today) {
        throw new InvoicingError(InvoicingErrorReason.DUE_BEFORE_ISSUE, `The due date ${dueDate} is before today's issue date ${org.today}; change the due date`, `items.${i}.dueDate`);
      }
      return { id: cmd.id ?? newOrderedId(), cmd, lines, amounts, terms, dueDate };
    });

    await lockManyCustomerReceivables(
      em,
      rows.map((r) => r.cmd.customerId),
    );
    const n = rows.length;
    const [counter] = await executeBound<{ first: string }[]>(em,
      `insert into invoice_number_counter (organization_id, next) values (?, ?)
       on conflict (organization_id) do update set next = invoice_number_counter.next + ?
       returning (next - ?)::text as first`,
      [org.id, n + 1, n, n],
    );
    const first = BigInt(counter!.first);
    const now = org.now;
    const invoices = rows.map((r, i) => {
      const sequence = first + BigInt(i);
      return {
        id: r.id,
        customer_id: r.cmd.customerId,
        number: invoiceNumber(sequence),
        sequence: sequence.toString(),
        subtotal: r.amounts.subtotal.amount.toString(),
        tax: r.amounts.tax.amount.toString(),
        total: r.amounts.total.amount.toString(),
        due_date: r.dueDate,
        payment_terms_days: r.terms,
        billed_ref_type: r.cmd.billedRef?.type ?? BilledRefType.NONE,
        billed_ref_id: r.cmd.billedRef?.id ?? null,
        billed_ref_label: r.cmd.billedRef?.label?.trim() || null,
        memo: r.cmd.memo?.trim() || null,
      };
    });
    await executeBound(em,
      `insert into invoice (id, organization_id, created_at, updated_at, customer_id, number, sequence, status, currency, subtotal, tax, total,
                            amount_paid, amount_credited, issue_date, due_date, payment_terms_days, billed_ref_type, billed_ref_id, billed_ref_label,
                            memo, created_by, issued_at, issued_by)
       select v.id, ?, ?, ?, v.customer_id, v.number, v.sequence, 'OPEN', ?, v.subtotal, v.tax, v.total, 0, 0, ?::date, v.due_date,
              v.payment_terms_days, v.billed_ref_type::billed_ref_type, v.billed_ref_id, v.billed_ref_label, v.memo, ?, ?, ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, customer_id uuid, number text, sequence bigint, subtotal bigint, tax bigint, total bigint,
              due_date date, payment_terms_days smallint, billed_ref_type text, billed_ref_id uuid, billed_ref_label text, memo text)`,
      [org.id, now, now, org.currency, org.today, actorUserId, now, actorUserId, json(invoices)],
    );
    const lines = rows.flatMap((r) =>
      r.lines.map((line, position) => {
        const a = r.amounts.lines[position]!;
        return {
          id: newOrderedId(),
          invoice_id: r.id,
          position,
          description: line.description,
          quantity: line.quantity.toString(),
          unit_price: line.unitPrice.amount.toString(),
          tax_rate: line.taxRate,
          subtotal: a.subtotal.amount.toString(),
          tax: a.tax.amount.toString(),
          total: a.total.amount.toString(),
        };
      }),
    );
    await executeBound(em,
      `insert into invoice_line (id, organization_id, created_at, updated_at, invoice_id, position, description, quantity, unit_price, tax_rate, subtotal, tax, total)
       select v.id, ?, ?, ?, v.invoice_id, v.position, v.description, v.quantity, v.unit_price, v.tax_rate, v.subtotal, v.tax, v.total
         from jsonb_to_recordset(?::jsonb) as v(id uuid, invoice_id uuid, position smallint, description text, quantity bigint, unit_price bigint,
              tax_rate int, subtotal bigint, tax bigint, total bigint)`,
      [org.id, now, now, json(lines)],
    );
    await this.outbox.recordMany(
      em,
      rows.map((r, i) =>
        domainEvent<InvoiceIssuedPayload>(InvoicingEvents.InvoiceIssued, org.id, {
          invoiceId: r.id,
          customerId: r.cmd.customerId,
          number: invoices[i]!.number,
          subtotal: r.amounts.subtotal.toJSON(),
          tax: r.amounts.tax.toJSON(),
          total: r.amounts.total.toJSON(),
        }),
      ),
    );
    if (options.refreshBalances !== false) {
      await refreshManyBalances(
        em,
        this.customers,
        org.id,
        rows.map((r) => r.cmd.customerId),
        org.currency,
      );
    }
    return rows.map((r, i) => ({
      id: r.id,
      customerId: r.cmd.customerId,
      number: invoices[i]!.number,
      status: InvoiceStatus.OPEN,
      total: r.amounts.total,
      amountDue: r.amounts.total,
      issueDate: org.today,
      dueDate: r.dueDate,
      billedRefType: (r.cmd.billedRef?.type ?? BilledRefType.NONE) as BilledRefType,
      billedRefId: r.cmd.billedRef?.id ?? null,
      billedRefLabel: invoices[i]!.billed_ref_label,
    }));
  }
}
