/**
 * npm run resilience [-- --agreements 6000 --months 3 --concurrency 10 --keep]
 *
 * Under steady API load plus a running billing run: restart Redis, then restart PostgreSQL, then kill -9 the worker
 * (and start a new one). Afterwards checks, with SQL on the database and with what the gateway and the mail server
 * saw: every (agreement, period) billed exactly once (one billed period, one invoice, one payment), every sandbox
 * charge matches exactly one payment attempt, no outbox event stuck or lost (every published event has a delivery
 * per subscribed handler, PROCESSED or DEAD with its reason), no message sent twice, and that the API answered
 * errors — not hangs — during the outages and answered 200 again by itself.
 *
 * Everything runs against a PRIVATE PostgreSQL cluster (initdb in a temporary directory) and a PRIVATE Redis, on
 * their own ports, which the scenario restarts; the machine's PostgreSQL and Redis are never touched. The app runs
 * as two processes from the sources (SWC loader): `SETTLE_ROLE=api` and `SETTLE_ROLE=worker`, NODE_ENV=production,
 * the sandbox gateway, a local SMTP server that counts what it receives. Everything is stopped and removed at the
 * end, also on failure or Ctrl-C. Prints the report and writes bench/results/resilience.md. Exit code 1 when a
 * check failed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { seedBillableCustomers } from './support/billing-seed.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const AGREEMENTS = Number(option('agreements', '6000'));
/** Periods due per agreement (monthly agreements started that many months ago, the current month included). */
const MONTHS = Number(option('months', '3'));
const CONCURRENCY = Number(option('concurrency', '10'));
const REQUEST_TIMEOUT_MS = 5_000;
/** Customers per page of the read (a page of 50 with these fields is over the default GRAPHQL_MAX_COMPLEXITY). */
const READ_PAGE = Number(option('page', '20'));
/** After everything finished, how long the scenario waits for the event deliveries and messages to drain. */
const DRAIN_MS = Number(option('drain-seconds', '60')) * 1000;
const REDIS_OUTAGE_MS = 3_000;
const PG_OUTAGE_MS = 5_000;
/** After the last fault, how long everything may take to finish (run, outbox, deliveries, messages). */
const SETTLE_DEADLINE_MS = Number(option('settle-seconds', '240')) * 1000;
const KEEP = args.includes('--keep');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const REGISTER = path.join(ROOT, 'bench/support/register-ts.mjs');

// ── small helpers ──────────────────────────────────────────────────────────────────────────────────────────────

const t0 = Date.now();
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
const log = (text: string) => console.log(`[${elapsed()} s] ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
  try {
    return await tryListen(preferred);
  } catch {
    return tryListen(0);
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const isRoot = process.getuid?.() === 0;
/** Runs a PostgreSQL binary as the postgres user (initdb and the server refuse root). */
function asPostgres(bin: string, argv: string[]): string {
  const file = path.join(PG_BIN, bin);
  return isRoot ? execFileSync('runuser', ['-u', 'postgres', '--', file, ...argv], { encoding: 'utf8' }) : execFileSync(file, argv, { encoding: 'utf8' });
}

// ── the private services ───────────────────────────────────────────────────────────────────────────────────────

class PrivatePostgres {
  readonly dataDir: string;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = path.join(dir, 'pg');
  }
  get url() {
    return `postgresql://postgres@127.0.0.1:${this.port}/settle`;
  }
  init() {
    asPostgres('initdb', ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  }
  start() {
    asPostgres('pg_ctl', [
      '-D', this.dataDir, '-l', path.join(this.dir, 'postgres.log'), '-w', '-t', '30',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
  }
  stop() {
    asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }
  running(): boolean {
    try {
      asPostgres('pg_ctl', ['-D', this.dataDir, 'status']);
      return true;
    } catch {
      return false;
    }
  }
}

class PrivateRedis {
  private process: ChildProcess | null = null;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.process = child;
    await until('Redis to answer', async () => execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG', 10_000, 50);
  }
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      execFileSync('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
    this.process = null;
  }
  kill() {
    if (this.process && this.process.exitCode === null) this.process.kill('SIGKILL');
  }
}

/** A local SMTP server: counts every message it accepts by Message-ID (a duplicate send shows as a count of 2). */
class MailSink {
  readonly received = new Map<string, number>();
  total = 0;
  private server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, _session, callback) => {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 64_000) head += chunk.toString('utf8');
      });
      stream.on('end', () => {
        const id = /^message-id:\s*(\S+)/im.exec(head)?.[1] ?? `(none ${this.total})`;
        this.received.set(id, (this.received.get(id) ?? 0) + 1);
        this.total += 1;
        callback();
      });
    },
  });
  listen(port: number) {
    return new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
  }
  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ── the app's processes ────────────────────────────────────────────────────────────────────────────────────────

