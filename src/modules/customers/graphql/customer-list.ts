import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { Cursor } from '@mikro-orm/core';
import { ApplicationError } from '#libs/ddd/index.js';
import type { Connection, PageArgs } from '../../../graphql/pagination.js';
import { CUSTOMER_ORDER } from '../application/customer-search.js';
import { Customer } from '../domain/customer.entity.js';
import { CustomerView } from './customer.types.js';

/** The columns CustomerView shows (not the lazy search text), as entity properties. */
const VIEW_PROPERTIES = [
  'id',
  'name',
  'sortName',
  'email',
  'phone',
  'billingAddress',
  'serviceAddresses',
  'externalReference',
  'notes',
  'tags',
  'status',
  'marketingOptOut',
  'hasCard',
  'hasBankAccount',
  'hasConsent',
  'cardExpiresOn',
  'balanceOwed',
  'oldestUnpaidDueDate',
  'archivedAt',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof Customer)[];

type CustomerRow = Pick<Customer, (typeof VIEW_PROPERTIES)[number]>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What of a connection the GraphQL selection asks for: the count and the edges' cursors cost work of their own. */
export interface ListNeeds {
  totalCount: boolean;
  edges: boolean;
}

const invalidCursor = () => ApplicationError.badInput('after', 'is not a cursor of this connection', 'INVALID_CURSOR');

/** The (sortName, id) of an `after` cursor, as MikroORM's `findByCursor` encodes them for CUSTOMER_ORDER. */
function decodeAfter(after: string): { sortName: string; id: string } {
  let values: unknown;
  try {
    values = Cursor.decode(after);
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(values) || values.length !== 2) throw invalidCursor();
  const [sortName, id] = values as unknown[];
  if (typeof sortName !== 'string' || typeof id !== 'string' || !UUID.test(id)) throw invalidCursor();
  return { sortName, id };
}

/**
 * A page of the customer list as a read model: one keyset query of the view's columns, rows mapped straight to
 * CustomerView (no entity hydration, nothing put in the request's identity map), and the count only when the selection
 * asks for it. The same order, cursors and answers as `paginate(em, Customer, …)`; the tenant filter applies as in em.find.
 */
export async function customerPage(
  em: EntityManager,
  where: FilterQuery<Customer>,
  args: PageArgs,
  needs: ListNeeds,
): Promise<Connection<CustomerView>> {
  const after = args.after !== undefined && args.after !== null ? decodeAfter(args.after) : null;
  // (sort_name >= s) bounds the index range; the $or is the exact "after (s, id)" keyset condition.
  const cond: FilterQuery<Customer> = after
    ? { $and: [where, { sortName: { $gte: after.sortName } }, { $or: [{ sortName: { $gt: after.sortName } }, { id: { $gt: after.id } }] }] }
    : where;
  const qb = em
    .createQueryBuilder(Customer, 'c')
    .select([...VIEW_PROPERTIES])
    .where(cond as never)
    .orderBy({ ...CUSTOMER_ORDER })
    .limit(args.first + 1);
  // The tenant filter, as em.find applies it (a query with no organization in scope throws).
  await qb.applyFilters();
  if (needs.totalCount) {
    // The count rides on the page's statement as a scalar subquery (an index-only count on customer_list_idx for the
    // default filter): one round trip and one plan fewer than a statement of its own.
    const count = em.createQueryBuilder(Customer, 'n').count().where(where as never);
    await count.applyFilters();
    qb.addSelect(count.as('total_count'));
  }
  const rows = (await qb.execute('all', true)) as (CustomerRow & { total_count?: string | number })[];
  // An empty page has no row to carry the count (e.g. `after` the last customer): counted on its own then.
  const totalCount = !needs.totalCount ? 0 : rows.length ? Number(rows[0]!.total_count) : await em.count(Customer, where);
  const hasNextPage = rows.length > args.first;
  if (hasNextPage) rows.pop();
  const nodes = rows.map(viewOf);
  const cursorOf = (r: CustomerRow) => Cursor.encode([r.sortName, r.id]);
  return {
    nodes,
    edges: needs.edges ? rows.map((r, i) => ({ cursor: cursorOf(r), node: nodes[i]! })) : [],
    pageInfo: {
      hasNextPage,
      hasPreviousPage: after !== null,
      startCursor: rows.length ? cursorOf(rows[0]!) : null,
      endCursor: rows.length ? cursorOf(rows.at(-1)!) : null,
    },
    totalCount,
  };
}

/** A row as the entity would hold it: the query builder's mapping leaves the bigint as text. */
function viewOf(r: CustomerRow): CustomerView {
  return CustomerView.from({ ...r, balanceOwed: BigInt(r.balanceOwed as bigint | string) } as Customer);
}
