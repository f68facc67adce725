import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory } from '../../customers/index.js';

/** What a customer owes and has in their favour, in the organization's currency. */
export interface CustomerBalance {
  customerId: string;
  /** Σ over issued, unpaid invoices of (total − payments applied − credits applied). Never negative. */
  owed: Money;
  /** Of that, the part of invoices whose due date is before `today`. */
  overdue: Money;
  /** Earliest due date among the unpaid invoices (YYYY-MM-DD), or null. */
  oldestUnpaidDueDate: string | null;
  /** Account credit and credit notes not yet applied to an invoice. */
  creditAvailable: Money;
  /** Payments received and not yet allocated to invoices nor turned into credit (the reconciliation list). */
  unallocatedPayments: Money;
  unpaidInvoices: number;
}

interface Row {
  owed: string;
  overdue: string;
  oldest: string | null;
  unpaid: string;
  credit: string;
  unallocated: string;
}

/**
 * Computes balances from the rows (never from running deltas), and writes the customer's balance summary (owed,
 * oldest unpaid due date) to the Customers module in the caller's transaction, for the indexed customer filters.
 * Callers hold lockCustomerReceivables for the customer.
 */
@Injectable()
export class CustomerBalances {
  constructor(private readonly customers: CustomerDirectory) {}

  async compute(em: EntityManager, customerId: string, currency: string, today: string): Promise<CustomerBalance> {
    const org = currentTenant(em);
    if (!org) throw new Error('CustomerBalances.compute needs a tenant-scoped EntityManager');
    // One statement, three index ranges (invoice by customer+status, credit by customer, received_payment by customer).
    const [row] = await em.execute<Row[]>(
      `select
         coalesce((select sum(i.total - i.amount_paid - i.amount_credited) from invoice i
                   where i.organization_id = ? and i.customer_id = ? and i.status in ('OPEN', 'PARTIALLY_PAID')), 0)::text as owed,
         coalesce((select sum(i.total - i.amount_paid - i.amount_credited) from invoice i
                   where i.organization_id = ? and i.customer_id = ? and i.status in ('OPEN', 'PARTIALLY_PAID') and i.due_date < ?::date), 0)::text as overdue,
         (select min(i.due_date)::text from invoice i
                   where i.organization_id = ? and i.customer_id = ? and i.status in ('OPEN', 'PARTIALLY_PAID')) as oldest,
         (select count(*) from invoice i
                   where i.organization_id = ? and i.customer_id = ? and i.status in ('OPEN', 'PARTIALLY_PAID'))::text as unpaid,
         coalesce((select sum(c.remaining) from credit c
                   where c.organization_id = ? and c.customer_id = ? and c.cancelled_at is null), 0)::text as credit,
         coalesce((select sum(p.amount - p.amount_allocated - p.amount_credited - p.amount_refunded) from received_payment p
                   where p.organization_id = ? and p.customer_id = ? and p.status = 'UNRECONCILED'), 0)::text as unallocated`,
      [org, customerId, org, customerId, today, org, customerId, org, customerId, org, customerId, org, customerId],
    );
    return {
      customerId,
      owed: Money.of(BigInt(row!.owed), currency),
      overdue: Money.of(BigInt(row!.overdue), currency),
      oldestUnpaidDueDate: row!.oldest,
      creditAvailable: Money.of(BigInt(row!.credit), currency),
      unallocatedPayments: Money.of(BigInt(row!.unallocated), currency),
      unpaidInvoices: Number(row!.unpaid),
    };
  }

  /**
   * `compute` for many customers in one statement (a page of customers on GraphQL): the same sums, per customer, by
   * the same index ranges (a lateral join per customer id). Customers without rows get zero balances.
   */
  async computeMany(em: EntityManager, customerIds: readonly string[], currency: string, today: string): Promise<Map<string, CustomerBalance>> {
    const org = currentTenant(em);
    if (!org) throw new Error('CustomerBalances.computeMany needs a tenant-scoped EntityManager');
    const out = new Map<string, CustomerBalance>();
    if (customerIds.length === 0) return out;
    const rows = await em.execute<(Row & { customer_id: string })[]>(
      `select k.id::text as customer_id,
              coalesce(i.owed, 0)::text as owed, coalesce(i.overdue, 0)::text as overdue, i.oldest::text as oldest,
              i.unpaid::text as unpaid, coalesce(c.credit, 0)::text as credit, coalesce(p.unallocated, 0)::text as unallocated
         from unnest(array[?]::uuid[]) as k(id)
         cross join lateral (select sum(i.total - i.amount_paid - i.amount_credited) as owed,
                                    sum(i.total - i.amount_paid - i.amount_credited) filter (where i.due_date < ?::date) as overdue,
                                    min(i.due_date) as oldest, count(*) as unpaid
                               from invoice i
                              where i.organization_id = ? and i.customer_id = k.id and i.status in ('OPEN', 'PARTIALLY_PAID')) i
         cross join lateral (select sum(c.remaining) as credit from credit c
                              where c.organization_id = ? and c.customer_id = k.id and c.cancelled_at is null) c
         cross join lateral (select sum(p.amount - p.amount_allocated - p.amount_credited - p.amount_refunded) as unallocated
                               from received_payment p
                              where p.organization_id = ? and p.customer_id = k.id and p.status = 'UNRECONCILED') p`,
      [[...new Set(customerIds)], today, org, org, org],
    );
    for (const row of rows) {
      out.set(row.customer_id, {
        customerId: row.customer_id,
        owed: Money.of(BigInt(row.owed), currency),
        overdue: Money.of(BigInt(row.overdue), currency),
        oldestUnpaidDueDate: row.oldest,
        creditAvailable: Money.of(BigInt(row.credit), currency),
        unallocatedPayments: Money.of(BigInt(row.unallocated), currency),
        unpaidInvoices: Number(row.unpaid),
      });
    }
    return out;
  }

  /** Recomputes what the customer owes and writes the summary the customer filters use. Call after flushing. */
  async refresh(em: EntityManager, customerId: string, currency: string): Promise<void> {
    const org = currentTenant(em);
    if (!org) throw new Error('CustomerBalances.refresh needs a tenant-scoped EntityManager');
    await em.flush();
    const [row] = await em.execute<{ owed: string; oldest: string | null }[]>(
      `select coalesce(sum(total - amount_paid - amount_credited), 0)::text as owed, min(due_date)::text as oldest
         from invoice where organization_id = ? and customer_id = ? and status in ('OPEN', 'PARTIALLY_PAID')`,
      [org, customerId],
    );
    await this.customers.recordBalanceSummary(em, customerId, {
      balanceOwed: BigInt(row!.owed),
      currency,
      oldestUnpaidDueDate: row!.oldest,
    });
  }
}
