/**
 * npm run bench:deliveries [-- --agreements 2000 --keep]
 * OUTBOX_CONCURRENCY=4 npm run bench:deliveries      # another delivery concurrency (the app's and the baseline's)
 * BENCH_NOOP_HANDLERS=1 / BENCH_ONLY_HANDLER=<name>  # diagnostics: every handler a no-op / all but one
 *
 * Event deliveries behind a billing run: how fast the outbox's events reach their handlers. A billing run of N
 * agreements (the app's own runner, as bench:billing) leaves its events in the outbox; then the relay publishes them
 * and the worker's delivery processor (the app's, in this process: role worker, Bull on Redis) hands each event to
 * each subscribed handler — receipts, installment plans, dunning, webhooks fan-out, accounting sync, … — until every
 * (event, handler) has its inbox row. Measured: deliveries per second, node and PostgreSQL CPU per delivery, and the
 * deliveries per handler. The baseline, on the same machine right after: the same number of Bull jobs through a
 * queue of its own with the same concurrency, each writing one inbox row in its own transaction (the queue plus the
 * delivery's bookkeeping, no handler). Prints and writes bench/results/outbox-deliveries.md.
 *
 * BENCH_DATABASE_URL: a server where the bench may create and drop settle_bench_deliveries (default
 * postgresql://postgres@127.0.0.1:5432/postgres). BENCH_REDIS_URL (default redis://127.0.0.1:6379), under a queue
 * prefix of its own.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import Bull from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { FixedClock, newId } from '#libs/ddd/index.js';
import { EventHandlerRegistry, OutboxRelay } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { checkMigrations } from '../src/infra/database/migrations.js';
import { BillingRunRunner } from '../src/modules/agreements/application/billing-run-runner.js';
import { BillingRuns } from '../src/modules/agreements/application/billing-runs.use-case.js';
import { backendCpu } from './support/cpu.js';
import { seedBillableCustomers } from './support/billing-seed.js';
import { freshDatabase } from './support/bench-database.js';
import { startWorkerApp, type WorkerApp } from './support/worker-app.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const AGREEMENTS = Number(option('agreements', '2000'));
const KEEP = args.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'settle_bench_deliveries';
const TODAY = '2026-06-15';
const clock = new FixedClock(`${TODAY}T15:00:00Z`);
/** The delivery processor's concurrency (OUTBOX_CONCURRENCY, the app's default 4); the baseline uses the same. */
const CONCURRENCY = Number(process.env.OUTBOX_CONCURRENCY ?? 4);

/** Every statement this process sends to PostgreSQL (the app's and the baseline's), counted per measurement. */
let statements = 0;
const originalQuery = pg.Client.prototype.query as (...a: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (this: unknown, ...a: unknown[]) {
  statements++;
  return originalQuery.apply(this, a);
};

interface Measured {
  deliveries: number;
  wallMs: number;
  nodeCpuMs: number;
  pgCpuMs: number;
  statements: number;
}

async function until(what: string, seconds: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const pgDelta = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, ms]) => sum + ms - (before.get(pid) ?? 0), 0);

/** The floor: the same number of Bull jobs, same concurrency, each one inbox row in its own transaction. */
async function baseline(dbUrl: string, jobs: number): Promise<Measured> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await db.query(`create table bench_inbox (like outbox_delivery including all)`);
  const queue = new Bull<{ messageId: string; handler: string }>('bench-floor', REDIS_URL, { prefix: `settle-bench-floor-${randomBytes(4).toString('hex')}` });
  try {
    let done = 0;
    void queue.process(CONCURRENCY, async (job) => {
      const c = await pool.connect();
      try {
        await c.query('begin');
        await c.query(
          `insert into bench_inbox (id, message_id, handler, event_type, organization_id, status, attempts, updated_at)
           values ($1, $2, $3, 'Bench', null, 'PROCESSED', 1, now()) on conflict (message_id, handler) do nothing`,
          [randomUUID(), job.data.messageId, job.data.handler],
        );
        await c.query('commit');
      } finally {
        c.release();
      }
      done++;
    });
    const data = Array.from({ length: jobs }, (_, i) => ({ messageId: randomUUID(), handler: `h${i % 13}` }));
    const cpu0 = process.cpuUsage();
    const pg0 = await backendCpu(db);
    const statements0 = statements;
    const started = performance.now();
    for (let i = 0; i < data.length; i += 1000) {
      await queue.addBulk(data.slice(i, i + 1000).map((d) => ({ data: d, opts: { jobId: `${d.messageId}:${d.handler}`, removeOnComplete: true, removeOnFail: true } })));
    }
    await until('the baseline jobs', 600, async () => done >= jobs);
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    return { deliveries: jobs, wallMs, nodeCpuMs: (cpu.user + cpu.system) / 1000, pgCpuMs: pgDelta(pg0, await backendCpu(db)), statements: statements - statements0 };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await db.end();
    await pool.end();
  }
}

