import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { executeBound, isUuid, type PostalAddress } from '#libs/ddd/index.js';
import { CustomerError, CustomerErrorReason } from '../customer.error.js';
import { isCalendarDate } from '../domain/customer-details.js';
import { Customer, CustomerStatus } from '../domain/customer.entity.js';
import { CustomerView } from '../graphql/customer.types.js';
import { CustomerSearch, type CustomerFilter } from './customer-search.js';
import { ManageCustomers } from './manage-customers.use-case.js';

/** What other modules know of a customer. */
export interface CustomerSnapshot {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  billingAddress: PostalAddress | null;
  marketingOptOut: boolean;
  status: CustomerStatus;
}

/** The customer's saved payment methods in brief, as the Wallet reports them. */
export interface PaymentSummary {
  hasCard: boolean;
  hasBankAccount: boolean;
  hasConsent: boolean;
  /** YYYY-MM-DD: last day of the expiry month of the soonest-expiring active card; null without a card. */
  cardExpiresOn: string | null;
}

/** What the customer owes, in brief, as Invoicing reports it. */
export interface BalanceSummary {
  /** Owed on issued, unpaid invoices (total − payments − credits applied), in minor units; never negative. */
  balanceOwed: bigint;
  /** ISO 4217, the organization's. */
  currency: string;
  /** YYYY-MM-DD: the earliest due date among the unpaid invoices; null when nothing is owed. */
  oldestUnpaidDueDate: string | null;
}

/** The contact details a customer may fill in themselves on a hosted page. */
export interface ContactPatch {
  name?: string;
  email?: string | null;
  phone?: string | null;
  billingAddress?: PostalAddress;
}

export function snapshotOf(c: Customer): CustomerSnapshot {
  return {
    id: c.id,
    name: c.name,
    email: c.email,
    phone: c.phone,
    billingAddress: c.billingAddress,
    marketingOptOut: c.marketingOptOut,
    status: c.status,
  };
}

/**
 * The customers module's facade for other modules. Every method reads and writes through the caller's
 * EntityManager: it is scoped to the organization (another organization's customer is not found) and it is the
 * caller's transaction, so a change here commits or rolls back with the caller's.
 */
@Injectable()
export class CustomerDirectory {
  constructor(
    private readonly manage: ManageCustomers,
    private readonly search: CustomerSearch,
  ) {}

  async get(em: EntityManager, id: string): Promise<CustomerSnapshot | null> {
    if (!isUuid(id)) return null;
    const customer = await em.findOne(Customer, { id });
    return customer ? snapshotOf(customer) : null;
  }

  /** The customer, or CustomerError NOT_FOUND "Customer <id> was not found". */
  async require(em: EntityManager, id: string): Promise<CustomerSnapshot> {
    const customer = await this.get(em, id);
    if (!customer) throw CustomerError.customerNotFound(id);
    return customer;
  }