interface AppProcess {
  name: string;
  role: 'api' | 'worker';
  port: number;
  child: ChildProcess;
  logFile: string;
}

function startApp(name: string, role: 'api' | 'worker', port: number, env: Record<string, string>, dir: string, extraArgs: string[] = []): AppProcess {
  const logFile = path.join(dir, `${name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, ['--import', REGISTER, path.join(ROOT, 'src/main.ts'), ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_OPTIONS: '', SETTLE_ROLE: role, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return { name, role, port, child, logFile };
}

async function waitReady(app: AppProcess, timeoutMs = 120_000): Promise<void> {
  await until(
    `${app.name} to be ready`,
    async () => {
      if (app.child.exitCode !== null) throw new Error(`${app.name} exited (${app.child.exitCode}):\n${tail(app.logFile)}`);
      const res = await fetch(`http://127.0.0.1:${app.port}/ready`, { signal: AbortSignal.timeout(2_000) });
      return res.status === 200;
    },
    timeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tail(app.logFile)}`);
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function stopApp(app: AppProcess | null | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!app || app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill(signal);
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// ── the API load ───────────────────────────────────────────────────────────────────────────────────────────────

interface Sample {
  at: number;
  op: 'read' | 'invoice' | 'payment';
  ms: number;
  status: number;
  /** ok: 200 with data; error: an answer with our error body; timeout: no answer within REQUEST_TIMEOUT_MS; network: connection refused/reset; bad: an answer that is neither */
  outcome: 'ok' | 'error' | 'timeout' | 'network' | 'bad';
  code?: string;
}

const READ = `query($first: Int!) { customers(first: $first) { totalCount nodes { id name email hasCard
  balance { owed { amount currency } overdue { amount } unpaidInvoices }
  defaultPaymentMethod { id brand last4 } } pageInfo { endCursor hasNextPage } } }`;
const CREATE_INVOICE = `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number status } }`;
const TAKE_PAYMENT = `mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status replayed } }`;

class Load {
  readonly samples: Sample[] = [];
  private stopped = false;
  private running: Promise<void>[] = [];
  private n = 0;
  /** The idempotency keys of the payments the load took (answered or not), to check each is one payment. */
  readonly paymentKeys: string[] = [];

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly customers: { customer: string; method: string }[],
  ) {}

  start(concurrency: number) {
    this.running = Array.from({ length: concurrency }, (_, w) => this.loop(w));
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async loop(w: number) {
    while (!this.stopped) {
      const k = this.n++;
      const roll = k % 10;
      if (roll < 7) await this.request('read', READ, { first: READ_PAGE });
      else {
        // Write on customers of the last tenth: the billing run bills them too (they hold each other's locks).
        const c = this.customers[this.customers.length - 1 - (k % Math.max(1, Math.floor(this.customers.length / 10)))]!;
        if (roll < 9) {
          await this.request('invoice', CREATE_INVOICE, {
            i: { customerId: c.customer, issue: true, lines: [{ description: `Filter cleaning #${k}`, quantity: '1', unitPrice: '4500' }] },
          });
        } else {
          const key = `resilience-${w}-${k}`;
          this.paymentKeys.push(key);
          await this.request('payment', TAKE_PAYMENT, {
            i: { customerId: c.customer, paymentMethodId: c.method, amount: { amount: '1000', currency: 'USD' }, idempotencyKey: key },
          });
        }
      }
    }
  }

  private async request(op: Sample['op'], query: string, variables: Record<string, unknown>) {
    const started = performance.now();
    const at = Date.now();
    try {
      const res = await fetch(`${this.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      const ms = performance.now() - started;
      let body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } | null = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      if (res.status === 200 && body?.data && !body.errors?.length) this.samples.push({ at, op, ms, status: res.status, outcome: 'ok' });
      else if (body?.errors?.length) this.samples.push({ at, op, ms, status: res.status, outcome: 'error', code: String(body.errors[0]!.extensions?.code ?? '?') });
      else this.samples.push({ at, op, ms, status: res.status, outcome: 'bad', code: text.slice(0, 80) });
    } catch (error) {
      const ms = performance.now() - started;
      const name = (error as Error).name;
      this.samples.push({ at, op, ms, status: 0, outcome: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network', code: String((error as Error).cause ?? name).slice(0, 80) });
      await sleep(100); // a refused connection answers at once: do not spin
    }
  }
}

// ── the scenario ───────────────────────────────────────────────────────────────────────────────────────────────

interface Fault {
  fault: string;
  at: number;
  billedBefore: number;
  outageMs: number;
  /** The run was still RUNNING when the fault started. */
  during: boolean;
}

interface Phase {
  name: string;
  from: number;
  to: number;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-resilience-'));
  if (isRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const postgres = new PrivatePostgres(dir, await freePort(55432));
  const redis = new PrivateRedis(dir, await freePort(56379));
  const mail = new MailSink();
  const smtpPort = await freePort(0);
  const apiPort = await freePort(0);
  const workerPorts = [await freePort(0), await freePort(0)];
  const apps: AppProcess[] = [];
  let db: pg.Pool | null = null;
  let load: Load | null = null;
  let cleaning: Promise<void> | null = null;

  // One cleanup, awaited by whoever asks (the signal handler and main's finally may both).
  const cleanup = () => (cleaning ??= stopEverything());
  const stopEverything = async () => {
    await load?.stop().catch(() => undefined);
    for (const a of apps) await stopApp(a).catch(() => undefined);
    await db?.end().catch(() => undefined);
    await redis.stop().catch(() => redis.kill());
    try {
      if (postgres.running()) postgres.stop();
    } catch {
      // already stopped
    }
    await mail.close().catch(() => undefined);
    if (KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    log(`private PostgreSQL on ${postgres.port}, Redis on ${redis.port}, SMTP on ${smtpPort} (${dir})`);
    postgres.init();
    postgres.start();
    const admin = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${postgres.port}/postgres` });
    await admin.connect();
    await admin.query('create database settle');
    await admin.end();
    await redis.start();
    await mail.listen(smtpPort);

    const env: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'settle-resilience',
      JWT_SECRET: randomBytes(32).toString('hex'),
      PAYMENT_GATEWAY: 'sandbox',
      PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
      DATA_DIR: dataDir,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      NOTIFY_POLL_MS: '500',
    };
    const api = startApp('api', 'api', apiPort, env, dir, ['--migrate']);
    apps.push(api);
    await waitReady(api);
    log('api ready (migrations applied)');
    let worker = startApp('worker-1', 'worker', workerPorts[0]!, env, dir);
    apps.push(worker);

    // The organization and its manager through the API, then the customers with plain SQL.
    const signUp = await gql(`http://127.0.0.1:${apiPort}`, null, `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { organization { id } } } }`, {
      i: { organizationName: 'Resilient Pools', name: 'Rita Owner', email: 'rita@resilient.test', password: 'a long enough password' },
    });
    const token: string = signUp.signUp.accessToken;
    const organizationId: string = signUp.signUp.user.organization.id;
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    db.on('error', () => undefined); // idle clients die with the PostgreSQL restart
    const today = new Date().toISOString().slice(0, 10);
    const start = new Date(`${today.slice(0, 7)}-01T00:00:00Z`);
    start.setUTCMonth(start.getUTCMonth() - (MONTHS - 1));
    const seeded = await seedBillableCustomers(db, {
      organizationId,
      count: AGREEMENTS,
      now: new Date().toISOString(),
      startDate: start.toISOString().slice(0, 10),
      gatewayPrefix: 'resil',
    });
    await db.query('vacuum (analyze)');
    log(`seeded ${AGREEMENTS} customers with a saved card and an ACTIVE monthly agreement since ${start.toISOString().slice(0, 10)} (${MONTHS} periods due each)`);
    await waitReady(worker);
    log('worker ready');

    // Steady load, then the billing run.
    load = new Load(`http://127.0.0.1:${apiPort}`, token, seeded);
    load.start(CONCURRENCY);
    const phases: Phase[] = [];
    let mark = Date.now();
    const phase = (name: string) => {
      const now = Date.now();
      phases.push({ name, from: mark, to: now });
      mark = now;
    };
    await sleep(8_000);
    phase('steady load, before the run');
    const run = await gql(`http://127.0.0.1:${apiPort}`, token, `mutation { billAgreements { id status } }`);
    const runId: string = run.billAgreements.id;
    const totalPeriods = AGREEMENTS * MONTHS;
    log(`billing run ${runId} started: ${totalPeriods} periods due`);
    /** Periods whose charge is recorded (claimed periods, INVOICED, come well before: Tx1 of a batch is quick). */
    const billed = async () => Number((await db!.query(`select count(*)::int as n from billed_period where run_id = $1 and status <> 'INVOICED'`, [runId])).rows[0].n);
    const faults: Fault[] = [];

    const runGoing = async () => (await db!.query(`select status from billing_run where id = $1`, [runId])).rows[0].status === 'RUNNING';
    /** Waits until `share` of the periods are billed, or `maxMs` passed (a run stalled by the previous fault). */
    const progress = async (share: number, maxMs: number) => {
      const deadline = Date.now() + maxMs;
      while (Date.now() < deadline && (await billed()) < totalPeriods * share) await sleep(200);
    };

    // 1. Redis restart (empty: no persistence) once the first batches are charged (the run is well under way).
    await progress(0.1, 120_000);
    phase('run going');
    let b = await billed();
    let going = await runGoing();
    log(`restarting Redis (${b} periods charged)`);
    let down = Date.now();
    await redis.stop();
    await sleep(REDIS_OUTAGE_MS);
    await redis.start();
    faults.push({ fault: 'Redis restarted (empty)', at: down, billedBefore: b, outageMs: Date.now() - down, during: going });
    phase('Redis down');
    log('Redis back');
    await sleep(2_000);
    phase('after Redis');

    // 2. PostgreSQL restart.
    b = await billed();
    going = await runGoing();
    log(`restarting PostgreSQL (${b} periods charged)`);
    down = Date.now();
    postgres.stop();
    await sleep(PG_OUTAGE_MS);
    postgres.start();
    faults.push({ fault: 'PostgreSQL restarted (fast shutdown)', at: down, billedBefore: b, outageMs: Date.now() - down, during: going });
    phase('PostgreSQL down');
    log('PostgreSQL back');
    await sleep(2_000);
    phase('after PostgreSQL');

    // 3. kill -9 the worker, start another.
    b = await billed();
    going = await runGoing();
    log(`SIGKILL worker (${b} periods charged)`);
    down = Date.now();
    worker.child.kill('SIGKILL');
    await new Promise((resolve) => worker.child.once('exit', resolve));
    worker = startApp('worker-2', 'worker', workerPorts[1]!, env, dir);
    apps.push(worker);
    await waitReady(worker);
    faults.push({ fault: 'worker killed with SIGKILL, a new one started', at: down, billedBefore: b, outageMs: Date.now() - down, during: going });
    phase('worker dead, new one starting');
    log('new worker ready');

    // Let everything finish by itself: no resumeBillingRun, no operator.
    const settleStarted = Date.now();
    const state = async () =>
      (
        await db!.query(`select (select status from billing_run where id = $1) as run,
          (select count(*)::int from outbox_message where published_at is null and occurred_at < now() - interval '10 seconds') as unpublished,
          (select count(*)::int from message where status in ('QUEUED', 'SENDING')) as unsent,
          (select count(*)::int from payment_attempt where status in ('PENDING', 'UNKNOWN') and started_at < now() - interval '10 seconds') as unsettled`, [runId])
      ).rows[0] as { run: string; unpublished: number; unsent: number; unsettled: number };
    let settled = true;
    try {
      await until(
        'the run to finish and the outbox and messages to drain',
        async () => {
          const s = await state();
          return !['QUEUED', 'RUNNING'].includes(s.run) && s.unpublished === 0 && s.unsettled === 0;
        },
        SETTLE_DEADLINE_MS,
        1_000,
      );
    } catch {
      settled = false;
    }
    const settleMs = Date.now() - settleStarted;
    phase('recovery: the run finishing');
    // Then the deliveries and the messages they write drain (bounded: a backlog left is checked to be queued, not lost).
    const drainStarted = Date.now();
    let drained = false;
    try {
      await until('the deliveries and messages to drain', async () => (await state()).unsent === 0 && (await deliveriesPending(db!)) === 0, DRAIN_MS, 1_000);
      drained = true;
    } catch {
      drained = false;
    }
    const drainMs = Date.now() - drainStarted;
    phase('draining deliveries and messages');
    await sleep(5_000);
    phase('after recovery');
    await load.stop();
    const loadStoppedAt = Date.now();
    await sleep(2_000); // the relay publishes what the last requests recorded
    log(settled ? `the run finished ${(settleMs / 1000).toFixed(1)} s after the last fault` : `NOT finished ${SETTLE_DEADLINE_MS / 1000} s after the last fault: ${JSON.stringify(await state())}`);
    log(drained ? `deliveries and messages drained ${(drainMs / 1000).toFixed(1)} s later` : `deliveries and messages not drained within ${DRAIN_MS / 1000} s: the backlog is checked to be queued`);

    // ── checks ──
    const checks: { name: string; ok: boolean; detail: string }[] = [];
    const one = async (sql: string, params: unknown[] = []) => (await db!.query(sql, params)).rows[0] as Record<string, number | string | null>;
    const runRow = await one(`select status, agreements_total, agreements_done, invoiced, charged, failed, skipped from billing_run where id = $1`, [runId]);
    checks.push({ name: 'the run finished by itself', ok: runRow.status === 'COMPLETED', detail: JSON.stringify(runRow) });
    const periods = await one(
      `select count(*)::int as periods, count(distinct (agreement_id, period_start))::int as distinct_periods,
              count(distinct invoice_id)::int as invoices, count(distinct payment_id)::int as payments,
              count(*) filter (where status <> 'CHARGED')::int as not_charged
         from billed_period where organization_id = $1`,
      [organizationId],
    );
    const perAgreement = await one(
      `select count(*)::int as agreements_wrong from (select a.id from service_agreement a left join billed_period p on p.agreement_id = a.id
         where a.organization_id = $1 group by a.id having count(p.id) <> $2) x`,
      [organizationId, MONTHS],
    );
    const agreementInvoices = await one(
      `select count(*)::int as n, count(distinct (billed_ref_type, billed_ref_id))::int as distinct_refs from invoice where organization_id = $1 and billed_ref_type = 'AGREEMENT_PERIOD'`,
      [organizationId],
    ).catch(() => ({ n: -1, distinct_refs: -1 }));
    const agreementPayments = await one(
      `select count(*)::int as n, count(distinct purpose_ref_id)::int as distinct_refs, count(*) filter (where status = 'SUCCEEDED')::int as succeeded
         from payment where organization_id = $1 and purpose = 'AGREEMENT'`,
      [organizationId],
    );
    checks.push({
      name: 'every (agreement, period) billed exactly once: one billed period, one invoice, one payment',
      ok:
        periods.periods === totalPeriods &&
        periods.distinct_periods === totalPeriods &&
        periods.invoices === totalPeriods &&
        periods.payments === totalPeriods &&
        periods.not_charged === 0 &&
        perAgreement.agreements_wrong === 0 &&
        agreementInvoices.n === totalPeriods &&
        agreementInvoices.distinct_refs === totalPeriods &&
        agreementPayments.n === totalPeriods &&
        agreementPayments.distinct_refs === totalPeriods &&
        agreementPayments.succeeded === totalPeriods,
      detail: `expected ${totalPeriods}: billed_period ${JSON.stringify(periods)}, agreements without exactly ${MONTHS} ${perAgreement.agreements_wrong}, invoices ${JSON.stringify(agreementInvoices)}, payments ${JSON.stringify(agreementPayments)}`,
    });
    const charges = await one(
      `select (select count(*)::int from sandbox_gateway_object where type = 'payment_intent') as charges,
              (select count(*)::int from sandbox_gateway_object o where type = 'payment_intent'
                 and (select count(*) from payment_attempt a where a.gateway_charge_id = o.id) <> 1) as charges_without_one_attempt,
              (select count(*)::int from payment_attempt a where a.status in ('SUCCEEDED', 'PROCESSING')
                 and not exists (select 1 from sandbox_gateway_object o where o.id = a.gateway_charge_id and o.type = 'payment_intent')) as attempts_without_charge,
              (select count(*)::int from payment p where p.status = 'SUCCEEDED'
                 and (select count(*) from payment_attempt a where a.payment_id = p.id and a.status = 'SUCCEEDED') <> 1) as payments_not_one_success,
              (select count(*)::int from payment_attempt where status in ('PENDING', 'UNKNOWN')) as attempts_unsettled`,
    );
    checks.push({
      name: 'every gateway charge matches exactly one payment attempt, and the other way round',
      ok: charges.charges_without_one_attempt === 0 && charges.attempts_without_charge === 0 && charges.payments_not_one_success === 0 && charges.attempts_unsettled === 0,
      detail: JSON.stringify(charges),
    });
    const keys = load.paymentKeys;
    const loadPayments = await one(
      `select count(*)::int as n, count(distinct idempotency_key)::int as distinct_keys from payment where organization_id = $1 and idempotency_key like '%resilience-%'`,
      [organizationId],
    );
    checks.push({
      name: "the load's takePayment requests: at most one payment per idempotency key",
      ok: loadPayments.n === loadPayments.distinct_keys && Number(loadPayments.n) <= keys.length,
      detail: `${keys.length} requests sent, ${loadPayments.n} payments, ${loadPayments.distinct_keys} distinct keys`,
    });
    const outbox = await one(
      `select count(*)::int as events, count(*) filter (where published_at is null)::int as unpublished,
              (select count(*)::int from outbox_delivery) as deliveries,
              (select count(*)::int from outbox_delivery where status = 'DEAD') as dead,
              (select count(*)::int from outbox_delivery where status = 'DEAD' and coalesce(last_error, '') = '') as dead_without_reason
         from outbox_message`,
    );
    // Redis first, then the database (events published before the snapshot): a job handled in between has its row.
    const snapshot = new Date();
    const queuedJobs = await queuedOutboxJobs(redis.url, env.QUEUE_PREFIX!);
    const missing = await undeliveredJobs(db, snapshot);
    const lost = missing.filter((id) => !queuedJobs.has(id));
    checks.push({
      name: 'no outbox event stuck or lost: all published; per subscribed handler a PROCESSED or DEAD delivery (with its reason), or its job still queued',
      ok: outbox.unpublished === 0 && lost.length === 0 && outbox.dead_without_reason === 0,
      detail: `${JSON.stringify(outbox)}; not delivered yet ${missing.length}, of which queued in Redis ${missing.length - lost.length}, **lost ${lost.length}**${lost.length ? ` (e.g. ${lost.slice(0, 2).join(', ')})` : ''}`,
    });
    const deadRows = (await db.query(`select event_type, handler, left(last_error, 160) as error, count(*)::int as n from outbox_delivery where status = 'DEAD' group by 1, 2, 3 order by 4 desc limit 10`)).rows;
    const messages = await one(
      `select count(*)::int as messages, count(*) filter (where status = 'SENT')::int as sent, count(*) filter (where status = 'FAILED')::int as failed,
              count(*) filter (where status in ('QUEUED', 'SENDING'))::int as unsent,
              count(*) - count(distinct (organization_id, dedupe_key, channel))::int as duplicate_keys,
              count(*) filter (where channel = 'EMAIL' and status = 'SENT')::int as emails_sent
         from message`,
    );
    const received = [...mail.received.values()];
    const twice = received.filter((n) => n > 1).length;
    checks.push({
      name: 'no message sent twice: dedupe keys unique, no Message-ID received twice by the SMTP server, every SENT email received',
      // The dispatcher may still be sending: received ones not yet recorded SENT are at most the unsent ones.
      ok:
        Number(messages.duplicate_keys) === 0 &&
        twice === 0 &&
        mail.received.size >= Number(messages.emails_sent) &&
        mail.received.size <= Number(messages.emails_sent) + Number(messages.unsent),
      detail: `${JSON.stringify(messages)}; SMTP server: ${mail.total} received, ${mail.received.size} distinct Message-IDs, ${twice} received more than once`,
    });

    // The API during and after the outages.
    const samples = load.samples;
    const hangs = samples.filter((s) => s.outcome === 'timeout');
    const bad = samples.filter((s) => s.outcome === 'bad');
    checks.push({
      name: `the API answered during the outages: no request without an answer within ${REQUEST_TIMEOUT_MS / 1000} s, every error with our error body`,
      ok: hangs.length === 0 && bad.length === 0,
      detail: `${hangs.length} timeouts${hangs.length ? ` (${[...new Set(hangs.map((h) => h.op))].join(', ')}; in phases ${[...new Set(hangs.map((h) => phases.find((p) => h.at >= p.from && h.at < p.to)?.name ?? '?'))].join(', ')})` : ''}, ${bad.length} answers without a GraphQL body${bad.length ? ` (e.g. ${bad[0]!.status} ${bad[0]!.code})` : ''}`,
    });
    const recoveries = faults.map((f) => {
      const firstOk = samples.find((s) => s.at >= f.at + f.outageMs && s.outcome === 'ok' && s.op === 'read');
      return firstOk ? firstOk.at - (f.at + f.outageMs) : null;
    });
    const tailSamples = samples.filter((s) => s.at >= loadStoppedAt - 10_000);
    const tailErrors = tailSamples.filter((s) => s.outcome !== 'ok' && !(s.outcome === 'error' && s.op !== 'read' && isBusinessError(s.code)));
    checks.push({
      name: 'the API recovered by itself: reads answer 200 again after each outage, and everything answers at the end',
      ok: recoveries.every((r) => r !== null) && tailSamples.length > 0 && tailErrors.length === 0,
      detail: `first 200 read after each fault ended: ${recoveries.map((r) => (r === null ? 'never' : `${r} ms`)).join(', ')}; last 10 s of load: ${tailSamples.length} requests, ${tailErrors.length} errors`,
    });

    checks.push({
      name: 'every fault landed while the billing run was running',
      ok: faults.every((f) => f.during),
      detail: faults.map((f) => `${f.fault}: ${f.during ? 'during' : 'AFTER'} the run`).join('; '),
    });
    const report = renderReport({ phases, samples, faults, checks, settled, settleMs, drained, drainMs, deadRows, totalPeriods, runRow, mail });
    console.log(`\n${report}`);
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench/results/resilience.md'), report);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      for (const a of apps) log(`── ${a.name} log (tail) ──\n${tail(a.logFile, 15)}`);
    }
    return failed.length ? 1 : 0;
  } catch (error) {
    for (const a of apps) log(`── ${a.name} log (tail) ──\n${tail(a.logFile, 20)}`);
    throw error;
  } finally {
    await cleanup();
  }
}

