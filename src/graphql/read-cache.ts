import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { type DocumentNode, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import passport from 'passport';
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
  private readonly inflight = new Map<string, { snapshot: Snapshot; answer: Promise<Record<string, unknown> | undefined> }>();

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
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes, listening: this.listening, waiting: this.waiting };
  }

  /** Null while the listener is not listening: the request bypasses the cache. */
  snapshot(org: string): Snapshot | null {
    if (!this.listening) return null;
    return { org, generation: this.generations.get(org) ?? 0, epoch: this.epoch };
  }

  /** The key of an answer: who asks (user, role, organization), what (document, operation, variables), and when. */
  key(principal: Principal, queryHash: string, operationName: string | null, variables: unknown): string {
    const bucket = Math.floor(this.clock.now().getTime() / CLOCK_BUCKET_MS);
    return JSON.stringify([principal.organizationId, principal.userId, principal.role, queryHash, operationName ?? '', canonical(variables ?? {}), bucket]);
  }

  get(key: string, snapshot: Snapshot): Record<string, unknown> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== snapshot.generation || entry.epoch !== snapshot.epoch || entry.expiresAt <= Date.now()) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.counts.hits++;
    return entry.data;
  }

  set(key: string, snapshot: Snapshot, data: Record<string, unknown>): void {
    // Something changed while the answer was computed (or the listener dropped): it may predate the change.
    const now = this.snapshot(snapshot.org);
    if (!now || now.generation !== snapshot.generation || now.epoch !== snapshot.epoch) return;
    const bytes = 2 * JSON.stringify(data).length + 2 * key.length; // UTF-16 estimate of what the entry holds
    if (bytes > this.settings.maxBytes) return;
    const previous = this.entries.get(key);
    if (previous) this.remove(key, previous);
    this.entries.set(key, { ...snapshot, expiresAt: Date.now() + this.settings.ttlMs, bytes, data });
    this.bytes += bytes;
    this.counts.stores++;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.remove(k, e);
    }
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
   * running, if any: as fresh as this request computing it itself. Undefined when there is none or it failed.
   */
  async shared(key: string, snapshot: Snapshot): Promise<Record<string, unknown> | undefined> {
    const running = this.inflight.get(key);
    if (!running || running.snapshot.generation !== snapshot.generation || running.snapshot.epoch !== snapshot.epoch) return undefined;
    this.waiting++;
    const data = await running.answer.finally(() => this.waiting--);
    if (data) this.counts.shared++;
    return data;
  }

  /** This request computes the answer for the key: identical ones wait for `done`, which must always be called. */
  lead(key: string, snapshot: Snapshot): (data: Record<string, unknown> | undefined) => void {
    let resolve!: (data: Record<string, unknown> | undefined) => void;
    const entry = { snapshot, answer: new Promise<Record<string, unknown> | undefined>((r) => (resolve = r)) };
    this.inflight.set(key, entry);
    // A request that never reaches willSendResponse must not keep the others waiting.
    const timer = setTimeout(() => done(undefined), 10_000);
    timer.unref();
    const done = (data: Record<string, unknown> | undefined) => {
      clearTimeout(timer);
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
      resolve(data);
    };
    return done;
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
 * expiry, and the user's current state from the database), before any resolver runs. Null when not authenticated:
 * the request then runs normally and AccessGuard answers it.
 */
function authenticate(req: GraphQLContext['req']): Promise<Principal | null> {
  return new Promise((resolve) => {
    passport.authenticate('jwt', { session: false }, (err: unknown, user: Principal | false) => resolve(err || !user ? null : user))(req, {}, () => resolve(null));
  });
}

/**
 * The Apollo plugin: answers a cacheable query from the cache when it can, stores an error-free answer when nothing
 * changed while it was computed, and bumps the organization after each mutation (read-your-own-writes here without
 * waiting for the notification).
 */
export function readCachePlugin(cache: GraphQLReadCache): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      let outcome: ReadCacheOutcome | undefined;
      let pending: { key: string; snapshot: Snapshot; done: (data: Record<string, unknown> | undefined) => void } | undefined;
      return {
        async responseForOperation({ operation, document, queryHash, operationName, request, contextValue }) {
          if (!cache.enabled || operation.operation !== 'query' || !queryHash) return null;
          if (!cache.cacheable(queryHash, document, operation)) {
            outcome = 'uncacheable';
            return null;
          }
          const principal = await authenticate(contextValue.req);
          if (!principal) return null;
          // Taken before anything is read for this request: a change from now on keeps its answer out of the cache.
          const snapshot = cache.snapshot(principal.organizationId);
          if (!snapshot) {
            outcome = 'bypass';
            cache.noteBypass();
            return null;
          }
          const key = cache.key(principal, queryHash, operationName, request.variables);
          const data = cache.get(key, snapshot);
          if (data) {
            outcome = 'hit';
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data } } };
          }
          const shared = await cache.shared(key, snapshot);
          if (shared) {
            outcome = 'shared';
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data: shared } } };
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
          pending.done(data);
          if (data) cache.set(pending.key, pending.snapshot, data);
        },
      };
    },
  };
}
