import type { EntityManager } from '@mikro-orm/postgresql';

interface RawExecutor {
  executeQuery(query: { sql: string; parameters: readonly unknown[]; query: { kind: 'RawNode'; sqlFragments: string[]; parameters: never[] }; queryId: { queryId: string } }): Promise<{
    rows: unknown[];
  }>;
}

let seq = 0;

/**
 * `em.execute(sql, params)` with real bind parameters: the `?` placeholders become `$1…$n` and the values travel
 * beside the text instead of being inlined into it. Same connection and transaction as `em.execute` (the EntityManager's
 * transaction context, else a pooled connection with its session context), same errors (MikroORM's converted
 * exceptions), same rows. For the bulk paths whose parameters are large JSON documents: MikroORM's `execute` escapes
 * and copies each one into the statement text (`formatQuery`), which costs node CPU and garbage; PostgreSQL then
 * lexes it back. Values are sent as pg sends them (strings as text, Dates as timestamps, null as NULL); pass
 * bigints as strings. The SQL must not contain a literal `?` (jsonb's `?` operators): write `jsonb_exists` instead.
 */
export async function executeBound<T = Record<string, unknown>[]>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T> {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  if (n !== params.length) throw new Error(`executeBound: ${n} placeholder(s) for ${params.length} parameter(s)`);
  const ctx = em.getTransactionContext() as unknown as RawExecutor | undefined;
  const executor: RawExecutor = ctx ?? (em.getConnection().getClient() as unknown as RawExecutor);
  try {
    const result = await executor.executeQuery({
      sql: text,
      parameters: params,
      query: { kind: 'RawNode', sqlFragments: [text], parameters: [] },
      queryId: { queryId: `bound-${++seq}` },
    });
    return result.rows as T;
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  }
}
