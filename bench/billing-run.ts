/**
 * npm run bench:billing [-- --agreements 100000 --batch 500 --concurrency 2 --keep]
 *
 * A billing run of N agreements through the sandbox gateway with everything the app does for each (billed period
 * claimed, invoice + line issued and numbered, payment + attempt + timeline, the sandbox's charge and idempotency
 * record, received payment + allocation, invoice paid, balances, outbox events), through the app's own code
 * (BillingRunRunner.plan + billBatch, `--concurrency` batches at a time as the worker's Bull concurrency does).
 * Then a baseline: the same rows inserted again with plain batched SQL (multi-row INSERTs of `--batch` rows, the
 * same concurrency), to say how close the run comes to the database's own insert speed.
 * Prints and writes bench/results/billing-run.md.
 *
 * BENCH_DATABASE_URL: a server where the bench may create and drop settle_bench_billing (default
 * postgresql://postgres@127.0.0.1:5432/postgres). BENCH_REDIS_URL (default redis://127.0.0.1:6379): the pacer and
 * the progress channel, under a prefix of its own.
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import pg from 'pg';
import { MikroORM } from '@mikro-orm/postgresql';
import { FixedClock, newId } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { checkMigrations } from '../src/infra/database/migrations.js';
import { backendCpu, machineCpu } from './support/cpu.js';
import { BillingRunRunner } from '../src/modules/agreements/application/billing-run-runner.js';
import { BillingRuns } from '../src/modules/agreements/application/billing-runs.use-case.js';
import { seedBillableCustomers } from './support/billing-seed.js';
import { freshDatabase } from './support/bench-database.js';
import { startWorkerApp, type WorkerApp } from './support/worker-app.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const AGREEMENTS = Number(option('agreements', '100000'));
const BATCH = Number(option('batch', '1000'));
const CONCURRENCY = Number(option('concurrency', '2'));
const KEEP = args.includes('--keep');
/**
 * --analyze-after N: ANALYZE the database once N batches were started (a diagnostic, off by default). The tables the
 * run writes are analyzed while still empty (after the seed) and this server runs with autovacuum off, so without it
 * every plan of the run is made with no column statistics for them (an organization looks like 0.5% of a table);
 * with it, the plans are those of a database that has statistics (what autovacuum's autoanalyze gives in production).
 */
const ANALYZE_AFTER = Number(option('analyze-after', '-1'));
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'settle_bench_billing';
const TODAY = '2026-06-15';
const clock = new FixedClock(`${TODAY}T15:00:00Z`);

/** The tables a run writes, and how to find the run's rows in them (all of them here: the database is the bench's). */
const WRITTEN = [
  'billed_period',
  'invoice',
  'invoice_line',
  'payment',
  'payment_attempt',
  'payment_event',
  'received_payment',
  'payment_allocation',
  'outbox_message',
  'sandbox_gateway_object',
];