async function main(): Promise<void> {
  const bench = await freshDatabase(ADMIN_URL, DB_NAME);
  const { db, url: dbUrl } = bench;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'settle-bench-deliveries-'));
  let app: WorkerApp | undefined;
  try {
    await checkMigrations(dbUrl, true);
    const org = newId();
    await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, 'Benchmark Pools', 'USD', 'UTC', 'en-US', now())`, [org]);
    await seedBillableCustomers(db, { organizationId: org, count: AGREEMENTS, now: clock.now().toISOString(), startDate: `${TODAY.slice(0, 7)}-01` });
    await db.query('vacuum (analyze)');

    app = await startWorkerApp({ databaseUrl: dbUrl, redisUrl: REDIS_URL, clock, env: { DATA_DIR: dataDir, OUTBOX_CONCURRENCY: String(CONCURRENCY) } });
    const orm = app.get(MikroORM);
    const runs = app.get(BillingRuns);
    const runner = app.get(BillingRunRunner);
    const relay = app.get(OutboxRelay);
    const registry = app.get(EventHandlerRegistry);
    const only = process.env.BENCH_ONLY_HANDLER;
    if (process.env.BENCH_NOOP_HANDLERS || only) {
      // Diagnostics: every handler does nothing (BENCH_NOOP_HANDLERS=1), or all but one (BENCH_ONLY_HANDLER=<name>):
      // what the delivery machinery alone costs, and what each handler adds to it.
      for (const handler of new Set(registry.subscriptions().map((s) => s.handler))) {
        const consumer = registry.get(handler) as { handle: (...a: unknown[]) => Promise<void> } | undefined;
        if (consumer && handler !== only) consumer.handle = async () => undefined;
      }
    }

    // The billing run: its events stay in the outbox (nothing relays them until the measurement starts).
    const runStarted = performance.now();
    const em = orm.em.fork();
    scopeToTenant(em, org);
    const run = await em.transactional((tx) => runs.create(tx, TODAY, null));
    for (const seq of await runner.plan(org, run.id, 500)) await runner.billBatch(org, run.id, seq);
    const runMs = performance.now() - runStarted;
    const { rows: types } = await db.query<{ type: string; n: number }>(`select type, count(*)::int as n from outbox_message group by type order by 1`);
    const events = types.reduce((sum, t) => sum + t.n, 0);
    const expected = types.reduce((sum, t) => sum + t.n * registry.handlersFor(t.type).length, 0);
    console.log(`billed ${AGREEMENTS} agreements in ${(runMs / 1000).toFixed(1)} s: ${events} events, ${expected} deliveries to make`);

    // The measurement: relay everything, and wait until every (event, handler) has its inbox row.
    const cpu0 = process.cpuUsage();
    const pg0 = await backendCpu(db);
    const statements0 = statements;
    const started = performance.now();
    while ((await relay.relayOnce()) > 0);
    const relayedMs = performance.now() - started;
    const inbox = async () => (await db.query<{ n: number }>(`select count(*)::int as n from outbox_delivery`)).rows[0]!.n;
    await until('every delivery', 1800, async () => (await inbox()) >= expected);
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const appStatements = statements - statements0;
    const pgCpuMs = pgDelta(pg0, await backendCpu(db));
    const nodeCpuMs = (cpu.user + cpu.system) / 1000;
    const { rows: byHandler } = await db.query<{ handler: string; status: string; n: number }>(
      `select handler, status, count(*)::int as n from outbox_delivery group by 1, 2 order by 3 desc, 1`,
    );
    const dead = byHandler.filter((h) => h.status !== 'PROCESSED').reduce((sum, h) => sum + h.n, 0);
    await app.close();
    app = undefined;

    const floor = await baseline(dbUrl, expected);
    const rate = (m: Measured) => m.deliveries / (m.wallMs / 1000);
    const app_: Measured = { deliveries: expected, wallMs, nodeCpuMs, pgCpuMs, statements: appStatements };
    const us = (ms: number, n: number) => `${Math.round((ms * 1000) / n).toLocaleString('en-US')} µs`;
    const lines = [
      '# Outbox deliveries benchmark',
      '',
      `\`npm run bench:deliveries -- --agreements ${AGREEMENTS}\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC), ${cpus().length} CPUs, ` +
        `delivery concurrency ${CONCURRENCY}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`,
      '',
      `A billing run of ${AGREEMENTS.toLocaleString('en-US')} agreements (${(runMs / 1000).toFixed(1)} s) left ${events.toLocaleString('en-US')} events ` +
        `(${types.map((t) => `${t.type} ${t.n.toLocaleString('en-US')}`).join(', ')}): ${expected.toLocaleString('en-US')} deliveries ` +
        `(${(expected / AGREEMENTS).toFixed(1)} per agreement). Relaying them took ${(relayedMs / 1000).toFixed(1)} s of the measured time.`,
      '',
      '| | deliveries | wall time | deliveries/s | node CPU per delivery | PostgreSQL CPU per delivery | SQL statements per delivery |',
      '|---|--:|--:|--:|--:|--:|--:|',
      `| the app (relay + delivery processor + handlers) | ${expected.toLocaleString('en-US')} | ${(wallMs / 1000).toFixed(1)} s | **${Math.round(rate(app_)).toLocaleString('en-US')}** | ${us(nodeCpuMs, expected)} | ${us(pgCpuMs, expected)} | ${(app_.statements / expected).toFixed(1)} |`,
      `| baseline: Bull jobs writing one inbox row each | ${floor.deliveries.toLocaleString('en-US')} | ${(floor.wallMs / 1000).toFixed(1)} s | ${Math.round(rate(floor)).toLocaleString('en-US')} | ${us(floor.nodeCpuMs, floor.deliveries)} | ${us(floor.pgCpuMs, floor.deliveries)} | ${(floor.statements / floor.deliveries).toFixed(1)} |`,
      '',
      `The app delivers at ${(rate(app_) / rate(floor)).toFixed(2)}× the baseline's rate. Not PROCESSED: ${dead}.`,
      '',
      '| handler | status | deliveries |',
      '|---|---|--:|',
      ...byHandler.map((h) => `| ${h.handler} | ${h.status} | ${h.n.toLocaleString('en-US')} |`),
      '',
    ];
    const report = lines.join('\n');
    console.log(`\n${report}`);
    mkdirSync(path.join(process.cwd(), 'bench/results'), { recursive: true });
    writeFileSync(path.join(process.cwd(), 'bench/results/outbox-deliveries.md'), report);
  } finally {
    await app?.close().catch(() => undefined);
    await bench.close(KEEP);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
