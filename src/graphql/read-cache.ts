import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { type DocumentNode, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import passport from 'passport';
import { ExtractJwt } from 'passport-jwt';
import type { NextFunction, Request, Response } from 'express';
import pg from 'pg';
import type { Principal } from '#libs/auth/index.js';
import { Clock } from '#libs/ddd/index.js';
import { AppConfig } from '../config/index.js';
import type { GraphQLContext } from './loaders.js';

/** The channel the triggers of Migration20261201220000_data_change_notifications notify, payload the organization id. */
export const DATA_CHANGED_CHANNEL = 'settle_data_changed';

/**
 * Root query fields whose answer is a pure read of the organization's data, the same for the same user, role and
 * variables until a row of the organization changes or the organization's date changes (docs/decisions/0004). An
 * operation is cached only when every root field it selects is one of these. Left out on purpose: `me`, users and
 * the notification feeds (about the user rather than the organization's receivables), anything about secrets or
 * connections (accounting, webhooks), previews, and lists defined by the clock at a finer grain than a day
 * (processing and upcoming payments, the action center).
 */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'customers', 'customer',
  'invoices', 'invoice',
  'paymentMethods', 'paymentMethod',
  'payments', 'payment',
  'credits', 'credit',
  'receipts', 'receipt',
  'receivedPayments', 'receivedPayment',
  'agreements', 'agreement',
  'installmentPlan',
]);

/**
 * Fields computed from "today" (`daysOverdue`, `balance.overdue`, `expiringWithinDays` filters …) change at the
 * organization's local midnight without any write. Every time zone's midnight falls on a quarter hour of UTC, so
 * the key carries the quarter hour of the application clock: an answer is never served across a local midnight.
 */
const CLOCK_BUCKET_MS = 15 * 60 * 1000;

/** hit: from the cache; shared: the answer of an identical request already running since the last change. */
export type ReadCacheOutcome = 'hit' | 'shared' | 'miss' | 'bypass' | 'uncacheable';

/** The header each GraphQL answer carries: how the read cache took part (observable by tests and the bench). */
export const READ_CACHE_HEADER = 'x-settle-read-cache';

interface Entry {
  org: string;
  generation: number;
  epoch: number;
  expiresAt: number;
  bytes: number;
  data: Record<string, unknown>;
  /** The HTTP body Apollo sends for this answer (its stringifyResult of `{ data }`), for the fast path. */
  body: string;
}

/** A principal passport accepted for a token, trusted until its organization changes (user, role, organization rows). */
interface KnownPrincipal {
  principal: Principal;
  generation: number;
  epoch: number;
  expiresAt: number;
}

/** A computed answer: its `data`, and the HTTP body Apollo sends for it. */
export interface Answer {
  data: Record<string, unknown>;
  body: string;
}

/** What a request saw when it started: its answer may be stored only if nothing changed since. */
export interface Snapshot {
  org: string;
  generation: number;
  epoch: number;
}

export interface ReadCacheStats {
  hits: number;
  shared: number;
  misses: number;
  stores: number;
  bypasses: number;
  invalidations: number;
  entries: number;
  bytes: number;
  listening: boolean;
  /** Requests waiting for an identical running miss right now. */
  waiting: number;
  /** Access tokens whose principal is known (see `principalFor`). */
  principals: number;
}

/**
 * Per-process cache of GraphQL query answers (`data` only), invalidated per organization by PostgreSQL
 * notifications (LISTEN on a connection of its own) and by this process's own mutations.
 *
 * Correctness rests on generations: every organization has a generation, bumped on each notification or local
 * mutation. An entry is served only while its organization's generation and the listener's epoch are the ones it
 * was computed under, and a request stores its answer only if they did not move between the request's start and its
 * end (so a request that read before a commit and finished after the commit's notification never stores).
 * While the listener is down nothing is served or stored, and everything is dropped (notifications were lost).
 */
