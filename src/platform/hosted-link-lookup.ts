import type { EntityManager, EntityName, FilterQuery, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, ErrorCode, isUuid } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { GatewayError, GatewayErrorCode, type SetupSession } from '../infra/payment-gateway/index.js';
import { hashLinkToken, LINK_TOKEN_SHAPE } from './hosted-pages.js';

/*
 * What every hosted page's service shares (profile requests /p, agreement sign-up /a, payment requests /pay): nobody
 * is signed in, so the link's row is found across organizations (by its token's hash, or by the id a gateway session
 * or a return URL names), and from then on everything runs on an EntityManager scoped to the row's organization.
 */

/** Gateway session ids: Stripe's `cs_live_…`/`cs_test_…` and the sandbox's. */
export const SESSION_SHAPE = /^[A-Za-z0-9_]{8,255}$/;

/** The 404 page every hosted page shows for a link that does not exist. */
export const UNKNOWN_LINK = { type: 'unknown', status: 404 } as const;

export interface FoundLink<T> {
  /** Scoped to the row's organization. */
  em: EntityManager;
  row: T;
}

/** The row `where` names in any organization, on a fresh EntityManager scoped to the row's organization; or null. */
export async function findAcrossOrganizations<T extends { organizationId: string }>(
  orm: MikroORM,
  entity: EntityName<T>,
  where: FilterQuery<T>,
): Promise<FoundLink<T> | null> {
  const em = orm.em.fork();
  const row = (await em.findOne(entity, where, { filters: { tenant: false } })) as T | null;
  if (!row) return null;
  scopeToTenant(em, row.organizationId);
  return { em, row };
}

/**
 * The row behind a link's token: its SHA-256 is the only key (a unique index, across organizations). A token that is
 * not well formed is not looked up at all.
 */
export function findByLinkToken<T extends { organizationId: string; tokenHash: string }>(
  orm: MikroORM,
  entity: EntityName<T>,
  token: string,
): Promise<FoundLink<T> | null> {
  if (!LINK_TOKEN_SHAPE.test(token)) return Promise.resolve(null);
  return findAcrossOrganizations(orm, entity, { tokenHash: hashLinkToken(token) } as FilterQuery<T>);
}

/** The row a return URL names by id (`/session/left?request=…`); null for anything else. */
export function findById<T extends { organizationId: string; id: string }>(orm: MikroORM, entity: EntityName<T>, id: string): Promise<FoundLink<T> | null> {
  if (!isUuid(id)) return Promise.resolve(null);
  return findAcrossOrganizations(orm, entity, { id } as FilterQuery<T>);
}

/** Back from the gateway's page: the session (read from the gateway), and the row its reference names. */
export type ReturnedSession<T> =
  | ({ kind: 'found'; session: SetupSession } & FoundLink<T>)
  /** Malformed, not found at the gateway, or naming no row: the 404 page. */
  | { kind: 'unknown' }
  /** The gateway failed otherwise: the page's failure handling decides (an outage is the 503 page). */
  | { kind: 'failed'; error: unknown };

/**
 * `/session/complete?session=…`: the session is read from the gateway, never trusted from the URL, and its reference
 * must name a row of `entity` (in any organization).
 */
export async function findReturnedSession<T extends { organizationId: string; id: string }>(
  orm: MikroORM,
  entity: EntityName<T>,
  sessionId: string,
  read: (sessionId: string) => Promise<SetupSession>,
): Promise<ReturnedSession<T>> {
  if (!SESSION_SHAPE.test(sessionId)) return { kind: 'unknown' };
  let session: SetupSession;
  try {
    session = await read(sessionId);
  } catch (error) {
    if (error instanceof GatewayError && error.code === GatewayErrorCode.NOT_FOUND) return { kind: 'unknown' };
    return { kind: 'failed', error };
  }
  if (!session.reference) return { kind: 'unknown' };
  const found = await findById(orm, entity, session.reference);
  return found ? { kind: 'found', session, ...found } : { kind: 'unknown' };
}

/**
 * How a hosted page answers an error it caught: `unavailable` (an outage the customer may retry: the 503 page),
 * `refused` (the application said no: its message, 409) or `unexpected` (a bug: logged, and the 503 page).
 */
export function hostedFailureKind(error: unknown): 'unavailable' | 'refused' | 'unexpected' {
  if ((error instanceof ApplicationError && error.code === ErrorCode.SERVICE_UNAVAILABLE) || (error instanceof GatewayError && error.retryable)) {
    return 'unavailable';
  }
  return error instanceof ApplicationError ? 'refused' : 'unexpected';
}