async function seed(db: pg.Client, org: string): Promise<void> {
  await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, 'Benchmark Pools', 'USD', 'UTC', 'en-US', now())`, [org]);
  await seedBillableCustomers(db, { organizationId: org, count: AGREEMENTS, now: clock.now().toISOString(), startDate: `${TODAY.slice(0, 7)}-01` });
  await db.query('vacuum (analyze)');
}

/** The same rows again, into empty copies of the tables (same columns, indexes and constraints), with plain batched INSERTs. */
async function baseline(url: string): Promise<{ ms: number; rows: number; perTable: { table: string; rows: number; ms: number }[] }> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const perTable: { table: string; rows: number; ms: number }[] = [];
  let total = 0;
  let rows = 0;
  try {
    for (const table of WRITTEN) {
      await db.query(`create table "bench_copy_${table}" (like "${table}" including all)`);
      const chunks: string[] = [];
      const { rows: all } = await db.query(`select row_to_json(t)::text as j from "${table}" t`);
      for (let i = 0; i < all.length; i += BATCH) chunks.push(`[${all.slice(i, i + BATCH).map((r: { j: string }) => r.j).join(',')}]`);
      const started = performance.now();
      let next = 0;
      await Promise.all(
        clients.map(async (c) => {
          while (next < chunks.length) {
            const chunk = chunks[next++]!;
            await c.query('begin');
            await c.query(`insert into "bench_copy_${table}" select * from jsonb_populate_recordset(null::"bench_copy_${table}", $1::jsonb)`, [chunk]);
            await c.query('commit');
          }
        }),
      );
      const ms = performance.now() - started;
      perTable.push({ table, rows: all.length, ms });
      total += ms;
      rows += all.length;
    }
  } finally {
    for (const c of clients) await c.end();
    await db.end();
  }
  return { ms: total, rows, perTable };
}

/** BENCH_PROFILE=1: time every statement the app sends (grouped by its first words) and print the top ones. */
const profile = new Map<string, { n: number; ms: number }>();
if (process.env.BENCH_PROFILE) {
  const original = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (this: unknown, ...a: unknown[]) {
    const text = typeof a[0] === 'string' ? a[0] : ((a[0] as { text?: string })?.text ?? '?');
    const key = text.replace(/\s+/g, ' ').slice(0, 110);
    const t = performance.now();
    const out = original.apply(this, a);
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      void (out as Promise<unknown>).then(
        () => {
          const e = profile.get(key) ?? { n: 0, ms: 0 };
          e.n += 1;
          e.ms += performance.now() - t;
          profile.set(key, e);
        },
        () => undefined,
      );
    }
    return out;
  };
}

async function main(): Promise<void> {
  const bench = await freshDatabase(ADMIN_URL, DB_NAME);
  const { db, url: dbUrl } = bench;
  let app: WorkerApp | undefined;
  try {
    const t0 = Date.now();
    await checkMigrations(dbUrl, true);
    const org = newId();
    await seed(db, org);
    console.log(`seeded ${AGREEMENTS} agreements (customers, saved cards, sandbox objects) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    app = await startWorkerApp({ databaseUrl: dbUrl, redisUrl: REDIS_URL, clock });
    const runner = app.get(BillingRunRunner);
    const runs = app.get(BillingRuns);
    const orm = app.get(MikroORM);
    const phases = { invoice: 0, gateway: 0, record: 0 };
    const hooks = { onPhase: (phase: keyof typeof phases, ms: number) => (phases[phase] += ms) };

    const pg0 = await backendCpu(db);
    const inspector = process.env.BENCH_CPU_PROFILE ? new Session() : undefined;
    if (inspector) {
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.start');
    }
    const cpu0 = process.cpuUsage();
    const sys0 = machineCpu();
    const started = performance.now();
    const em = orm.em.fork();
    scopeToTenant(em, org);
    const run = await em.transactional((tx) => runs.create(tx, TODAY, null));
    const planStarted = performance.now();
    const seqs = await runner.plan(org, run.id, BATCH);
    const planMs = performance.now() - planStarted;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < seqs.length) {
          const seq = seqs[next++]!;
          if (next - 1 === ANALYZE_AFTER) await db.query('analyze');
          await runner.billBatch(org, run.id, seq, hooks);
        }
      }),
    );
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    if (inspector) {
      // BENCH_CPU_PROFILE=<file>: the node CPU profile of the run alone (open it in Chrome DevTools).
      const { profile: cpuProfile } = await inspector.post('Profiler.stop');
      writeFileSync(process.env.BENCH_CPU_PROFILE!, JSON.stringify(cpuProfile));
      inspector.disconnect();
    }
    const nodeCpuMs = (cpu.user + cpu.system) / 1000;
    const sys1 = machineCpu();
    const machineBusyMs = sys1.busy - sys0.busy;
    const machineTotalMs = sys1.total - sys0.total;
    const pg1 = await backendCpu(db);
    const pgCpuMs = [...pg1].reduce((sum, [pid, ms]) => sum + ms - (pg0.get(pid) ?? 0), 0);
    const load = loadavg().map((l) => l.toFixed(2)).join(' ');

    const { rows: [check] } = await db.query(
      `select (select count(*) from invoice where organization_id = $1 and status = 'PAID')::int as paid,
              (select count(*) from payment where organization_id = $1 and status = 'SUCCEEDED')::int as succeeded,
              (select count(*) from sandbox_gateway_object where type = 'payment_intent')::int as charges,
              (select count(*) from outbox_message where organization_id = $1)::int as events,
              (select status from billing_run where id = $2) as status`,
      [org, run.id],
    );
    if (check.paid !== AGREEMENTS || check.succeeded !== AGREEMENTS || check.charges !== AGREEMENTS || check.status !== 'COMPLETED') {
      throw new Error(`the run did not bill every agreement exactly once: ${JSON.stringify(check)}`);
    }
    await app.close();
    app = undefined;

    // --no-baseline: iterate on the run alone (the report then has no ratio).
    const base = args.includes('--no-baseline') ? { ms: Number.NaN, rows: 0, perTable: [] } : await baseline(dbUrl);
    const perSecond = AGREEMENTS / (wallMs / 1000);
    const basePerSecond = AGREEMENTS / (base.ms / 1000);
    const phaseSum = phases.invoice + phases.gateway + phases.record;
    const lines = [
      `# Billing run benchmark`,
      '',
      `\`npm run bench:billing -- --agreements ${AGREEMENTS} --batch ${BATCH} --concurrency ${CONCURRENCY}${ANALYZE_AFTER >= 0 ? ` --analyze-after ${ANALYZE_AFTER}` : ''}\` (${new Date().toISOString().slice(0, 10)})`,
      '',
      `| | |`,
      `|---|---|`,
      `| agreements billed (1 period each: invoice + charge) | ${AGREEMENTS.toLocaleString('en-US')} |`,
      `| batches × size, concurrency | ${seqs.length} × ${BATCH}, ${CONCURRENCY} |`,
      `| wall time | ${(wallMs / 1000).toFixed(1)} s |`,
      `| **agreements per second** | **${Math.round(perSecond).toLocaleString('en-US')}** |`,
      `| CPU of the run: node / its PostgreSQL backends (per agreement) | ${(nodeCpuMs / 1000).toFixed(1)} s / ${(pgCpuMs / 1000).toFixed(1)} s (${((nodeCpuMs * 1000) / AGREEMENTS).toFixed(0)} µs / ${((pgCpuMs * 1000) / AGREEMENTS).toFixed(0)} µs) |`,
      `| the machine meanwhile (${cpus().length} cores, other work included) | ${(machineBusyMs / 1000).toFixed(1)} s busy of ${(machineTotalMs / 1000).toFixed(1)} s; load average at the end ${load} |`,
      `| plan (agreement ids into batches) | ${Math.round(planMs)} ms |`,
      `| Tx1 — claim, payments prepared, billedThrough, invoices issued (sum over batches) | ${Math.round(phases.invoice)} ms (${((phases.invoice / phaseSum) * 100).toFixed(0)}%) |`,
      `| gateway — sandbox createCharges (sum) | ${Math.round(phases.gateway)} ms (${((phases.gateway / phaseSum) * 100).toFixed(0)}%) |`,
      `| Tx2 — results applied, received payments, allocations, events (sum) | ${Math.round(phases.record)} ms (${((phases.record / phaseSum) * 100).toFixed(0)}%) |`,
      `| rows inserted by the run (${WRITTEN.length} tables) | ${base.rows.toLocaleString('en-US')} |`,
      `| baseline: the same rows, plain batched INSERTs (${BATCH} rows, ${CONCURRENCY} connections) | ${(base.ms / 1000).toFixed(1)} s = ${Math.round(basePerSecond).toLocaleString('en-US')} agreements/s |`,
      `| **ratio run / baseline** | **${(wallMs / base.ms).toFixed(2)}×** |`,
      '',
      '| table | rows | baseline ms |',
      '|---|---:|---:|',
      ...base.perTable.map((p) => `| ${p.table} | ${p.rows.toLocaleString('en-US')} | ${Math.round(p.ms)} |`),
      '',
    ];
    if (process.env.BENCH_PROFILE) {
      const all = [...profile.values()].reduce((a, v) => ({ n: a.n + v.n, ms: a.ms + v.ms }), { n: 0, ms: 0 });
      console.log(`statements: ${all.n}, ${Math.round(all.ms)} ms waiting for them (run + baseline)`);
      for (const [k, v] of [...profile.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`${Math.round(v.ms)} ms  ${v.n}×  ${k}`);
    }
    const report = lines.join('\n');
    console.log(report);
    mkdirSync(path.resolve('bench/results'), { recursive: true });
    writeFileSync(path.resolve('bench/results/billing-run.md'), report);
  } finally {
    if (app) await app.close();
    await bench.close(KEEP);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