/** Published events × the handlers subscribed to their type, without a delivery row yet (lost, or still queued). */
async function deliveriesPending(db: pg.Pool): Promise<number> {
  // The handlers subscribed to each type are what the deliveries of this run show: every type with at least one
  // delivery has its handlers listed; an event of that type missing one of them is counted.
  const { rows } = await db.query(
    `with handlers as (select distinct event_type, handler from outbox_delivery)
     select count(*)::int as n from outbox_message m join handlers h on h.event_type = m.type
      where m.published_at is not null
        and not exists (select 1 from outbox_delivery d where d.message_id = m.id and d.handler = h.handler)`,
  );
  return Number(rows[0].n);
}

/** `<event>:<handler>` of each published event × subscribed handler with no delivery row (not handled yet, or lost). */
async function undeliveredJobs(db: pg.Pool, publishedBefore: Date): Promise<string[]> {
  const { rows } = await db.query(
    `with handlers as (select distinct event_type, handler from outbox_delivery)
     select m.id || ':' || h.handler as job from outbox_message m join handlers h on h.event_type = m.type
      where m.published_at is not null and m.published_at < $1
        and not exists (select 1 from outbox_delivery d where d.message_id = m.id and d.handler = h.handler)`,
    [publishedBefore],
  );
  return rows.map((r: { job: string }) => r.job);
}

