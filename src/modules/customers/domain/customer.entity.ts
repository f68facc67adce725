import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { ArrayType, BigIntType } from '@mikro-orm/core';
import { registerEnumType } from '@nestjs/graphql';
import type { PostalAddress } from '#libs/ddd/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { fold, phoneDigits, type ServiceAddress } from './customer-details.js';

export enum CustomerStatus {
  ACTIVE = 'ACTIVE',
  /** Kept and listed, but not currently a client (e.g. a seasonal customer between seasons). */
  INACTIVE = 'INACTIVE',
  /** Hidden from lists unless asked for; cannot save payment methods. OWNER, ADMIN or PAYMENT_MANAGER archive. */
  ARCHIVED = 'ARCHIVED',
}
registerEnumType(CustomerStatus, { name: 'CustomerStatus' });

/** The people of an account whose names, emails and phones the account's search text also holds. */
export interface SearchableMember {
  name: string;
  email: string | null;
  phone: string | null;
}

/**
 * A customer account of an organization: the person or business that is billed. Members of the household (or
 * participants) are CustomerMember rows billed to this account.
 *
 * The payment summary (hasCard … cardExpiresOn) is a copy of facts the Wallet owns, written by the Wallet in the
 * same transaction as every change to the saved methods (CustomerDirectory.recordPaymentSummary), so that the
 * filters staff use to pick customers for mass charging are plain indexed columns instead of a join into another
 * module's tables.
 *
 * Indexes (each checked with EXPLAIN on 100k customers, see bench/README.md):
 * - (organization_id, sort_name, id) INCLUDE (status, has_card, has_bank_account, has_consent, card_expires_on):
 *   the list order and its keyset cursor (a first page walks it and stops after 21 matches), and, being covering
 *   for the status and summary filters, their totalCount is an index-only scan instead of a scan of the table.
 * - GIN (organization_id, search_text gin_trgm_ops) (btree_gin + pg_trgm): `search_text LIKE '%…%'`.
 * - GIN (organization_id, tags) (btree_gin): `tags && '{…}'` (any of the tags).
 * - partial (organization_id, card_expires_on) where not null: cards expired or expiring before a date.
 * - partial (organization_id, balance_owed) where > 0, and (organization_id, oldest_unpaid_due_date) where not null:
 *   customers owing more than an amount, customers overdue by more than N days (the balance summary).
 *
 * The balance summary (balanceOwed, balanceCurrency, oldestUnpaidDueDate) is likewise a copy of facts Invoicing owns,
 * written by Invoicing in the same transaction as every change to the customer's invoices, payments and credits
 * (CustomerDirectory.recordBalanceSummary).
 */
@Entity({ tableName: 'customer' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'externalReference'] })
@Index({
  name: 'customer_list_idx',
  properties: ['organizationId', 'sortName', 'id'],
  include: ['status', 'hasCard', 'hasBankAccount', 'hasConsent', 'cardExpiresOn'],
})
@Index({
  name: 'customer_search_trgm_idx',
  expression: 'create index "customer_search_trgm_idx" on "customer" using gin ("organization_id", "search_text" gin_trgm_ops)',
})
@Index({
  name: 'customer_tags_idx',
  expression: 'create index "customer_tags_idx" on "customer" using gin ("organization_id", "tags")',
})
@Index({
  name: 'customer_card_expiry_idx',
  expression:
    'create index "customer_card_expiry_idx" on "customer" ("organization_id", "card_expires_on") where "card_expires_on" is not null',
})
@Index({
  name: 'customer_balance_owed_idx',
  expression: 'create index "customer_balance_owed_idx" on "customer" ("organization_id", "balance_owed") where "balance_owed" > 0',
})
@Index({
  name: 'customer_oldest_unpaid_idx',
  expression:
    'create index "customer_oldest_unpaid_idx" on "customer" ("organization_id", "oldest_unpaid_due_date") where "oldest_unpaid_due_date" is not null',
})
export class Customer extends TenantEntity {
  @Property({ type: 'text' })
  name!: string;

  /** fold(name): the list order (C collation compares bytes, so "alice" and "Zoe" need folding to sort A to Z). */
  @Property({ type: 'text' })
  sortName!: string;

  /** Lower case, validated. */
  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  /** E.164, e.g. +15145550123. */
  @Property({ type: 'text', nullable: true })
  phone: string | null = null;

  /** Required before a payment method is saved (the Wallet checks it): processors decline less with it. */
  @Property({ type: 'json', nullable: true })
  billingAddress: PostalAddress | null = null;

  @Property({ type: 'json', defaultRaw: "'[]'" })
  serviceAddresses: ServiceAddress[] = [];

  /** The customer's id in the organization's accounting system; unique within the organization when set. */
  @Property({ type: 'text', nullable: true })
  externalReference: string | null = null;

  @Property({ type: 'text', nullable: true })
  notes: string | null = null;

  /** Lower case, trimmed, distinct, at most 20. */
  @Property({ type: ArrayType, columnType: 'text[]', defaultRaw: "'{}'" })
  tags: string[] = [];

  @Enum({ items: () => CustomerStatus, nativeEnumName: 'customer_status', default: CustomerStatus.ACTIVE })
  status: CustomerStatus = CustomerStatus.ACTIVE;

  @Property({ type: 'timestamptz', nullable: true })
  archivedAt: Date | null = null;

  /** Marketing notices (renewal notices) are not sent; transactional messages are. */
  @Property({ type: 'boolean', default: false })
  marketingOptOut: boolean = false;

  /** An active saved card (maintained by the Wallet). */
  @Property({ type: 'boolean', default: false })
  hasCard: boolean = false;

  /** An active saved bank account (maintained by the Wallet). */
  @Property({ type: 'boolean', default: false })
  hasBankAccount: boolean = false;

  /** An active saved method with consent to charge it for agreed purchases (maintained by the Wallet). */
  @Property({ type: 'boolean', default: false })
  hasConsent: boolean = false;

  /** Last day of the expiry month of the soonest-expiring active card, YYYY-MM-DD (maintained by the Wallet). */
  @Property({ type: 'date', nullable: true })
  cardExpiresOn: string | null = null;

  /** What the customer owes on issued invoices, in minor units (maintained by Invoicing). */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  balanceOwed: bigint = 0n;

  /** The currency of balanceOwed; null until Invoicing first reports a balance. */
  @Property({ type: 'string', columnType: 'char(3)', nullable: true })
  balanceCurrency: string | null = null;

  /** YYYY-MM-DD: the earliest due date among the customer's unpaid invoices (maintained by Invoicing). */
  @Property({ type: 'date', nullable: true })
  oldestUnpaidDueDate: string | null = null;

  /**
   * What the text search matches: folded name, email, phone digits, external reference, and the same for every
   * member of the account. Rewritten by refreshSearchText whenever one of them changes.
   */
  @Property({ type: 'text', lazy: true })
  searchText!: string;

  /** Recomputes the derived columns (sort key, search text) from the details and the account's members. */
  refreshDerived(members: readonly SearchableMember[]): void {
    this.sortName = fold(this.name);
    const parts = [
      this.name,
      this.email,
      phoneDigits(this.phone),
      this.externalReference,
      ...members.flatMap((m) => [m.name, m.email, phoneDigits(m.phone)]),
    ];
    this.searchText = parts
      .filter((p): p is string => typeof p === 'string' && p !== '')
      .map(fold)
      .join(' ');
  }
}