@Injectable()
export class GraphQLReadCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('GraphQLReadCache');
  private readonly settings: AppConfig['graphql']['readCache'];
  private readonly entries = new Map<string, Entry>(); // insertion order = LRU order (a hit moves it to the end)
  private readonly generations = new Map<string, number>();
  private readonly cacheableOps = new Map<string, boolean>();
  /** By access token (the exact string passport-jwt verified): what the strategy answered, see `principalFor`. */
  private readonly principals = new Map<string, KnownPrincipal>();
  private counter = 0;
  private waiting = 0;
  private epoch = 0;
  private bytes = 0;
  private listening = false;
  private stopped = false;
  private client?: pg.Client;
  private retry?: NodeJS.Timeout;
  private retryMs = 100;
  private readonly counts = { hits: 0, shared: 0, misses: 0, stores: 0, bypasses: 0, invalidations: 0 };
  /**
   * Misses being computed, by key: an identical request that starts under the same generation waits for that answer
   * instead of computing it again (under a steady stream of writes, 50 concurrent misses would otherwise each take
   * long enough that another write lands before any of them could be stored).
   */
  private readonly inflight = new Map<string, { snapshot: Snapshot; answer: Promise<Answer | undefined> }>();
  /** Principals being loaded, by token: identical requests after a change wait for one load (as for misses). */
  private readonly principalLoads = new Map<string, { snapshot: Snapshot; principal: Promise<Principal | null> }>();
  /** Query texts and operation names the plugin found cacheable: only those are looked at by the fast path. */
  private readonly cacheableTexts = new Set<string>();

  constructor(
    @Inject(AppConfig) config: AppConfig,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(MikroORM) private readonly orm: MikroORM,
  ) {
    this.settings = config.graphql.readCache;
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  onApplicationBootstrap(): void {
    if (this.enabled) void this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.down();
    await this.client?.end().catch(() => undefined);
  }

  stats(): ReadCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes, listening: this.listening, waiting: this.waiting, principals: this.principals.size };
  }

  /** Null while the listener is not listening: the request bypasses the cache. */
  snapshot(org: string): Snapshot | null {
    if (!this.listening) return null;
    return { org, generation: this.generations.get(org) ?? 0, epoch: this.epoch };
  }

  /**
   * The key of an answer: who asks (user, role, organization), what (the query text, the operation name and the
   * variables as the client sent them), and when.
   */
  key(principal: Principal, query: string, operationName: string | null | undefined, variables: unknown): string {
    const bucket = Math.floor(this.clock.now().getTime() / CLOCK_BUCKET_MS);
    return JSON.stringify([principal.organizationId, principal.userId, principal.role, query, operationName ?? '', canonical(variables ?? {}), bucket]);
  }

  get(key: string, snapshot: Snapshot): Record<string, unknown> | undefined {
    return this.entry(key, snapshot)?.data;
  }

  /** The HTTP body of a cached answer (the fast path, `readCacheMiddleware`). */
  body(key: string, snapshot: Snapshot): string | undefined {
    return this.entry(key, snapshot)?.body;
  }

  private entry(key: string, snapshot: Snapshot): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== snapshot.generation || entry.epoch !== snapshot.epoch || entry.expiresAt <= Date.now()) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.counts.hits++;
    return entry;
  }

  /**
   * The principal passport's `jwt` strategy answered for this exact token, while nothing of its organization changed
   * since (users, roles and the organization are tenant rows: their triggers bump the organization like any other
   * write, and so does a mutation here), the listener stayed up, and the token has not expired. The same freshness as
   * a cached answer: a disabled user or a changed role is seen by the next request after the change is heard.
   */
  principalFor(token: string): Principal | undefined {
    const known = this.principals.get(token);
    if (!known) return undefined;
    const org = known.principal.organizationId;
    if (!this.listening || known.epoch !== this.epoch || (this.generations.get(org) ?? 0) !== known.generation || known.expiresAt <= Date.now()) {
      this.principals.delete(token);
      return undefined;
    }
    return known.principal;
  }

  /**
   * Loads the principal of a token with `load` (the strategy), or joins a load of the same token that started under
   * the organization's current generation (as fresh as loading it now), and remembers the result for `principalFor`.
   */
  loadPrincipal(token: string, load: () => Promise<Principal | null>): Promise<Principal | null> {
    const claims = unverifiedClaims(token);
    // Taken before the user is read: a change to the organization from now on keeps this principal from being reused.
    const before = claims ? this.snapshot(claims.org) : null;
    if (!claims || !before) return load();
    const running = this.principalLoads.get(token);
    if (running && running.snapshot.generation === before.generation && running.snapshot.epoch === before.epoch) return running.principal;
    const principal = load().then((p) => {
      if (p) this.rememberPrincipal(token, before, p, claims.exp * 1000);
      return p;
    });
    const entry = { snapshot: before, principal };
    this.principalLoads.set(token, entry);
    // Forgotten once settled; a failed load is the caller's to handle (awaited there), not an unhandled rejection here.
    principal.then(
      () => this.forgetLoad(token, entry),
      () => this.forgetLoad(token, entry),
    );
    return principal;
  }

  private forgetLoad(token: string, entry: { principal: Promise<Principal | null> }): void {
    if (this.principalLoads.get(token) === entry) this.principalLoads.delete(token);
  }

  /** Remembers what the strategy answered for a token, if its organization did not change since `before` was taken. */
  private rememberPrincipal(token: string, before: Snapshot, principal: Principal, tokenExpiresAt: number): void {
    const now = this.snapshot(before.org);
    if (!now || now.generation !== before.generation || now.epoch !== before.epoch || principal.organizationId !== before.org) return;
    if (this.principals.size >= this.settings.maxEntries) this.principals.delete(this.principals.keys().next().value!);
    this.principals.set(token, { principal, ...before, expiresAt: Math.min(tokenExpiresAt, Date.now() + this.settings.ttlMs) });
  }

  /** Stores an answer computed under `snapshot`, unless something changed since; returns it with its HTTP body. */
  set(key: string, snapshot: Snapshot, data: Record<string, unknown>): Answer {
    const answer = { data, body: bodyOf(data) };
    // Something changed while the answer was computed (or the listener dropped): it may predate the change.
    const now = this.snapshot(snapshot.org);
    if (!now || now.generation !== snapshot.generation || now.epoch !== snapshot.epoch) return answer;
    const { body } = answer;
    const bytes = 4 * body.length + 2 * key.length; // UTF-16 estimate of what the entry holds (the data and its JSON)
    if (bytes > this.settings.maxBytes) return answer;
    const previous = this.entries.get(key);
    if (previous) this.remove(key, previous);
    this.entries.set(key, { ...snapshot, expiresAt: Date.now() + this.settings.ttlMs, bytes, data, body });
    this.bytes += bytes;
    this.counts.stores++;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.remove(k, e);
    }
    return answer;
  }

  /** A write to the organization committed (notification) or completed here (mutation): its entries are stale. */
  bump(org: string): void {
    this.generations.set(org, ++this.counter);
    this.counts.invalidations++;
  }

  noteMiss(): void {
    this.counts.misses++;
  }

  /**
   * The answer of an identical request that started under the same generation and epoch as this one and is still
   * running, if any: as fresh as this request computing it itself (wait for it with `wait`; it resolves undefined if
   * that request failed). Checking and then calling `lead` must happen without an await in between, or identical
   * requests arriving together would all lead.
   */
  running(key: string, snapshot: Snapshot): Promise<Answer | undefined> | undefined {
    const running = this.inflight.get(key);
    if (!running || running.snapshot.generation !== snapshot.generation || running.snapshot.epoch !== snapshot.epoch) return undefined;
    return running.answer;
  }

  /** Waits for a running identical request's answer (`running`). */
  async wait(running: Promise<Answer | undefined>): Promise<Answer | undefined> {
    this.waiting++;
    const answer = await running.finally(() => this.waiting--);
    if (answer) this.counts.shared++;
    return answer;
  }

  /** This request computes the answer for the key: identical ones wait for `done`, which must always be called. */
  lead(key: string, snapshot: Snapshot): (answer: Answer | undefined) => void {
    let resolve!: (answer: Answer | undefined) => void;
    const entry = { snapshot, answer: new Promise<Answer | undefined>((r) => (resolve = r)) };
    this.inflight.set(key, entry);
    // A request that never reaches willSendResponse must not keep the others waiting.
    const timer = setTimeout(() => done(undefined), 10_000);
    timer.unref();
    const done = (answer: Answer | undefined) => {
      clearTimeout(timer);
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
      resolve(answer);
    };
    return done;
  }

  /** The plugin found this query text and operation name cacheable: the fast path may look for its answers. */
  noteCacheableText(query: string, operationName: string | null | undefined): void {
    if (this.cacheableTexts.size >= 10_000) this.cacheableTexts.clear();
    this.cacheableTexts.add(JSON.stringify([operationName ?? '', query]));
  }

  knownCacheable(query: string, operationName: string | null | undefined): boolean {
    return this.cacheableTexts.has(JSON.stringify([operationName ?? '', query]));
  }

  noteBypass(): void {
    this.counts.bypasses++;
  }

  /** Whether every root field of the operation is cacheable (memoized per document and operation). */
  cacheable(queryHash: string, document: DocumentNode, operation: OperationDefinitionNode): boolean {
    const memo = `${queryHash}:${operation.name?.value ?? ''}`;
    let known = this.cacheableOps.get(memo);
    if (known === undefined) {
      known = operation.operation === 'query' && rootFieldsCacheable(document, operation.selectionSet, new Set());
      if (this.cacheableOps.size >= 10_000) this.cacheableOps.clear();
      this.cacheableOps.set(memo, known);
    }
    return known;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  /** The listener is gone: notifications may be lost from now until it listens again, so nothing cached is trusted. */
  private down(): void {
    this.listening = false;
    this.epoch++;
    this.entries.clear();
    this.principals.clear();
    this.bytes = 0;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const url = this.orm.config.get('clientUrl');
    const client = new pg.Client({ connectionString: url, application_name: 'settle-read-cache', keepAlive: true });
    this.client = client;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      this.down();
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log.warn(`read cache bypassed, LISTEN connection lost: ${error instanceof Error ? error.message : String(error)}`);
      this.retry = setTimeout(() => void this.listen(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5_000);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (n) => {
      if (n.channel === DATA_CHANGED_CHANNEL && n.payload) this.bump(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${DATA_CHANGED_CHANNEL}`);
    } catch (error) {
      fail(error);
      return;
    }
    if (failed || this.stopped) return;
    // Entries were dropped when the listener went down; from here on every change is heard.
    this.epoch++;
    this.listening = true;
    this.retryMs = 100;
  }
}

function rootFieldsCacheable(document: DocumentNode, selectionSet: SelectionSetNode, seen: Set<string>): boolean {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '__typename' && !CACHEABLE_ROOT_FIELDS.has(selection.name.value)) return false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!rootFieldsCacheable(document, selection.selectionSet, seen)) return false;
    } else {
      const name = selection.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === name);
      if (!fragment || fragment.kind !== Kind.FRAGMENT_DEFINITION || !rootFieldsCacheable(document, fragment.selectionSet, seen)) return false;
    }
  }
  return true;
}

/** JSON with object keys sorted: the same variables give the same key whatever order the client sent them in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The request's principal, authenticated exactly as AccessGuard does it (passport's `jwt` strategy: signature,
 * expiry, and the user's current state from the database), before any resolver runs, or known from an earlier
 * request with the same token while nothing of its organization changed (`principalFor`). Null when not
 * authenticated: the request then runs normally and AccessGuard answers it. Otherwise it is also set as `req.user`,
 * so the guard does not load it a second time.
 */
async function authenticate(cache: GraphQLReadCache, req: GraphQLContext['req']): Promise<Principal | null> {
  const authed = req as { user?: Principal };
  if (authed.user) return authed.user;
  const token = bearerToken(req);
  if (!token) return null;
  const principal =
    cache.principalFor(token) ??
    (await cache.loadPrincipal(token, () =>
      new Promise<Principal | null>((resolve) => {
        passport.authenticate('jwt', { session: false }, (err: unknown, user: Principal | false) => resolve(err || !user ? null : user))(req, {}, () => resolve(null));
      }),
    ));
  if (principal) authed.user = principal;
  return principal;
}

/** Apollo's default stringifyResult of `{ errors, data, extensions }` with only `data` set: the bytes it sends. */
function bodyOf(data: Record<string, unknown>): string {
  return `{"data":${JSON.stringify(data)}}\n`;
}

/** The token exactly as the `jwt` strategy extracts it (so a remembered principal is the one passport verified). */
const bearerToken = ExtractJwt.fromAuthHeaderAsBearerToken() as (req: unknown) => string | null;

/** The organization and expiry a token claims, read without verifying it: only used once passport accepted it. */
function unverifiedClaims(token: string): { org: string; exp: number } | null {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { org?: unknown; exp?: unknown };
    return typeof claims.org === 'string' && typeof claims.exp === 'number' ? { org: claims.org, exp: claims.exp } : null;
  } catch {
    return null;
  }
}

/** What Apollo answers a single result with, by the request's Accept header (its chooseContentTypeForSingleResultResponse). */
const RESULT_MEDIA_TYPES = ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];

/**
 * The fast path, an Express middleware on /graphql in front of Apollo. A POSTed JSON query that the plugin already
 * found cacheable, from a user the cache can authenticate, is answered with the bytes Apollo sent for the same query
 * text, operation name, variables and principal, or with the answer of an identical request computing it now:
 * without parsing, validating, costing or serializing it again, and (while nothing of the organization changed)
 * without reading the user (bench/README.md, GraphQL reads). Anything else (a miss, another content type, a batch,
 * persisted-query extensions, a token passport refuses, the listener down) goes on to Apollo, where the plugin below
 * serves it. A stored answer passed Apollo's parse, validation, depth and cost checks for the same document and
 * variables.
 */
export function readCacheMiddleware(cache: GraphQLReadCache): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (!cache.enabled || req.method !== 'POST') return next();
    const body = req.body as { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.query !== 'string' || body.extensions !== undefined) return next();
    const { query, operationName, variables } = body;
    if (operationName != null && typeof operationName !== 'string') return next();
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return next();
    // Apollo's CSRF prevention and body parsing accept exactly this media type for a POST; anything else is its to refuse.
    const contentType = req.headers['content-type'];
    if (!contentType || contentType.split(';', 1)[0]!.trim().toLowerCase() !== 'application/json') return next();
    if (!cache.knownCacheable(query, operationName)) return next();
    const mediaType = req.headers.accept ? req.accepts(RESULT_MEDIA_TYPES) : RESULT_MEDIA_TYPES[0];
    if (!mediaType) return next(); // Apollo answers 406
    const send = (answer: string, outcome: ReadCacheOutcome) => {
      res.setHeader('cache-control', 'no-store');
      res.setHeader(READ_CACHE_HEADER, outcome);
      res.setHeader('content-type', mediaType);
      res.statusCode = 200;
      res.send(answer);
    };
    const token = bearerToken(req);
    const known = token ? cache.principalFor(token) : undefined;
    const key = (principal: Principal) => cache.key(principal, query, operationName as string | null | undefined, variables);
    if (known) {
      // The common case stays synchronous: a known user and a stored answer.
      const snapshot = cache.snapshot(known.organizationId);
      const hit = snapshot ? cache.body(key(known), snapshot) : undefined;
      if (hit !== undefined) return send(hit, 'hit');
    }
    void (async () => {
      const principal = known ?? (await authenticate(cache, req));
      const snapshot = principal && cache.snapshot(principal.organizationId);
      if (!principal || !snapshot) return next();
      (req as { user?: Principal }).user = principal;
      const k = key(principal);
      const hit = known ? undefined : cache.body(k, snapshot);
      if (hit !== undefined) return send(hit, 'hit');
      const running = cache.running(k, snapshot);
      if (running) {
        const shared = await cache.wait(running);
        return shared ? send(shared.body, 'shared') : next();
      }
      // This request computes the answer (through Apollo, the plugin below): identical ones wait here from now on.
      // Whatever becomes of it, the others are released when its response ends.
      const done = cache.lead(k, snapshot);
      res.once('close', () => done(undefined));
      leads.set(req, { key: k, snapshot, done });
      next();
    })().catch(next);
  };
}

/** Misses the fast path started (`lead`) and handed on to Apollo, by request: the plugin computes and stores them. */
const leads = new WeakMap<object, { key: string; snapshot: Snapshot; done: (answer: Answer | undefined) => void }>();

/**
 * The Apollo plugin: answers a cacheable query from the cache when it can, stores an error-free answer when nothing
 * changed while it was computed, and bumps the organization after each mutation (read-your-own-writes here without
 * waiting for the notification).
 */
export function readCachePlugin(cache: GraphQLReadCache): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      let outcome: ReadCacheOutcome | undefined;
      let pending: { key: string; snapshot: Snapshot; done: (answer: Answer | undefined) => void } | undefined;
      return {
        async responseForOperation({ operation, document, queryHash, request, contextValue }) {
          if (!cache.enabled || operation.operation !== 'query' || !queryHash || typeof request.query !== 'string') return null;
          if (!cache.cacheable(queryHash, document, operation)) {
            outcome = 'uncacheable';
            return null;
          }
          cache.noteCacheableText(request.query, request.operationName);
          const led = leads.get(contextValue.req);
          if (led) {
            outcome = 'miss';
            cache.noteMiss();
            pending = led;
            return null;
          }
          const principal = await authenticate(cache, contextValue.req);
          if (!principal) return null;
          // Taken before anything is read for this request: a change from now on keeps its answer out of the cache.
          const snapshot = cache.snapshot(principal.organizationId);
          if (!snapshot) {
            outcome = 'bypass';
            cache.noteBypass();
            return null;
          }
          const key = cache.key(principal, request.query, request.operationName, request.variables);
          const data = cache.get(key, snapshot);
          if (data) {
            outcome = 'hit';
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data } } };
          }
          const running = cache.running(key, snapshot);
          const shared = running && (await cache.wait(running));
          if (shared) {
            outcome = 'shared';
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data: shared.data } } };
          }
          outcome = 'miss';
          cache.noteMiss();
          pending = { key, snapshot, done: cache.lead(key, snapshot) };
          return null;
        },
        async willSendResponse({ response, operation, contextValue }) {
          if (outcome) response.http.headers.set(READ_CACHE_HEADER, outcome);
          if (!cache.enabled) return;
          if (operation?.operation === 'mutation') {
            const org = (contextValue.req as { user?: Principal }).user?.organizationId;
            if (org) cache.bump(org);
            return;
          }
          if (!pending) return;
          const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const data = result && !result.errors?.length && result.data ? result.data : undefined;
          pending.done(data ? cache.set(pending.key, pending.snapshot, data) : undefined);
        },
      };
    },
  };
}
