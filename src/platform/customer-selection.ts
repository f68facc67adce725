import type { EntityManager } from '@mikro-orm/postgresql';
import type { FieldProblem } from '#libs/ddd/index.js';
import type { CustomerDirectory, CustomerFilter } from '../modules/customers/index.js';

/**
 * The customers a batch works on (a mass invoice, a mass charge): those the `customers` list shows for a filter, in
 * its order, or an explicit list, in the order given. Exactly one of the two.
 */
export interface CustomerSelection {
  filter?: CustomerFilter | null;
  customerIds?: string[] | null;
}

export interface CustomerSelectionRules {
  /** Most customers in one batch. */
  max: number;
  /** How the batch is called in messages: "mass invoice", "mass charge". */
  noun: string;
  /** What it does to a customer, for "narrow it or <verb> in several batches": "invoice", "charge". */
  verb: string;
  /** The module's own errors: bad input (BAD_USER_INPUT) and unknown customers (NOT_FOUND), naming each field. */
  invalid(problems: FieldProblem[]): Error;
  notFound(problems: FieldProblem[]): Error;
}

/** Problems of the selection's shape, to report with the rest of the input before anything is read. */
export function selectionProblems(selection: CustomerSelection, rules: Pick<CustomerSelectionRules, 'max' | 'noun'>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const hasFilter = selection.filter !== undefined && selection.filter !== null;
  const hasList = selection.customerIds !== undefined && selection.customerIds !== null;
  if (hasFilter === hasList) problems.push({ field: 'filter', message: 'give either a filter or customerIds (not both)' });
  if (hasList && selection.customerIds!.length > rules.max) {
    problems.push({ field: 'customerIds', message: `at most ${rules.max} customers per ${rules.noun}` });
  }
  return problems;
}

/**
 * The ids of the selected customers (a list's duplicates once). A filter must match between 1 and `max` customers;
 * every listed id must be a customer of the organization (archived ones are accepted: the batch skips them), else
 * NOT_FOUND with the positions of the unknown ids in `fields` (another organization's customer is not ours to name).
 * Call after selectionProblems found nothing.
 */
export async function selectCustomers(
  directory: CustomerDirectory,
  em: EntityManager,
  selection: CustomerSelection,
  rules: CustomerSelectionRules,
): Promise<string[]> {
  if (selection.filter) {
    const ids: string[] = [];
    for await (const batch of directory.idBatches(em, selection.filter, 1000)) {
      ids.push(...batch);
      if (ids.length > rules.max) {
        throw rules.invalid([
          { field: 'filter', message: `matches more than ${rules.max} customers; narrow it or ${rules.verb} in several batches` },
        ]);
      }
    }
    if (!ids.length) throw rules.invalid([{ field: 'filter', message: 'matches no customers' }]);
    return ids;
  }
  const listed = selection.customerIds ?? [];
  const unique = [...new Set(listed)];
  if (!unique.length) throw rules.invalid([{ field: 'customerIds', message: 'give at least one customer' }]);
  const found = new Set((await directory.getMany(em, unique)).map((c) => c.id));
  const problems: FieldProblem[] = [];
  listed.forEach((id, i) => {
    if (!found.has(id) && problems.length < 20) problems.push({ field: `customerIds.${i}`, message: `no customer ${id} in this organization` });
  });
  if (problems.length) throw rules.notFound(problems);
  return unique;
}

/** The filter as stored on a batch: JSON, so bigints become strings. */
export function filterJson(filter: CustomerFilter): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(filter)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
  );
}

/**
 * Writes one item row per selected customer in a single statement (10,000 rows are one round trip, not 10,000
 * inserts): id, organization, timestamps, batch, position (0, 1, 2, … in selection order), customer, PENDING.
 */
export async function insertBatchItems(
  em: EntityManager,
  table: string,
  batch: { id: string; organizationId: string },
  customerIds: readonly string[],
  now: Date,
): Promise<void> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
  await em.execute(
    `insert into ${table} (id, organization_id, created_at, updated_at, batch_id, position, customer_id, status)
     select gen_random_uuid(), ?, ?, ?, ?, (t.ord - 1)::int, t.customer_id, 'PENDING'
       from unnest(?::uuid[]) with ordinality as t(customer_id, ord)`,
    [batch.organizationId, now, now, batch.id, `{${customerIds.join(',')}}`],
  );
}
