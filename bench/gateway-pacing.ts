/**
 * npm run bench:pacing [-- --agreements 1000 --rate 25 --batch 100 --concurrency 2 --keep]
 *
 * A billing run through the Stripe gateway (the real `stripe` SDK and StripeGateway) against the local
 * Stripe-compatible test server (test/support/stripe-test-server.ts), which answers 429 `rate_limit_error` to any
 * request above `--rate` per second — reads and writes counted apart, as Stripe's basic limiter does (25 of each per
 * second in test mode). The app runs with GATEWAY_CHARGES_PER_SECOND = `--rate`: the ChargePacer (Redis) spaces the
 * charges of every batch (`--concurrency` batches at a time, as the worker's Bull concurrency does) so that no second
 * holds more than that; 429s that still happen (arrival jitter) are retried by StripeGateway with the same
 * idempotency key. Reports the achieved charge rate against the allowed one (target ≥ 90 %), the 429s the server
 * answered, and checks that the run ended with every period CHARGED, every payment SUCCEEDED and exactly one
 * PaymentIntent per payment: zero failures caused by rate limiting.
 * Prints and writes bench/results/gateway-pacing.md.
 *
 * BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres): creates and drops settle_bench_pacing.
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379): the pacer, under a prefix of its own.
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { FixedClock, newId } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { StripeTestServer } from '../test/support/stripe-test-server.js';
import { checkMigrations } from '../src/infra/database/migrations.js';
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
const AGREEMENTS = Number(option('agreements', '1000'));
const RATE = Number(option('rate', '25'));
const BATCH = Number(option('batch', '100'));
const CONCURRENCY = Number(option('concurrency', '2'));
const KEEP = args.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'settle_bench_pacing';
const TODAY = '2026-06-15';
const clock = new FixedClock(`${TODAY}T15:00:00Z`);

/** POST to the test server with its key, form-encoded like the SDK. */
async function stripePost(server: StripeTestServer, path: string, form: Record<string, string>): Promise<{ id: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.secretKey}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json()) as { id: string };
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function main(): Promise<void> {
  const server = await new StripeTestServer().start();
  const bench = await freshDatabase(ADMIN_URL, DB_NAME);
  const { db, url: dbUrl } = bench;
  let app: WorkerApp | undefined;
  try {
    await checkMigrations(dbUrl, true);
    const org = newId();
    await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, 'Benchmark Pools', 'USD', 'UTC', 'en-US', now())`, [org]);
    const seeded = await seedBillableCustomers(db, { organizationId: org, count: AGREEMENTS, now: clock.now().toISOString(), startDate: `${TODAY.slice(0, 7)}-01` });
    // Each customer and card exists at "Stripe" (made through its API before the limit is on), and the wallet points at them.
    const links: { customer: string; cus: string; pm: string }[] = [];
    for (let i = 0; i < seeded.length; i += 20) {
      links.push(
        ...(await Promise.all(
          seeded.slice(i, i + 20).map(async (s, j) => {
            const cus = await stripePost(server, '/v1/customers', { name: `Customer ${i + j}`, email: `c${i + j}@example.com` });
            const pm = await stripePost(server, '/v1/payment_methods', { type: 'card', 'card[token]': 'tok_visa' });
            await stripePost(server, `/v1/payment_methods/${pm.id}/attach`, { customer: cus.id });
            return { customer: s.customer, cus: cus.id, pm: pm.id };
          }),
        )),
      );
    }
    await db.query(
      `update payment_method m set gateway = 'stripe', gateway_payment_method_id = l.pm from jsonb_to_recordset($1::jsonb) as l(customer uuid, pm text) where m.customer_id = l.customer`,
      [JSON.stringify(links)],
    );
    await db.query(
      `update wallet_account w set gateway = 'stripe', gateway_customer_id = l.cus from jsonb_to_recordset($1::jsonb) as l(customer uuid, cus text) where w.customer_id = l.customer`,
      [JSON.stringify(links)],
    );
    await db.query('vacuum (analyze)');
    console.log(`seeded ${AGREEMENTS} agreements, their customers and cards at the Stripe test server`);

    app = await startWorkerApp({ databaseUrl: dbUrl, redisUrl: REDIS_URL, clock, env: { PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: server.secretKey, STRIPE_API_URL: server.url, GATEWAY_CHARGES_PER_SECOND: String(RATE) } });
    const runner = app.get(BillingRunRunner);
    const runs = app.get(BillingRuns);
    const orm = app.get(MikroORM);

    const before = server.requests.length;
    server.limitRate(RATE);
    const started = performance.now();
    const em = orm.em.fork();
    scopeToTenant(em, org);
    const run = await em.transactional((tx) => runs.create(tx, TODAY, null));
    const seqs = await runner.plan(org, run.id, BATCH);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < seqs.length) await runner.billBatch(org, run.id, seqs[next++]!);
      }),
    );
    const wallMs = performance.now() - started;
    const rateLimited = server.rateLimited;
    server.limitRate(null);
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');

    const during = server.requests.slice(before);
    const charges = during.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.status === 200 && !r.replayed);
    const first = charges[0]?.at ?? 0;
    const last = charges.at(-1)?.at ?? 0;
    const windowS = Math.max(0.001, (last - first) / 1000);
    const achieved = charges.length > 1 ? (charges.length - 1) / windowS : 0;
    const perSecond = new Map<number, number>();
    for (const c of charges) perSecond.set(Math.floor((c.at - first) / 1000), (perSecond.get(Math.floor((c.at - first) / 1000)) ?? 0) + 1);
    const fullSeconds = [...perSecond.entries()].filter(([s]) => s < Math.floor(windowS));
    const busiest = Math.max(0, ...perSecond.values());
    const writes429 = during.filter((r) => r.status === 429 && r.method !== 'GET' && !r.injected).length;
    const reads429 = during.filter((r) => r.status === 429 && r.method === 'GET' && !r.injected).length;

    const {
      rows: [check],
    } = await db.query(
      `select (select count(*) from billed_period where organization_id = $1 and status = 'CHARGED')::int as charged,
              (select count(*) from payment where organization_id = $1 and status = 'SUCCEEDED')::int as succeeded,
              (select count(*) from payment where organization_id = $1 and status <> 'SUCCEEDED')::int as not_succeeded,
              (select count(*) from payment_attempt where organization_id = $1 and status <> 'SUCCEEDED')::int as attempts_not_succeeded,
              (select count(*) from invoice where organization_id = $1 and status = 'PAID')::int as paid,
              (select status from billing_run where id = $2) as status, (select failed from billing_run where id = $2)::int as failed`,
      [org, run.id],
    );
    const intentsPerPayment = new Map<string, number>();
    for (const c of charges) {
      const paymentId = String((c.body.metadata as Record<string, string> | undefined)?.paymentId ?? '');
      intentsPerPayment.set(paymentId, (intentsPerPayment.get(paymentId) ?? 0) + 1);
    }
    const oncePerPayment = [...intentsPerPayment.values()].every((n) => n === 1) && intentsPerPayment.size === AGREEMENTS;
    const ok = check.charged === AGREEMENTS && check.succeeded === AGREEMENTS && check.not_succeeded === 0 && check.paid === AGREEMENTS && oncePerPayment;
    await app.close();
    app = undefined;

    const share = (achieved / RATE) * 100;
    const lines = [
      `# Gateway pacing benchmark`,
      '',
      `\`npm run bench:pacing -- --agreements ${AGREEMENTS} --rate ${RATE} --batch ${BATCH} --concurrency ${CONCURRENCY}\` (${new Date().toISOString().slice(0, 10)})`,
      '',
      '| | |',
      '|---|---|',
      `| billing run through StripeGateway → local Stripe test server | ${AGREEMENTS.toLocaleString('en-US')} agreements, batches of ${BATCH}, ${CONCURRENCY} at a time |`,
      `| server limit (429 above it, reads and writes apart) = GATEWAY_CHARGES_PER_SECOND | ${RATE}/s |`,
      `| charges made (PaymentIntents created) | ${charges.length.toLocaleString('en-US')} in ${windowS.toFixed(1)} s (first to last) |`,
      `| **achieved charge rate** | **${achieved.toFixed(1)}/s = ${share.toFixed(1)} % of the allowed rate** (target ≥ 90 %) |`,
      `| charges in the busiest second / the quietest full second | ${busiest} / ${fullSeconds.length ? Math.min(...fullSeconds.map(([, n]) => n)) : '–'} |`,
      `| run wall time (plan, invoices, charges, records) | ${(wallMs / 1000).toFixed(1)} s = ${(AGREEMENTS / (wallMs / 1000)).toFixed(1)} agreements/s |`,
      `| requests the server saw during the run | ${during.length.toLocaleString('en-US')} (${during.filter((r) => r.method === 'GET').length} reads: a charge names its card's type, so StripeGateway does not read the card first) |`,
      `| **429s answered by the server's limiter** | **${rateLimited}** (writes ${writes429}, reads ${reads429}; each retried by StripeGateway with the same key) |`,
      `| **payments failed because of rate limiting** | **${check.not_succeeded}** (payments not SUCCEEDED: ${check.not_succeeded}; attempts not SUCCEEDED: ${check.attempts_not_succeeded}; run ${check.status}, failed ${check.failed}) |`,
      `| exactly once: periods CHARGED / payments SUCCEEDED / invoices PAID / one PaymentIntent per payment | ${check.charged} / ${check.succeeded} / ${check.paid} / ${oncePerPayment ? 'yes' : 'NO'} |`,
      `| load average at the end (2 cores, shared) | ${load} |`,
      '',
    ];
    const report = lines.join('\n');
    console.log(report);
    mkdirSync(path.resolve('bench/results'), { recursive: true });
    writeFileSync(path.resolve('bench/results/gateway-pacing.md'), report);
    if (!ok) throw new Error(`the run did not charge every agreement exactly once: ${JSON.stringify(check)}`);
  } finally {
    if (app) await app.close();
    await bench.close(KEEP);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
