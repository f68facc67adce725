import { Injectable } from '@nestjs/common';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { CustomerError } from '../customer.error.js';
import { fold, LIMITS, normalizeTag, Problems } from '../domain/customer-details.js';
import { Customer, CustomerStatus } from '../domain/customer.entity.js';

/**
 * Which customers: every condition given must hold (AND); a list is "any of". The same filter serves the
 * `customers` list and CustomerDirectory.findIds (mass invoicing and charging), so staff charge exactly whom they saw.
 */
export interface CustomerFilter {
  /** Words that must all appear in the name, email, phone, external reference or a member's name/contacts. */
  text?: string | null;
  /** Any of these tags (compared lower case). */
  tags?: readonly string[] | null;
  /** Any of these statuses; omitted or empty: ACTIVE and INACTIVE (archived customers are hidden). */
  status?: readonly CustomerStatus[] | null;
  hasCard?: boolean | null;
  hasBankAccount?: boolean | null;
  /** Has an active saved method the customer consented to be charged on. */
  hasConsent?: boolean | null;
  /**
   * Has an active card that has expired or expires within this many days (0: expired or expiring today), today
   * being the date in the organization's time zone by the injected Clock.
   */
  cardExpiringWithinDays?: number | null;
  /** Owes more than this many minor units on issued invoices (the balance Invoicing reports; 0: owes anything). */
  balanceOwedAbove?: bigint | null;
  /**
   * Has an unpaid invoice that is overdue by more than this many days: its due date is before today minus N, today
   * being the date in the organization's time zone (0: overdue at all).
   */
  overdueByMoreThanDays?: number | null;
}

/** The list order: folded name, then id, so that equal names still have one stable order for the cursor. */
export const CUSTOMER_ORDER = { sortName: 'asc', id: 'asc' } as const;

export const DEFAULT_STATUSES: readonly CustomerStatus[] = [CustomerStatus.ACTIVE, CustomerStatus.INACTIVE];

export const MAX_CARD_EXPIRY_DAYS = 3650;
export const MAX_OVERDUE_DAYS = 3650;
const MAX_SEARCH_WORDS = 8;
const PHONE_LIKE = /^[+\d\s().-]+$/;

/**
 * The LIKE patterns a search text means. A query that looks like a phone number ("(514) 555-01") is matched by its
 * digits, because the search text holds phone numbers as digits; any other query is split into words that must
 * each appear somewhere (folded like the search text: "éric" finds "Eric").
 */
export function searchPatterns(text: string): string[][] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const digits = trimmed.replace(/\D/g, '');
  if (PHONE_LIKE.test(trimmed) && digits.length >= 3) {
    // A national trunk prefix ("020 7946 0018" in the UK) is not part of the E.164 digits (442079460018).
    const national = digits.replace(/^0+/, '') || digits;
    const literal = fold(trimmed);
    return [[...new Set([national, literal])].map(contains)];
  }
  const words = [...new Set(fold(trimmed).split(' ').filter(Boolean))].slice(0, MAX_SEARCH_WORDS);
  return words.map((w) => [contains(w)]);
}

const contains = (value: string) => `%${value.replace(/[\\%_]/g, '\\$&')}%`;

/** YYYY-MM-DD of `now` in a time zone. */
export function localDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * The WHERE clause of a filter (the tenant filter adds the organization). `cardsExpiringBy` and `dueBefore` are
 * YYYY-MM-DD dates: cards expiring on or before it, unpaid invoices due before it.
 */
export function customerWhere(filter: CustomerFilter, cardsExpiringBy: string | null, dueBefore: string | null = null): FilterQuery<Customer> {
  const and: FilterQuery<Customer>[] = [];
  const statuses = filter.status?.length ? [...new Set(filter.status)] : DEFAULT_STATUSES;
  and.push({ status: statuses.length === 1 ? statuses[0] : { $in: [...statuses] } });
  for (const alternatives of searchPatterns(filter.text ?? '')) {
    and.push(
      alternatives.length === 1
        ? { searchText: { $like: alternatives[0] } }
        : { $or: alternatives.map((p) => ({ searchText: { $like: p } })) },
    );
  }
  const tags = [...new Set((filter.tags ?? []).map(normalizeTag).filter(Boolean))];
  if (tags.length) and.push({ tags: { $overlap: tags } });
  if (typeof filter.hasCard === 'boolean') and.push({ hasCard: filter.hasCard });
  if (typeof filter.hasBankAccount === 'boolean') and.push({ hasBankAccount: filter.hasBankAccount });
  if (typeof filter.hasConsent === 'boolean') and.push({ hasConsent: filter.hasConsent });
  if (cardsExpiringBy) and.push({ cardExpiresOn: { $lte: cardsExpiringBy } });
  if (filter.balanceOwedAbove !== null && filter.balanceOwedAbove !== undefined) and.push({ balanceOwed: { $gt: filter.balanceOwedAbove } });
  if (dueBefore) and.push({ oldestUnpaidDueDate: { $lt: dueBefore } });
  return and.length === 1 ? and[0]! : { $and: and };
}

