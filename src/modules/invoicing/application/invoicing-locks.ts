import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Every change to a customer's receivables (an invoice issued or voided, a payment recorded, allocated or reversed, a
 * credit created or applied, an installment plan changed) takes this transaction-level lock first.
 *
 * Why per customer and not only per row: the customer's balance summary is recomputed from the rows at the end of
 * each change. Two transactions touching two invoices of one customer would each recompute without seeing the
 * other's uncommitted change, and the last to commit would write a stale balance. Serializing per customer also
 * closes the allocation race (two payments settling one invoice both read "owes 100" and both allocate 100): the
 * second waits, then reads what the first committed. Different customers never wait for each other.
 */
export async function lockCustomerReceivables(em: EntityManager, customerId: string): Promise<void> {
  await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`invoicing:customer:${customerId}`]);
}
