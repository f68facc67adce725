/**
 * npm run bench:mass-charge [-- --customers 50000 --concurrency 2 --keep]
 *
 * Mass charges of N customers through the sandbox gateway, through the app's own code: every customer has a saved
 * Visa with consent (the default method) and one open invoice ($108.86, issued with Invoicing.issueInvoicesBulk);
 * the customers are split into mass charges of at most 10,000 (the product's limit per batch, MassCharges.create with
 * an explicit customer list, OPEN_BALANCE), and each batch is worked by MassChargeRunner.run — what the
 * `payments-mass-charges` Bull job runs — `--concurrency` batches at a time (one per worker process: the processor
 * takes one job at a time). The runner works each batch in chunks (about 20 per batch, at most 1,000 items): one
 * transaction claims the chunk (who is skipped, what each is charged) and prepares its payments
 * (Payments.preparePaymentsBulk, key `masscharge:<batch>:<customer>`, PENDING, committed before the gateway), one
 * Payments.sendBulk asks the sandbox (one request per chunk: it batches charges), and one transaction applies the
 * answers (Payments.applyResultsBulk: the payments, Invoicing's received payments paying the invoices, events),
 * settles the items and moves the counters. GATEWAY_CHARGES_PER_SECOND is set to 10,000 (the most the config allows)
 * so the pacer does not limit the sandbox: this measures the app, not a gateway's rate limit (bench:pacing does).
 * Afterwards it checks exactly-once: each customer has exactly one MASS_CHARGE payment (SUCCEEDED), one sandbox
 * PaymentIntent, one received payment, and a PAID invoice; every item SUCCEEDED.
 * Prints and writes bench/results/mass-charge.md.
 *
 * BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres): creates and drops settle_bench_mass_charge.
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379): the pacer and the progress channel, under a prefix of its own.
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { FixedClock, newId } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { checkMigrations } from '../src/infra/database/migrations.js';
import { BilledRefType, Invoicing } from '../src/modules/invoicing/index.js';
import { MassChargeRunner } from '../src/modules/payments/application/mass-charge-runner.js';
import { MassCharges, MAX_MASS_CHARGE_CUSTOMERS } from '../src/modules/payments/application/mass-charges.use-case.js';
import { MassChargeAmountMode } from '../src/modules/payments/domain/mass-charge.entity.js';
import { seedBillableCustomers } from './support/billing-seed.js';
import { backendCpu, machineCpu } from './support/cpu.js';
import { freshDatabase } from './support/bench-database.js';
import { startWorkerApp, type WorkerApp } from './support/worker-app.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const CUSTOMERS = Number(option('customers', '50000'));
const CONCURRENCY = Number(option('concurrency', '2'));
const KEEP = args.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'settle_bench_mass_charge';
const TODAY = '2026-06-15';
const CHARGES_PER_SECOND = 10_000;
const clock = new FixedClock(`${TODAY}T15:00:00Z`);

async function main(): Promise<void> {
  const bench = await freshDatabase(ADMIN_URL, DB_NAME);
  const { db, url: dbUrl } = bench;
  let app: WorkerApp | undefined;
  try {
    const t0 = Date.now();
    await checkMigrations(dbUrl, true);
    const org = newId();
    await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, 'Benchmark Pools', 'USD', 'UTC', 'en-US', now())`, [org]);
    const seeded = await seedBillableCustomers(db, { organizationId: org, count: CUSTOMERS, now: clock.now().toISOString(), startDate: `${TODAY.slice(0, 7)}-01` });

    app = await startWorkerApp({ databaseUrl: dbUrl, redisUrl: REDIS_URL, clock, env: { GATEWAY_CHARGES_PER_SECOND: String(CHARGES_PER_SECOND) } });
    const orm = app.get(MikroORM);
    const scoped = () => {
      const em = orm.em.fork();
      scopeToTenant(em, org);
      return em;
    };
    // One open invoice per customer, through Invoicing (1,000 per transaction).
    const invoicing = app.get(Invoicing);
    for (let i = 0; i < seeded.length; i += 1000) {
      await scoped().transactional((tx) =>
        invoicing.issueInvoicesBulk(
          tx,
          seeded.slice(i, i + 1000).map((s) => ({
            customerId: s.customer,
            lines: [{ description: 'Fall league fees', quantity: '1', unitPrice: 10000n, taxRate: '8.875' }],
            paymentTermsDays: 30,
            billedRef: { type: BilledRefType.NONE, id: null, label: null },
          })),
        ),
      );
    }
    await db.query('vacuum (analyze)');
    console.log(`seeded ${CUSTOMERS} customers (saved cards with consent, one open invoice each) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // The mass charges: at most 10,000 customers each (the product's limit), written with their items.
    const massCharges = app.get(MassCharges);
    const batchIds: string[] = [];
    const createStarted = performance.now();
    for (let i = 0; i < seeded.length; i += MAX_MASS_CHARGE_CUSTOMERS) {
      const ids = seeded.slice(i, i + MAX_MASS_CHARGE_CUSTOMERS).map((s) => s.customer);
      const batch = await scoped().transactional((tx) =>
        massCharges.create(tx, { customerIds: ids, amountMode: MassChargeAmountMode.OPEN_BALANCE, note: 'Fall league fees' }, null),
      );
      batchIds.push(batch.id);
    }
    const createMs = performance.now() - createStarted;

    const runner = app.get(MassChargeRunner);
    const loadBefore = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    const sys0 = machineCpu();
    const pg0 = await backendCpu(db);
    // The pool closes idle connections: sample the backends while charging, so one that ends mid-run still counts.
    const pgSeen = new Map(pg0);
    const sampler = setInterval(() => {
      void backendCpu(db).then((now) => {
        for (const [pid, ms] of now) pgSeen.set(pid, Math.max(ms, pgSeen.get(pid) ?? 0));
      });
    }, 500);
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    const results = await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, batchIds.length) }, async () => {
        const out = [];
        while (next < batchIds.length) out.push(await runner.run(org, batchIds[next++]!));
        return out;
      }),
    );
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const nodeCpuMs = (cpu.user + cpu.system) / 1000;
    clearInterval(sampler);
    for (const [pid, ms] of await backendCpu(db)) pgSeen.set(pid, Math.max(ms, pgSeen.get(pid) ?? 0));
    const pgCpuMs = [...pgSeen].reduce((sum, [pid, ms]) => sum + ms - (pg0.get(pid) ?? 0), 0);
    const sys1 = machineCpu();
    const machineBusy = sys1.total > sys0.total ? (sys1.busy - sys0.busy) / (sys1.total - sys0.total) : 0;
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    const runs = results.flat();

    // Exactly once, customer by customer.
    const {
      rows: [check],
    } = await db.query(
      `with pay as (select customer_id, count(*) as n, count(*) filter (where status = 'SUCCEEDED') as s from payment
                     where organization_id = $1 and purpose = 'MASS_CHARGE' group by customer_id),
            intents as (select data->>'customerId' as gateway_customer_id, count(*) as n from sandbox_gateway_object
                         where type = 'payment_intent' group by 1),
            rec as (select customer_id, count(*) as n from received_payment where organization_id = $1 group by customer_id),
            paid as (select customer_id, count(*) as n from invoice where organization_id = $1 and status = 'PAID' group by customer_id),
            per as (
         select c.id, coalesce(pay.n, 0) as payments, coalesce(pay.s, 0) as succeeded, coalesce(intents.n, 0) as charges,
                coalesce(rec.n, 0) as received, coalesce(paid.n, 0) as paid
           from customer c join wallet_account w on w.customer_id = c.id
           left join pay on pay.customer_id = c.id left join intents on intents.gateway_customer_id = w.gateway_customer_id
           left join rec on rec.customer_id = c.id left join paid on paid.customer_id = c.id
          where c.organization_id = $1)
       select count(*)::int as customers,
              count(*) filter (where payments = 1 and succeeded = 1 and charges = 1 and received = 1 and paid = 1)::int as exactly_once,
              coalesce(max(payments), 0)::int as max_payments, coalesce(max(charges), 0)::int as max_charges,
              (select count(*) from sandbox_gateway_object where type = 'payment_intent')::int as intents,
              (select count(*) from mass_charge_item where organization_id = $1 and status = 'SUCCEEDED')::int as items_succeeded,
              (select count(*) from mass_charge_batch where organization_id = $1 and status = 'COMPLETED')::int as batches_completed
         from per`,
      [org],
    );
    const ok = check.customers === CUSTOMERS && check.exactly_once === CUSTOMERS && check.intents === CUSTOMERS && check.items_succeeded === CUSTOMERS;
    if (!ok || check.batches_completed !== batchIds.length) throw new Error(`exactly-once check failed: ${JSON.stringify(check)}`);
    await app.close();
    app = undefined;

    const perSecond = CUSTOMERS / (wallMs / 1000);
    const lines = [
      `# Mass charge benchmark`,
      '',
      `\`npm run bench:mass-charge -- --customers ${CUSTOMERS} --concurrency ${CONCURRENCY}\` (${new Date().toISOString().slice(0, 10)})`,
      '',
      '| | |',
      '|---|---|',
      `| customers charged (saved Visa with consent, one open invoice each) | ${CUSTOMERS.toLocaleString('en-US')} |`,
      `| mass charges × customers, worked at once | ${batchIds.length} × ≤ ${MAX_MASS_CHARGE_CUSTOMERS.toLocaleString('en-US')}, ${Math.min(CONCURRENCY, batchIds.length)} |`,
      `| mass charges created (batches + items) | ${Math.round(createMs)} ms |`,
      `| wall time of the charging | ${(wallMs / 1000).toFixed(1)} s |`,
      `| **charges per second** | **${Math.round(perSecond).toLocaleString('en-US')}** (GATEWAY_CHARGES_PER_SECOND=${CHARGES_PER_SECOND.toLocaleString('en-US')}: the pacer does not limit the sandbox) |`,
      `| CPU of the charging: node / its PostgreSQL backends (per customer) | ${(nodeCpuMs / 1000).toFixed(1)} s / ${(pgCpuMs / 1000).toFixed(1)} s (${Math.round((nodeCpuMs * 1000) / CUSTOMERS)} µs / ${Math.round((pgCpuMs * 1000) / CUSTOMERS)} µs) |`,
      `| the whole machine busy during the charging (every process, other engineers' too) | ${Math.round(machineBusy * 100)}% |`,
      `| load average before / after the charging (${cpus().length} cores, shared) | ${loadBefore} / ${load} |`,
      `| runs: succeeded / failed / skipped / taken | ${runs.reduce((s, r) => s + r.succeeded, 0)} / ${runs.reduce((s, r) => s + r.failed, 0)} / ${runs.reduce((s, r) => s + r.skipped, 0)} / ${runs.reduce((s, r) => s + r.taken, 0)} |`,
      `| exactly once: customers with 1 payment, 1 gateway charge, 1 received payment, a PAID invoice | ${check.exactly_once.toLocaleString('en-US')} of ${check.customers.toLocaleString('en-US')} (most payments / charges for one customer: ${check.max_payments} / ${check.max_charges}) |`,
      '',
    ];
    const report = lines.join('\n');
    console.log(report);
    mkdirSync(path.resolve('bench/results'), { recursive: true });
    writeFileSync(path.resolve('bench/results/mass-charge.md'), report);
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