/** Turns a CustomerFilter into a query, checking it first (the facade's callers skip GraphQL's validation). */
@Injectable()
export class CustomerSearch {
  constructor(
    private readonly clock: Clock,
    private readonly identity: IdentityDirectory,
  ) {}

  async where(em: EntityManager, filter: CustomerFilter): Promise<FilterQuery<Customer>> {
    this.check(filter);
    const days = filter.cardExpiringWithinDays;
    const overdue = filter.overdueByMoreThanDays;
    const given = (n: number | null | undefined): n is number => n !== null && n !== undefined;
    const today = given(days) || given(overdue) ? await this.today(em) : null;
    const by = given(days) ? addDays(today!, days) : null;
    // Overdue by more than N days: due before today − N (due yesterday is overdue by 1 day).
    const dueBefore = given(overdue) ? addDays(today!, -overdue) : null;
    return customerWhere(filter, by, dueBefore);
  }

  /**
   * Ids of every matching customer in list order, `size` at a time. Each batch is one short keyset range of the
   * list index (no OFFSET, no sort of the whole result), so a caller can work through 100k customers in bounded
   * memory; rows added behind the cursor while it runs are not visited. Rows come back raw, not as entities:
   * hydrating 1,000 entities per batch cost ten times the query itself (bench/README.md).
   */
  async *idBatches(em: EntityManager, filter: CustomerFilter, size = 1000): AsyncGenerator<string[]> {
    const where = await this.where(em, filter);
    let after: { sortName: string; id: string } | null = null;
    for (;;) {
      // (sort_name >= s) bounds the index range; the $or is the exact "after (s, id)" keyset condition.
      const cond: FilterQuery<Customer> = after
        ? { $and: [where, { sortName: { $gte: after.sortName } }, { $or: [{ sortName: { $gt: after.sortName } }, { id: { $gt: after.id } }] }] }
        : where;
      const qb = em
        .createQueryBuilder(Customer, 'c')
        .select(['id', 'sortName'])
        .where(cond as never)
        .orderBy({ ...CUSTOMER_ORDER })
        .limit(size);
      // The tenant filter, as em.find applies it (a query with no organization in scope throws).
      await qb.applyFilters();
      const rows: { id: string; sort_name: string }[] = await qb.execute('all', false);
      if (rows.length) yield rows.map((r) => r.id);
      if (rows.length < size) return;
      const last: { id: string; sort_name: string } = rows.at(-1)!;
      after = { sortName: last.sort_name, id: last.id };
    }
  }

  /** Today in the organization's time zone. */
  private async today(em: EntityManager): Promise<string> {
    const organizationId = currentTenant(em);
    if (!organizationId) throw new Error('CustomerSearch needs an EntityManager scoped to an organization');
    const org = await this.identity.organization(em, organizationId);
    return localDate(this.clock.now(), org?.timeZone ?? 'UTC');
  }

  private check(filter: CustomerFilter): void {
    const problems = new Problems();
    if ((filter.text?.length ?? 0) > LIMITS.searchText) {
      problems.add('filter.text', `must be at most ${LIMITS.searchText} characters`);
    }
    (filter.tags ?? []).forEach((tag, i) => {
      if (typeof tag !== 'string' || !normalizeTag(tag)) problems.add(`filter.tags.${i}`, 'must not be empty');
    });
    const statuses = Object.values(CustomerStatus) as string[];
    (filter.status ?? []).forEach((s, i) => {
      if (!statuses.includes(s)) problems.add(`filter.status.${i}`, `must be one of ${statuses.join(', ')}`);
    });
    const days = filter.cardExpiringWithinDays;
    if (days !== null && days !== undefined && (!Number.isInteger(days) || days < 0 || days > MAX_CARD_EXPIRY_DAYS)) {
      problems.add('filter.cardExpiringWithinDays', `must be a whole number of days from 0 to ${MAX_CARD_EXPIRY_DAYS}`);
    }
    const above = filter.balanceOwedAbove;
    if (above !== null && above !== undefined && (typeof above !== 'bigint' || above < 0n)) {
      problems.add('filter.balanceOwedAbove', 'must be a whole number of minor units, 0 or more');
    }
    const overdue = filter.overdueByMoreThanDays;
    if (overdue !== null && overdue !== undefined && (!Number.isInteger(overdue) || overdue < 0 || overdue > MAX_OVERDUE_DAYS)) {
      problems.add('filter.overdueByMoreThanDays', `must be a whole number of days from 0 to ${MAX_OVERDUE_DAYS}`);
    }
    if (problems.any) throw CustomerError.invalid(problems.list);
  }
}