  /** The customers among these ids that exist in the organization, in the order asked (unknown ids are skipped). */
  async getMany(em: EntityManager, ids: string[]): Promise<CustomerSnapshot[]> {
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0) return [];
    const rows = new Map((await em.find(Customer, { id: { $in: wanted } })).map((c) => [c.id, c]));
    return wanted.flatMap((id) => {
      const c = rows.get(id);
      return c ? [snapshotOf(c)] : [];
    });
  }

  /** The GraphQL view of each customer among these ids (for other modules' `customer` fields), in the order asked. */
  async views(em: EntityManager, ids: readonly string[]): Promise<CustomerView[]> {
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0) return [];
    const rows = new Map((await em.find(Customer, { id: { $in: wanted } })).map((c) => [c.id, c]));
    return wanted.flatMap((id) => {
      const c = rows.get(id);
      return c ? [CustomerView.from(c)] : [];
    });
  }

  /**
   * The customer filled in their own details on a hosted page (a secure link): validated and normalized like staff
   * input (BAD_USER_INPUT naming each bad field, nothing changed), and announced as CustomerUpdated with no staff user.
   */
  async updateContact(em: EntityManager, id: string, patch: ContactPatch): Promise<CustomerSnapshot> {
    const { name, email, phone, billingAddress } = patch;
    const customer = await this.manage.update(em, id, { name, email, phone, billingAddress }, null);
    return snapshotOf(customer);
  }

  /** Called by the Wallet in the same transaction as any change to the customer's saved methods. */
  async recordPaymentSummary(em: EntityManager, customerId: string, summary: PaymentSummary): Promise<void> {
    if (summary.cardExpiresOn !== null && !isCalendarDate(summary.cardExpiresOn)) {
      throw new Error(`PaymentSummary.cardExpiresOn must be YYYY-MM-DD or null, got ${summary.cardExpiresOn}`);
    }
    const customer = isUuid(customerId) ? await em.findOne(Customer, { id: customerId }) : null;
    if (!customer) throw CustomerError.customerNotFound(customerId);
    customer.hasCard = summary.hasCard;
    customer.hasBankAccount = summary.hasBankAccount;
    customer.hasConsent = summary.hasConsent;
    customer.cardExpiresOn = summary.hasCard ? summary.cardExpiresOn : null;
    await em.flush();
  }

  /**
   * Called by Invoicing in the same transaction as any change to the customer's invoices, payments and credits, so
   * the filters `balanceOwedAbove` and `overdueByMoreThanDays` are exact and indexed.
   */
  async recordBalanceSummary(em: EntityManager, customerId: string, summary: BalanceSummary): Promise<void> {
    if (summary.oldestUnpaidDueDate !== null && !isCalendarDate(summary.oldestUnpaidDueDate)) {
      throw new Error(`BalanceSummary.oldestUnpaidDueDate must be YYYY-MM-DD or null, got ${summary.oldestUnpaidDueDate}`);
    }
    if (typeof summary.balanceOwed !== 'bigint' || summary.balanceOwed < 0n) {
      throw new Error(`BalanceSummary.balanceOwed must be a bigint of 0 or more, got ${String(summary.balanceOwed)}`);
    }
    if (!/^[A-Z]{3}$/.test(summary.currency)) throw new Error(`BalanceSummary.currency must be an ISO 4217 code, got ${summary.currency}`);
    const customer = isUuid(customerId) ? await em.findOne(Customer, { id: customerId }) : null;
    if (!customer) throw CustomerError.customerNotFound(customerId);
    customer.balanceOwed = summary.balanceOwed;
    customer.balanceCurrency = summary.currency;
    customer.oldestUnpaidDueDate = summary.balanceOwed > 0n ? summary.oldestUnpaidDueDate : null;
    await em.flush();
  }

  /**
   * recordBalanceSummary for many customers with one UPDATE … FROM (bulk billing). Same checks; customers of another
   * organization (or unknown ids) are not touched.
   */
  async recordBalanceSummaries(em: EntityManager, organizationId: string, summaries: readonly (BalanceSummary & { customerId: string })[]): Promise<void> {
    if (!summaries.length) return;
    for (const s of summaries) {
      if (!isUuid(s.customerId)) throw CustomerError.customerNotFound(s.customerId);
      if (typeof s.balanceOwed !== 'bigint' || s.balanceOwed < 0n) throw new Error(`BalanceSummary.balanceOwed must be a bigint of 0 or more, got ${String(s.balanceOwed)}`);
      if (!/^[A-Z]{3}$/.test(s.currency)) throw new Error(`BalanceSummary.currency must be an ISO 4217 code, got ${s.currency}`);
      if (s.oldestUnpaidDueDate !== null && !isCalendarDate(s.oldestUnpaidDueDate)) throw new Error(`BalanceSummary.oldestUnpaidDueDate must be YYYY-MM-DD or null`);
    }
    const rows = summaries.map((s) => ({
      id: s.customerId,
      owed: s.balanceOwed.toString(),
      currency: s.currency,
      oldest: s.balanceOwed > 0n ? s.oldestUnpaidDueDate : null,
    }));
    // Only the rows whose summary changes are written (a customer billed and paid in the same batch owes what they owed).
    await executeBound(
      em,
      `update customer c set balance_owed = v.owed, balance_currency = v.currency, oldest_unpaid_due_date = v.oldest, updated_at = now()
         from jsonb_to_recordset(?::jsonb) as v(id uuid, owed bigint, currency text, oldest date)
        where c.id = v.id and c.organization_id = ?
          and (c.balance_owed, c.balance_currency, c.oldest_unpaid_due_date) is distinct from (v.owed, v.currency, v.oldest)`,
      [JSON.stringify(rows), organizationId],
    );
  }

  /**
   * Ids of every customer matching the filter, in list order (folded name, then id), for mass invoicing and
   * charging. Not capped: they are read in keyset batches of 1,000 (each a short index range) and returned together;
   * 100k ids are about 4 MB. A caller that wants to work as it reads uses `idBatches`.
   * The filter is checked like GraphQL input (CustomerError INVALID_INPUT naming `filter.<field>`).
   */
  async findIds(em: EntityManager, filter: CustomerFilter): Promise<string[]> {
    const ids: string[] = [];
    for await (const batch of this.search.idBatches(em, filter)) ids.push(...batch);
    return ids;
  }

  /** The same ids as findIds, `size` at a time, in list order. */
  idBatches(em: EntityManager, filter: CustomerFilter, size = 1000): AsyncGenerator<string[]> {
    if (!Number.isInteger(size) || size < 1 || size > 10_000) {
      throw new CustomerError(CustomerErrorReason.INVALID_INPUT, 'size: must be a whole number from 1 to 10000', [
        { field: 'size', message: 'must be a whole number from 1 to 10000' },
      ]);
    }
    return this.search.idBatches(em, filter, size);
  }
}