/** The ids of the delivery jobs Redis holds (waiting, active, delayed, paused; read atomically): `<event>:<handler>`. */
async function queuedOutboxJobs(url: string, prefix: string): Promise<Set<string>> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const key = (k: string) => `${prefix}:outbox:${k}`;
    const results = (await client.multi().lrange(key('wait'), 0, -1).lrange(key('active'), 0, -1).lrange(key('paused'), 0, -1).zrange(key('delayed'), 0, -1).exec()) ?? [];
    return new Set(results.flatMap(([error, ids]) => (error ? [] : (ids as string[]))));
  } finally {
    client.disconnect();
  }
}

/** Answers that are about the request, not the outage (a payment that waited on another, a locked invoice …). */
function isBusinessError(code: string | undefined): boolean {
  return code === 'CONFLICT' || code === 'BAD_USER_INPUT';
}

async function gql(base: string, token: string | null, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: { message: string }[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (body.errors?.length || !body.data) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function renderReport(r: {
  phases: Phase[];
  samples: Sample[];
  faults: Fault[];
  checks: { name: string; ok: boolean; detail: string }[];
  settled: boolean;
  settleMs: number;
  drained: boolean;
  drainMs: number;
  deadRows: Record<string, unknown>[];
  totalPeriods: number;
  runRow: Record<string, unknown>;
  mail: MailSink;
}): string {
  const ms = (n: number) => `${Math.round(n)}`;
  const lines = [
    '# Resilience scenario',
    '',
    `\`npm run resilience -- --agreements ${AGREEMENTS} --months ${MONTHS} --concurrency ${CONCURRENCY}\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores)`,
    '',
    `${AGREEMENTS.toLocaleString('en-US')} agreements × ${MONTHS} months = ${r.totalPeriods.toLocaleString('en-US')} periods billed by one run, while ${CONCURRENCY} clients ` +
      `send GraphQL requests (70% a page of ${READ_PAGE} customers with balance and default method, 20% createInvoice, 10% takePayment; ${REQUEST_TIMEOUT_MS / 1000} s timeout each).`,
    '',
    '## Checks',
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...r.checks.map((c) => `| ${c.name} | ${c.ok ? '**pass**' : '**FAIL**'} | ${c.detail.replace(/\|/g, '\\|')} |`),
    '',
    '## Faults',
    '',
    '| fault | periods charged before | run still going | outage |',
    '|---|---:|---|---:|',
    ...r.faults.map((f) => `| ${f.fault} | ${f.billedBefore.toLocaleString('en-US')} of ${r.totalPeriods.toLocaleString('en-US')} | ${f.during ? 'yes' : '**no**'} | ${(f.outageMs / 1000).toFixed(1)} s |`),
    '',
    r.settled
      ? `After the last fault the run finished by itself in ${(r.settleMs / 1000).toFixed(1)} s (${r.runRow.status}, every event published, no payment attempt left PENDING/UNKNOWN) — no resumeBillingRun, no operator. ` +
        (r.drained
          ? `The event deliveries and the messages they write drained ${(r.drainMs / 1000).toFixed(1)} s later.`
          : `The event deliveries had not all drained ${(r.drainMs / 1000).toFixed(0)} s later (a backlog, checked above to be queued in Redis, not lost).`)
      : `After the last fault the run did NOT finish within ${(r.settleMs / 1000).toFixed(0)} s.`,
    `The SMTP server received ${r.mail.total} emails (${r.mail.received.size} distinct Message-IDs).`,
    '',
    '## The API, phase by phase',
    '',
    '| phase | s | requests | ok | errors (codes) | timeouts | refused | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|',
    ...r.phases.map((p) => {
      const s = r.samples.filter((x) => x.at >= p.from && x.at < p.to);
      const codes = new Map<string, number>();
      for (const x of s.filter((x) => x.outcome === 'error' || x.outcome === 'bad')) codes.set(`${x.status} ${x.code}`, (codes.get(`${x.status} ${x.code}`) ?? 0) + 1);
      const lat = s.map((x) => x.ms);
      return `| ${p.name} | ${((p.to - p.from) / 1000).toFixed(1)} | ${s.length} | ${s.filter((x) => x.outcome === 'ok').length} | ${[...codes].map(([k, v]) => `${k} ×${v}`).join(', ') || '—'} | ${s.filter((x) => x.outcome === 'timeout').length} | ${s.filter((x) => x.outcome === 'network').length} | ${ms(percentile(lat, 50))} | ${ms(percentile(lat, 99))} | ${ms(Math.max(0, ...lat))} |`;
    }),
    '',
  ];
  if (r.deadRows.length) {
    lines.push('## Dead letters', '', '| event | handler | error | n |', '|---|---|---|---:|');
    for (const d of r.deadRows) lines.push(`| ${d.event_type} | ${d.handler} | ${String(d.error).replace(/\|/g, '\\|')} | ${d.n} |`);
    lines.push('');
  }
  return lines.join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
