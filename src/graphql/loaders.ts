import DataLoader from 'dataloader';
import type { Principal, PrincipalOrganization } from '#libs/auth/index.js';

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

/**
 * The organization as the principal loader read it with the user (the usual case over HTTP): resolvers that need the
 * organization's currency, time zone or locale use it instead of a statement of their own. Undefined otherwise.
 */
export function principalOrganization(ctx: GraphQLContext | undefined): PrincipalOrganization | undefined {
  return (ctx?.req as { user?: Principal } | undefined)?.user?.organization;
}

/**
 * The organization's profile, read once per request however many resolvers need it (a page of customers asks for it
 * from the balance and the last payment, in the same tick). Taken from the principal when it carries it
 * (principalOrganization: no statement at all); otherwise read through `directory`, the Identity module's
 * IdentityDirectory.
 */
export function organizationOnce<T extends PrincipalOrganization>(
  ctx: GraphQLContext,
  directory: { organization(em: import('@mikro-orm/postgresql').EntityManager, id: string): Promise<T | null> },
  em: import('@mikro-orm/postgresql').EntityManager,
  organizationId: string,
): Promise<PrincipalOrganization | null> {
  const known = principalOrganization(ctx);
  if (known?.id === organizationId) return Promise.resolve(known);
  return ctx.loaders
    .get<string, PrincipalOrganization | null>('identity.organization', (ids) => Promise.all(ids.map((id) => directory.organization(em, id))))
    .load(organizationId);
}
