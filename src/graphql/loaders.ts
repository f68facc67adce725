import DataLoader from 'dataloader';

/**
 * Request-scoped DataLoaders: one per kind of lookup per request, created on first use. Resolvers of relations
 * go through them, so a page of N rows costs one query per relation instead of N.
 */
export class Loaders {
  private readonly loaders = new Map<string, DataLoader<unknown, unknown>>();

  get<K, V>(name: string, batch: (keys: readonly K[]) => Promise<(V | Error)[]>): DataLoader<K, V> {
    let loader = this.loaders.get(name) as DataLoader<K, V> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V>(batch, { maxBatchSize: 500 });
      this.loaders.set(name, loader as DataLoader<unknown, unknown>);
    }
    return loader;
  }
}

/** Orders fetched rows by the keys DataLoader asked for. */
export function byKeys<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K, missing: (key: K) => V | Error): (V | Error)[] {
  const map = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => map.get(k) ?? missing(k));
}

export interface GraphQLContext {
  req: import('express').Request;
  res: import('express').Response;
  loaders: Loaders;
}
