/**
 * npm run bench:graphql [-- --customers 10000 --duration 15 --warmup 3 --connections 50 --keep]
 * BENCH_PROFILE=1 npm run bench:graphql   # + a CPU profile of the app process during the page run (top self time)
 *
 * GraphQL reads under load: a staff page of 50 customers (balance, default method, last payment) and a single
 * invoice with its lines and customer, at 50 concurrent connections with autocannon, against the real app (role
 * api, NODE_ENV=production, LOG_LEVEL=warn) started as a child process on its own database. The baseline is a
 * minimal node:http server (same machine, same database, a pg Pool of the same size) answering the same JSON with
 * hand-written SQL; the bench checks that both answer exactly the same `data` before measuring. It also counts the
 * SQL statements the app sends per request. Prints and writes bench/results/graphql-reads.md.
 *
 * BENCH_DATABASE_URL: a server where the bench may create and drop settle_bench_graphql (default
 * postgresql://postgres@127.0.0.1:5432/postgres). BENCH_REDIS_URL (default redis://127.0.0.1:6379): the app's Bull
 * connection, under a queue prefix of its own.
 *
 * The same file is also the baseline server (`--baseline-server`) and, imported with `--import` into the app process
 * (BENCH_GRAPHQL_ROLE=count), the hook that counts the statements the app sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { freshDatabase } from './support/bench-database.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');

// ---------------------------------------------------------------------------------------------------- queries
/**
 * What a staff member's customer list asks for. It stays under the production cost limit
 * (GRAPHQL_MAX_COMPLEXITY 1,000): the estimate multiplies everything under the connection by the page size, so 50
 * customers leave room for 14 fields per customer: this query costs 951.
 */
const PAGE_QUERY = `query CustomersPage($first: Int!) {
  customers(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      name
      balance { owed { amount formatted } overdue { formatted } }
      defaultPaymentMethod { label }
      lastPayment { amount { formatted } createdAt }
    }
  }
}`;

const INVOICE_QUERY = `query Invoice($id: ID!) {
  invoice(id: $id) {
    id number status dueDate daysOverdue
    total { amount formatted }
    amountDue { amount formatted }
    customer { id name }
    lines { description quantity unitPrice { formatted } total { formatted } }
  }
}`;

const PAGE_SIZE = 50;

// ---------------------------------------------------------------------------------------------------- count hook
/** In the app process: count every statement sent to PostgreSQL; the bench asks for the count over IPC. */
if (process.env.BENCH_GRAPHQL_ROLE === 'count') {
  let statements = 0;
  const original = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (this: unknown, ...a: unknown[]) {
    statements++;
    if (!process.env.BENCH_SQL_LOG) return original.apply(this, a);
    // BENCH_SQL_LOG=1: every statement and its time on stderr (to look at one request's statements by hand).
    const text = typeof a[0] === 'string' ? a[0] : ((a[0] as { text?: string })?.text ?? '?');
    const t = performance.now();
    const out = original.apply(this, a) as Promise<unknown>;
    void Promise.resolve(out).then(() => console.error(`[sql ${(performance.now() - t).toFixed(2)} ms] ${text.replace(/\s+/g, ' ').slice(0, 400)}`), () => undefined);
    return out;
  };
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ statements });
  });
} else if (process.argv.includes('--baseline-server')) {
  void baselineServer();
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------------- options
function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

// ---------------------------------------------------------------------------------------------------- data
const FIRST = ['Marie', 'Jean', 'Émilie', 'François', 'Chloé', 'Olivier', 'Sophie', 'Luc', 'Zoë', 'José', 'Nathalie', 'Pierre',
  'Isabelle', 'Michel', 'Julie', 'David', 'Sarah', 'Michael', 'Jennifer', 'James', 'Linda', 'Robert', 'Patricia', 'John',
  'Mary', 'William', 'Elizabeth', 'Thomas', 'Karen', 'Daniel', 'Nancy', 'Paul', 'Lisa', 'Mark', 'Sandra', 'Kevin', 'Amy'];
const LAST = ['Tremblay', 'Gagnon', 'Roy', 'Côté', 'Bouchard', 'Gauthier', 'Morin', 'Lavoie', 'Fortin', 'Gagné', 'Ouellet',
  'Pelletier', 'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Wilson',
  'Anderson', 'Taylor', 'Moore', 'Jackson', 'Lee', 'Thompson', 'White', 'Harris', 'Clark', "O'Brien", 'Murphy', 'Nguyen', 'Patel', 'Kim'];

/**
 * One organization's customers and their receivables, generated in PostgreSQL (deterministic: the same rows every
 * run). Per customer: 90% ACTIVE / 5% INACTIVE / 5% ARCHIVED; 75% a default card (a tenth of them also a bank
 * account); 4 monthly invoices of 2 lines (older ones PAID, the newest OPEN 60% / PARTIALLY_PAID 10% / PAID 30%);
 * a SUCCEEDED payment per paid invoice plus a FAILED one for 5%; account credit for 10%; an unreconciled cheque for 5%.
 */
async function seedOrganization(db: pg.Client, org: string, name: string, customers: number, today: string): Promise<void> {
  await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, $2, 'USD', 'America/New_York', 'en-US', now())`, [org, name]);
  await db.query(`select setseed(0.42)`);
  await db.query(
    `insert into customer (id, organization_id, created_at, updated_at, name, sort_name, search_text, email, status, has_card, has_bank_account, has_consent, billing_address, tags)
     select gen_random_uuid(), $1::uuid, ts, ts, n, lower(n), lower(n), lower(replace(n, ' ', '.')) || g || '@example.com',
            (case when g % 20 = 0 then 'ARCHIVED' when g % 20 = 1 then 'INACTIVE' else 'ACTIVE' end)::customer_status,
            g % 4 <> 0, g % 40 = 1, g % 4 <> 0,
            '{"line1":"1 Main St","line2":null,"city":"Montréal","region":"QC","postalCode":"H2X 1Y4","country":"CA"}'::jsonb, '{residential}'
       from (select g, timestamptz '2025-01-01' + g * interval '1 minute' as ts,
                    ($3::text[])[1 + (g * 7) % array_length($3::text[], 1)] || ' ' || ($4::text[])[1 + (g * 13) % array_length($4::text[], 1)] as n
               from generate_series(1, $2::int) g) s`,
    [org, customers, FIRST, LAST],
  );
  await db.query(`create temporary table bench_c on commit preserve rows as
                    select id, row_number() over (order by created_at) as g from customer where organization_id = $1`, [org]);
  await db.query(
    `insert into payment_method (id, organization_id, created_at, updated_at, customer_id, kind, status, gateway, gateway_payment_method_id, fingerprint,
                                 brand, last4, exp_month, exp_year, funding, billing_address, is_default, saved_via, consent_granted, consent_granted_at, consent_source)
     select gen_random_uuid(), $1::uuid, now(), now(), c.id, 'CARD'::payment_method_kind, 'ACTIVE'::payment_method_status, 'sandbox', 'pm_' || c.g, 'fp_' || c.g,
            (array['visa', 'mastercard', 'amex'])[1 + c.g % 3], lpad((c.g % 10000)::text, 4, '0'), 1 + c.g % 12, 2027 + c.g % 4, 'credit',
            '{"line1":"1 Main St","line2":null,"city":"Montréal","region":"QC","postalCode":"H2X 1Y4","country":"CA"}'::jsonb, true, 'STAFF'::payment_method_saved_via, true, now(), 'STAFF_ON_CUSTOMER_INSTRUCTION'::consent_source
       from bench_c c where c.g % 4 <> 0
     union all
     select gen_random_uuid(), $1::uuid, now(), now(), c.id, 'BANK_ACCOUNT'::payment_method_kind, 'ACTIVE'::payment_method_status, 'sandbox', 'pm_b' || c.g, 'fpb_' || c.g,
            null, '6789', null, null, null, '{"line1":"1 Main St","line2":null,"city":"Montréal","region":"QC","postalCode":"H2X 1Y4","country":"CA"}'::jsonb, false, 'STAFF'::payment_method_saved_via, false, null, null
       from bench_c c where c.g % 40 = 1`,
    [org],
  );
  // 4 invoices per customer, one a month; k = 4 is the newest.
  await db.query(
    `insert into invoice (id, organization_id, created_at, updated_at, customer_id, issued_at, sequence, status, subtotal, tax, total, amount_paid,
                          amount_credited, issue_date, due_date, payment_terms_days, billed_ref_type, number, currency, paid_at)
     select gen_random_uuid(), $1::uuid, d, d, c.id, d, s, st::invoice_status, sub, tax, sub + tax,
            case when st = 'PAID' then sub + tax when st = 'PARTIALLY_PAID' then (sub + tax) / 2 else 0 end, 0,
            d::date, (d + interval '30 days')::date, 30, 'NONE', 'INV-' || lpad(s::text, 6, '0'), 'USD', case when st = 'PAID' then d + interval '10 days' end
       from (select c.id, k, ($2::date - ((4 - k) * 30 + 20) * interval '1 day')::timestamptz as d, (c.g - 1) * 4 + k as s,
                    case when k < 4 or c.g % 10 >= 7 then 'PAID' when c.g % 10 = 6 then 'PARTIALLY_PAID' else 'OPEN' end as st,
                    (8000 + (c.g * 37 + k * 11) % 9000)::bigint as sub, ((8000 + (c.g * 37 + k * 11) % 9000) * 8875 / 100000)::bigint as tax
               from bench_c c, generate_series(1, 4) k) c`,
    [org, today],
  );
  await db.query(
    `insert into invoice_line (id, organization_id, created_at, updated_at, invoice_id, position, description, quantity, unit_price, tax_rate, subtotal, tax, total)
     select gen_random_uuid(), $1::uuid, i.created_at, i.created_at, i.id, p, case when p = 1 then 'Weekly pool service' else 'Chemicals' end, 1000,
            case when p = 1 then i.subtotal - 1500 else 1500 end, 8875,
            case when p = 1 then i.subtotal - 1500 else 1500 end,
            case when p = 1 then i.tax - (1500 * 8875 / 100000) else (1500 * 8875 / 100000) end,
            case when p = 1 then i.subtotal - 1500 + i.tax - (1500 * 8875 / 100000) else 1500 + (1500 * 8875 / 100000) end
       from invoice i, generate_series(1, 2) p where i.organization_id = $1`,
    [org],
  );
  await db.query(
    `insert into payment (id, organization_id, created_at, updated_at, customer_id, status, amount, currency, purpose, allocations, method_type, payment_method_id,
                          gateway_payment_method_id, method_label, brand, last4, gateway, off_session, idempotency_key, request_hash, attempt_count, succeeded_at, failed_at,
                          failure_code, failure_message)
     select gen_random_uuid(), $1::uuid, t, t, i.customer_id, st::payment_status, i.amt, 'USD', 'INVOICES', jsonb_build_array(jsonb_build_object('invoiceId', i.id, 'amount', i.amt::text)),
            'CARD', null, 'pm_x', 'Visa ending in 4242', 'visa', '4242', 'sandbox', true, 'bench:' || i.id || ':' || st, 'h', 1,
            case when st = 'SUCCEEDED' then t end, case when st = 'FAILED' then t end,
            case when st = 'FAILED' then 'INSUFFICIENT_FUNDS' end, case when st = 'FAILED' then 'The card has insufficient funds.' end
       from (select i.*, i.amount_paid as amt, i.created_at + interval '10 days' as t, 'SUCCEEDED' as st from invoice i where i.organization_id = $1 and i.amount_paid > 0
             union all
             select i.*, i.total, i.created_at + interval '12 days', 'FAILED' from invoice i join bench_c c on c.id = i.customer_id
              where i.organization_id = $1 and i.status = 'OPEN' and c.g % 20 = 2 and i.due_date > $2::date - 90) i`,
    [org, today],
  );
  await db.query(
    `insert into credit (id, organization_id, created_at, updated_at, customer_id, kind, amount, remaining, currency, reason)
     select gen_random_uuid(), $1::uuid, now(), now(), c.id, 'GOODWILL', 2500, 2500, 'USD', 'Missed visit' from bench_c c where c.g % 10 = 3`,
    [org],
  );
  await db.query(
    `insert into received_payment (id, organization_id, created_at, updated_at, customer_id, source, received_at, amount, amount_allocated, amount_credited,
                                   status, method, reference, currency)
     select gen_random_uuid(), $1::uuid, now(), now(), c.id, 'OFFLINE', now(), 5000, 0, 0, 'UNRECONCILED', 'CHEQUE', 'CHQ ' || c.g, 'USD'
       from bench_c c where c.g % 20 = 4`,
    [org],
  );
  await db.query(`drop table bench_c`);
}

// ---------------------------------------------------------------------------------------------------- JWT
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** An access token as the identity module issues it (HS256; sub, org, role, typ). */
function accessToken(secret: string, claims: { sub: string; org: string; role: string }): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ ...claims, typ: 'access', iat: now, exp: now + 86_400 }))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function verifiedClaims(secret: string, header: string | undefined): { sub: string; org: string } | null {
  const token = header?.startsWith('Bearer ') ? header.slice(7) : '';
  const [h, p, s] = token.split('.');
  if (!h || !p || !s) return null;
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { sub: string; org: string; exp: number; typ: string };
  return claims.typ === 'access' && claims.exp > Date.now() / 1000 ? claims : null;
}

// ---------------------------------------------------------------------------------------------------- baseline
/**
 * The limit the app is held against: node:http + pg.Pool (max 10, like the app's), the JWT's signature checked, one
 * hand-written statement per request, the same JSON as the app's `data`. No framework, no GraphQL, no user read,
 * no request context, no logging.
 */
async function baselineServer(): Promise<void> {
  const pool = new pg.Pool({ connectionString: process.env.BENCH_BASELINE_DB, max: 10 });
  const secret = process.env.JWT_SECRET!;
  const formatters = new Map<string, Intl.NumberFormat>();
  const money = (minor: string, currency: string, locale: string) => {
    let f = formatters.get(`${locale}|${currency}`);
    if (!f) formatters.set(`${locale}|${currency}`, (f = new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2 })));
    const v = BigInt(minor);
    const abs = v < 0n ? -v : v;
    return f.format(`${v < 0n ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}` as Intl.StringNumericLiteral);
  };
  const BRANDS: Record<string, string> = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover' };
  const label = (m: { kind: string; brand: string | null; last4: string; account_type: string | null; bank_name: string | null }) =>
    m.kind === 'CARD'
      ? `${(m.brand && BRANDS[m.brand]) ?? 'Card'} ending in ${m.last4}`
      : `${m.account_type === 'savings' ? 'Savings account' : 'Checking account'}${m.bank_name ? ` at ${m.bank_name}` : ''} ending in ${m.last4}`;
  const todayIn = (tz: string) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const thousandths = (v: string) => {
    const n = BigInt(v);
    const frac = String(n % 1000n).padStart(3, '0').replace(/0+$/, '');
    return `${n / 1000n}${frac ? `.${frac}` : ''}`;
  };
  const orgs = new Map<string, { currency: string; locale: string; time_zone: string }>();
  const orgOf = async (id: string) => {
    let o = orgs.get(id);
    if (!o) orgs.set(id, (o = (await pool.query('select currency, locale, time_zone from organization where id = $1', [id])).rows[0]));
    return o!;
  };

  async function page(org: string, first: number) {
    const o = await orgOf(org);
    const today = todayIn(o.time_zone);
    const { rows } = await pool.query(
      `with page as (select id, name, sort_name from customer where organization_id = $1 and status in ('ACTIVE', 'INACTIVE')
                      order by sort_name, id limit $2)
       select p.id, p.name, p.sort_name, coalesce(b.owed, 0)::text as owed, coalesce(b.overdue, 0)::text as overdue,
              m.kind, m.brand, m.last4, m.account_type, m.bank_name, pay.amount::text as pay_amount, pay.currency as pay_currency, pay.created_at as pay_at,
              (select count(*) from customer where organization_id = $1 and status in ('ACTIVE', 'INACTIVE'))::int as total
         from page p
         cross join lateral (select sum(total - amount_paid - amount_credited) as owed,
                                    sum(total - amount_paid - amount_credited) filter (where due_date < $3::date) as overdue
                               from invoice where organization_id = $1 and customer_id = p.id and status in ('OPEN', 'PARTIALLY_PAID')) b
         left join payment_method m on m.organization_id = $1 and m.customer_id = p.id and m.status = 'ACTIVE' and m.is_default
         left join lateral (select amount, currency, created_at from payment where organization_id = $1 and customer_id = p.id
                             order by created_at desc, id desc limit 1) pay on true
        order by p.sort_name, p.id`,
      [org, first + 1, today],
    );
    const nodes = rows.slice(0, first);
    const last = nodes[nodes.length - 1];
    return {
      customers: {
        totalCount: rows[0]?.total ?? 0,
        pageInfo: { hasNextPage: rows.length > first, endCursor: last ? b64url(JSON.stringify([last.sort_name, last.id])) : null },
        nodes: nodes.map((r) => ({
          id: r.id,
          name: r.name,
          balance: { owed: { amount: r.owed, formatted: money(r.owed, o.currency, o.locale) }, overdue: { formatted: money(r.overdue, o.currency, o.locale) } },
          defaultPaymentMethod: r.kind ? { label: label(r) } : null,
          lastPayment: r.pay_amount ? { amount: { formatted: money(r.pay_amount, r.pay_currency, o.locale) }, createdAt: (r.pay_at as Date).toISOString() } : null,
        })),
      },
    };
  }

  async function invoice(org: string, id: string) {
    const o = await orgOf(org);
    const today = todayIn(o.time_zone);
    const { rows: [r] } = await pool.query(
      `select i.id, i.number, i.status, i.due_date::text as due_date, i.currency, i.total::text as total,
              (i.total - i.amount_paid - i.amount_credited)::text as due, ($3::date - i.due_date) as late, c.id as customer_id, c.name as customer_name,
              (select json_agg(json_build_object('description', l.description, 'quantity', l.quantity::text, 'unitPrice', l.unit_price::text, 'total', l.total::text)
                               order by l.position)
                 from invoice_line l where l.organization_id = $1 and l.invoice_id = i.id) as lines
         from invoice i join customer c on c.organization_id = $1 and c.id = i.customer_id
        where i.organization_id = $1 and i.id = $2`,
      [org, id, today],
    );
    if (!r) return { invoice: null };
    const due = r.status === 'DRAFT' || r.status === 'VOID' ? '0' : r.due;
    return {
      invoice: {
        id: r.id,
        number: r.number,
        status: r.status,
        dueDate: r.due_date,
        daysOverdue: BigInt(due) > 0n && r.late > 0 ? r.late : 0,
        total: { amount: r.total, formatted: money(r.total, r.currency, o.locale) },
        amountDue: { amount: due, formatted: money(due, r.currency, o.locale) },
        customer: { id: r.customer_id, name: r.customer_name },
        lines: (r.lines ?? []).map((l: { description: string; quantity: string; unitPrice: string; total: string }) => ({
          description: l.description,
          quantity: thousandths(l.quantity),
          unitPrice: { formatted: money(l.unitPrice, r.currency, o.locale) },
          total: { formatted: money(l.total, r.currency, o.locale) },
        })),
      },
    };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const claims = verifiedClaims(secret, req.headers.authorization);
        if (!claims) {
          res.writeHead(401).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { operationName: string; variables: Record<string, unknown> };
        const data =
          body.operationName === 'CustomersPage'
            ? await page(claims.org, Number(body.variables.first))
            : await invoice(claims.org, String(body.variables.id));
        const json = JSON.stringify({ data });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
      })().catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
  });
  server.listen(Number(process.env.BENCH_BASELINE_PORT), '127.0.0.1', () => process.send?.('ready'));
}

// ---------------------------------------------------------------------------------------------------- bench
interface Run {
  label: string;
  /** app: the uncached path (GRAPHQL_READ_CACHE=off); app+cache: the read cache on; app+cache+writes: and a write every 100 ms. */
  target: 'app' | 'baseline' | 'app+cache' | 'app+cache+writes';
  /** Share of answers served from memory — cached (hit) or shared with an identical running miss — for the cached runs. */
  hitRatio?: number;
  rps: number;
  p50: number;
  p975: number;
  p99: number;
  max: number;
  total: number;
  errors: number;
  non2xx: number;
  load: [number, number];
  /** CPU time (user + system) per request: of the server process, and of the PostgreSQL backends serving it. */
  cpuMs: number;
  pgCpuMs: number;
}

/** utime + stime of a process in ms (Linux /proc; clock ticks of 10 ms). 0 when it is gone. */
function cpuTime(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function waitFor(url: string, child: ChildProcess, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function post(url: string, token: string, operationName: string, query: string, variables: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ operationName, query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: unknown[] } };
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Top self time of a .cpuprofile, by function and by package/area. */
function summarizeProfile(file: string): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const rel = url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    const pkg = rel.startsWith('node_modules/')
      ? rel.split('/').slice(1, rel.split('/')[1]!.startsWith('@') ? 3 : 2).join('/')
      : rel.startsWith('dist/')
        ? `settle: ${rel.split('/').slice(1, 3).join('/')}`
        : rel || `(${functionName || 'native'})`;
    area.set(pkg, (area.get(pkg) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${rel ? `${rel}:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1)}%`;
  // Who calls the socket writes (native frames have no url): the nearest caller that is a package or the app's code.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const writers = new Map<string, number>();
  for (const [id, us] of self) {
    if (!['writeBuffer', 'writev', 'writeUtf8String'].includes(byId.get(id)!.callFrame.functionName)) continue;
    let at = parent.get(id);
    const chain: string[] = [];
    while (at !== undefined && chain.length < 3) {
      const { url, functionName } = byId.get(at)!.callFrame;
      const rel = url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '').replace(/^.*?\/node_modules\//, 'node_modules/');
      if (rel.startsWith('node_modules/') || rel.startsWith('dist/')) chain.push(`${functionName || '(anonymous)'} ${rel.split('/').slice(0, 4).join('/')}`);
      at = parent.get(at);
    }
    const key = chain.join(' ← ') || '(no JS caller)';
    writers.set(key, (writers.get(key) ?? 0) + us);
  }
  return [
    '| socket writes (writeBuffer, writev), by caller | share |',
    '|---|--:|',
    ...[...writers.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `| \`${k.replace(/\|/g, '\\|')}\` | ${pct(v)} |`),
    '',
    '| area (self time) | share |',
    '|---|--:|',
    ...[...area.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    '| function (self time) | share |',
    '|---|--:|',
    ...[...fn.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `| \`${k.replace(/\|/g, '\\|')}\` | ${pct(v)} |`),
  ];
}

async function main(): Promise<void> {
  const CUSTOMERS = Number(option('customers', '10000'));
  const DURATION = Number(option('duration', '15'));
  const WARMUP = Number(option('warmup', '3'));
  const CONNECTIONS = Number(option('connections', '50'));
  const KEEP = process.argv.includes('--keep');
  const PROFILE = Boolean(process.env.BENCH_PROFILE);
  const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  // BENCH_DB_NAME / BENCH_PORT: to run two copies of the bench side by side on a shared machine.
  const DB_NAME = process.env.BENCH_DB_NAME ?? 'settle_bench_graphql';
  const APP_PORT = Number(process.env.BENCH_PORT ?? 3917);
  const BASE_PORT = APP_PORT + 1;
  const secret = randomBytes(32).toString('hex');
  const { default: autocannon } = await import('autocannon');
  const { checkMigrations } = await import('../src/infra/database/migrations.js');

  const bench = await freshDatabase(ADMIN_URL, DB_NAME);
  const { db, url: dbUrl } = bench;
  let app: ChildProcess | undefined;
  let baseline: ChildProcess | undefined;
  const profileDir = path.join(os.tmpdir(), `settle-bench-graphql-${process.pid}`);
  try {
    const t0 = Date.now();
    await checkMigrations(dbUrl, true);
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    const org = randomUUID();
    const user = randomUUID();
    await seedOrganization(db, org, 'Benchmark Pools', CUSTOMERS, today);
    await seedOrganization(db, randomUUID(), 'Other Pools', Math.round(CUSTOMERS / 2), today);
    await db.query(
      `insert into app_user (id, organization_id, created_at, updated_at, email, name, password_hash, role, status) values ($1, $2, now(), now(), 'owner@bench.test', 'Owner', 'x', 'OWNER', 'ACTIVE')`,
      [user, org],
    );
    await db.query('vacuum (analyze)');
    const { rows: [counts] } = await db.query(
      `select (select count(*) from customer where organization_id = $1)::int as customers, (select count(*) from invoice where organization_id = $1)::int as invoices,
              (select count(*) from invoice_line where organization_id = $1)::int as lines, (select count(*) from payment where organization_id = $1)::int as payments,
              (select count(*) from payment_method where organization_id = $1)::int as methods`,
      [org],
    );
    const { rows: invoiceRows } = await db.query(`select id from invoice where organization_id = $1 order by number limit 2000`, [org]);
    const invoiceIds = invoiceRows.map((r: { id: string }) => r.id);
    console.log(`seeded ${JSON.stringify(counts)} (+ another organization of ${Math.round(CUSTOMERS / 2)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // The app, as production runs it (role api), with the statement counter imported first.
    mkdirSync(profileDir, { recursive: true });
    // The uncached path first (GRAPHQL_READ_CACHE=off); the read cache is measured afterwards in an app of its own.
    const spawnApp = (port: number, readCache: 'on' | 'off') => spawn(
      process.execPath,
      [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), '--import', pathToFileURL(SELF).href, path.join(ROOT, 'dist/src/main.js')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          BENCH_GRAPHQL_ROLE: 'count',
          NODE_ENV: 'production',
          SETTLE_ROLE: 'api',
          GRAPHQL_READ_CACHE: readCache,
          HOST: '127.0.0.1',
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          DATABASE_URL: dbUrl,
          REDIS_URL,
          JWT_SECRET: secret,
          LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
          PAYMENT_GATEWAY: 'sandbox',
          QUEUE_PREFIX: `settle-bench-${randomBytes(4).toString('hex')}`,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    app = spawnApp(APP_PORT, 'off');
    baseline = spawn(process.execPath, [SELF, '--baseline-server'], {
      cwd: ROOT,
      env: { ...process.env, BENCH_BASELINE_PORT: String(BASE_PORT), BENCH_BASELINE_DB: dbUrl, JWT_SECRET: secret },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await waitFor(`http://127.0.0.1:${APP_PORT}/health`, app, 90);
    await waitFor(`http://127.0.0.1:${BASE_PORT}/`, baseline, 30);

    const token = accessToken(secret, { sub: user, org, role: 'OWNER' });
    const appUrl = `http://127.0.0.1:${APP_PORT}/graphql`;
    const baseUrl = `http://127.0.0.1:${BASE_PORT}/graphql`;

    // Same answers from both, before any measurement.
    const checks: [string, string, Record<string, unknown>][] = [
      ['CustomersPage', PAGE_QUERY, { first: PAGE_SIZE }],
      ['Invoice', INVOICE_QUERY, { id: invoiceIds[0] }],
      ['Invoice', INVOICE_QUERY, { id: invoiceIds[invoiceIds.length - 1] }],
    ];
    for (const [op, query, variables] of checks) {
      const a = await post(appUrl, token, op, query, variables);
      const b = await post(baseUrl, token, op, query, variables);
      if (a.status !== 200 || a.body.errors) throw new Error(`the app answered ${a.status} to ${op}: ${JSON.stringify(a.body).slice(0, 2000)}`);
      if (!isDeepStrictEqual(a.body, b.body)) {
        throw new Error(`${op}: the baseline's answer differs from the app's:\napp:      ${JSON.stringify(a.body).slice(0, 1500)}\nbaseline: ${JSON.stringify(b.body).slice(0, 1500)}`);
      }
    }

    // SQL statements per request (sequential requests, counted in the app process).
    const statements = async () =>
      new Promise<number>((resolve) => {
        app!.once('message', (m: { statements: number }) => resolve(m.statements));
        app!.send('count');
      });
    const perRequest: Record<string, number> = {};
    for (const [op, query, variables] of checks.slice(0, 2)) {
      const before = await statements();
      for (let i = 0; i < 20; i++) await post(appUrl, token, op, query, variables);
      perRequest[op] = ((await statements()) - before) / 20;
    }

    const bodyOf = (op: string, query: string, variables: Record<string, unknown>) => JSON.stringify({ operationName: op, query, variables });
    let next = 0;
    const targets = {
      CustomersPage: () => ({ body: bodyOf('CustomersPage', PAGE_QUERY, { first: PAGE_SIZE }) }),
      Invoice: () => ({ body: bodyOf('Invoice', INVOICE_QUERY, { id: invoiceIds[next++ % invoiceIds.length] }) }),
    };
    const runs: Run[] = [];
    const cacheHeaders = new Map<string, number>();
    const measure = async (label: keyof typeof targets, target: Run['target'], duration: number) => {
      const make = targets[label];
      cacheHeaders.clear();
      const result = await autocannon({
        url: target === 'app' ? appUrl : target === 'baseline' ? baseUrl : cachedUrl,
        connections: CONNECTIONS,
        duration,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        requests: [{
          method: 'POST',
          setupRequest: (req: object) => ({ ...req, ...make() }),
          onResponse: (_status: number, _body: string, _context: object, headers: Record<string, string>) => {
            const outcome = headers['x-settle-read-cache'] ?? 'none';
            cacheHeaders.set(outcome, (cacheHeaders.get(outcome) ?? 0) + 1);
          },
        }],
      });
      return result;
    };
    const CACHED_PORT = APP_PORT + 2;
    const cachedUrl = `http://127.0.0.1:${CACHED_PORT}/graphql`;
    const WITH_CACHE = !process.argv.includes('--no-cache');
    const only = option('only', 'app,baseline').split(',');
    const queries = option('queries', 'CustomersPage,Invoice').split(',');
    let cached: ChildProcess | undefined;
    const targetList: Run['target'][] = [
      ...(['app', 'baseline'] as const).filter((t) => only.includes(t)),
      ...(WITH_CACHE && only.includes('app') ? (['app+cache', 'app+cache+writes'] as const) : []),
    ];
    for (const target of targetList) {
      if (target === 'app+cache' && !cached) {
        // The read cache on: a second app process (the first one stays up for the statement counts and the final check).
        cached = spawnApp(CACHED_PORT, 'on');
        await waitFor(`http://127.0.0.1:${CACHED_PORT}/health`, cached, 90);
      }
      // The writes variant: a customer updated every 100 ms in the same organization, by another connection (as the
      // worker writes); each commit's notification drops the organization's cached answers.
      let writes = 0;
      const writer = target === 'app+cache+writes'
        ? setInterval(() => {
            void db.query(`update customer set updated_at = now() where id = (select id from customer where organization_id = $1 order by created_at offset $2 limit 1)`, [org, writes++ % 50]);
          }, 100)
        : undefined;
      for (const label of (['CustomersPage', 'Invoice'] as const).filter((q) => queries.includes(q))) {
        await measure(label, target, WARMUP);
        const load1 = os.loadavg()[0]!;
        const server = (target === 'app' ? app : target === 'baseline' ? baseline : cached)!.pid!;
        const backends = (await db.query(`select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [DB_NAME])).rows.map((r: { pid: number }) => r.pid);
        const cpu0 = cpuTime(server);
        const pg0 = backends.map(cpuTime);
        const r = await measure(label, target, DURATION);
        const cpuMs = (cpuTime(server) - cpu0) / r.requests.total;
        const pgCpuMs = backends.reduce((sum, pid, i) => sum + Math.max(0, cpuTime(pid) - pg0[i]!), 0) / r.requests.total;
        const answered = [...cacheHeaders.values()].reduce((a, b) => a + b, 0);
        runs.push({
          label,
          target,
          ...(target.startsWith('app+cache') ? { hitRatio: ((cacheHeaders.get('hit') ?? 0) + (cacheHeaders.get('shared') ?? 0)) / Math.max(1, answered) } : {}),
          rps: r.requests.average,
          p50: r.latency.p50,
          p975: r.latency.p97_5,
          p99: r.latency.p99,
          max: r.latency.max,
          total: r.requests.total,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          load: [load1, os.loadavg()[0]!],
          cpuMs,
          pgCpuMs,
        });
        console.log(
          `${target} ${label}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}, ` +
            `CPU ${cpuMs.toFixed(2)} ms/request (PostgreSQL ${pgCpuMs.toFixed(2)}), load ${load1.toFixed(2)}` +
            (target.startsWith('app+cache') ? `, read cache ${JSON.stringify(Object.fromEntries(cacheHeaders))}` : ''),
        );
      }
      if (writer) {
        clearInterval(writer);
        console.log(`${target}: ${writes} writes during the runs`);
      }
    }
    await stop(cached);
    // Still the same answer after the load (nothing degraded into errors).
    const after = await post(appUrl, token, 'CustomersPage', PAGE_QUERY, { first: PAGE_SIZE });
    if (after.status !== 200 || after.body.errors) throw new Error(`after the load the app answered ${after.status}: ${JSON.stringify(after.body).slice(0, 500)}`);

    await stop(app);
    app = undefined;
    const profileLines = PROFILE ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).flatMap((f) => summarizeProfile(path.join(profileDir, f))) : [];

    const { rows: [version] } = await db.query(`select current_setting('server_version') as v`);
    const find = (label: string, target: string) =>
      runs.find((r) => r.label === label && r.target === target) ??
      ({ label, target, rps: NaN, p50: NaN, p975: NaN, p99: NaN, max: NaN, total: 0, errors: 0, non2xx: 0, load: [NaN, NaN], cpuMs: NaN, pgCpuMs: NaN } as Run);
    const ms = (v: number) => (v < 10 ? v.toFixed(1) : Math.round(v).toString());
    const row = (r: Run, base?: Run) =>
      `| ${r.label === 'CustomersPage' ? 'page of 50 customers' : 'one invoice'} | ${r.target}${r.hitRatio === undefined ? '' : ` (${(r.hitRatio * 100).toFixed(0)}% from memory)`} | **${Math.round(r.rps).toLocaleString('en-US')}** | ${ms(r.p50)} | ${ms(r.p975)} | ${ms(r.p99)} | ${ms(r.max)} | ` +
      `${r.total.toLocaleString('en-US')} | ${r.errors} / ${r.non2xx} | ${r.cpuMs.toFixed(2)} | ${r.pgCpuMs.toFixed(2)} | ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)} | ` +
      `${base ? `${(r.rps / base.rps).toFixed(2)}× | ${(r.cpuMs / base.cpuMs).toFixed(1)}×` : ' | '} |`;
    const page = find('CustomersPage', 'app');
    const lines = [
      '# GraphQL reads benchmark',
      '',
      `\`npm run bench:graphql -- --customers ${CUSTOMERS} --duration ${DURATION} --connections ${CONNECTIONS}\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC), ` +
        `PostgreSQL ${version.v}, Node ${process.version}, ${os.cpus().length} CPUs (shared with other work: load average shown per run).`,
      '',
      `Data: ${counts.customers.toLocaleString('en-US')} customers, ${counts.invoices.toLocaleString('en-US')} invoices, ${counts.lines.toLocaleString('en-US')} lines, ` +
        `${counts.payments.toLocaleString('en-US')} payments, ${counts.methods.toLocaleString('en-US')} saved methods in the organization measured, plus another organization of half its size. ` +
        `${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s per run; the invoice query cycles through ${invoiceIds.length.toLocaleString('en-US')} invoices. ` +
        'The app: `node dist/src/main.js`, role api, NODE_ENV=production, LOG_LEVEL=warn. The baseline: node:http + pg.Pool, JWT signature checked, one ' +
        'hand-written statement, the same JSON (checked equal before the runs). autocannon runs in the bench process on the same machine.',
      '',
      '| query | server | req/s | p50 ms | p97.5 ms | p99 ms | max ms | requests | errors / non-2xx | server CPU ms/req | PostgreSQL CPU ms/req | load avg (1 min) | req/s vs baseline | CPU/req vs baseline |',
      '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|',
      row(page, find('CustomersPage', 'baseline')),
      row(find('CustomersPage', 'baseline')),
      row(find('Invoice', 'app'), find('Invoice', 'baseline')),
      row(find('Invoice', 'baseline')),
      ...(WITH_CACHE
        ? (['app+cache', 'app+cache+writes'] as const).flatMap((target) =>
            (['CustomersPage', 'Invoice'] as const).filter((q) => queries.includes(q)).map((label) => row(find(label, target), find(label, 'baseline'))))
        : []),
      '',
      ...(WITH_CACHE
        ? ['`app` is the uncached path (GRAPHQL_READ_CACHE=off). `app+cache`: the GraphQL read cache on (README, Read cache); `app+cache+writes`: the same ' +
           'with a customer of the organization updated every 100 ms by another connection, each commit dropping the organization\'s cached answers; ' +
           '"from memory" is the share of answers served from the cache or shared with an identical request already computing it (x-settle-read-cache: hit or shared; the console line has the counts). `--no-cache` skips the cached runs.', '']
        : []),
      `SQL statements per request (app): page ${perRequest.CustomersPage}, invoice ${perRequest.Invoice} (baseline: 1 each).`,
      '',
      `First target (page query: at least 1,500 req/s with p99 under 50 ms), uncached path (GRAPHQL_READ_CACHE=off): **${page.rps >= 1500 && page.p99 < 50 ? 'reached' : 'not reached'}** ` +
        `(${Math.round(page.rps).toLocaleString('en-US')} req/s, p99 ${ms(page.p99)} ms).`,
      ...(WITH_CACHE
        ? (['app+cache', 'app+cache+writes'] as const).map((target) => {
            const r = find('CustomersPage', target);
            return `With the read cache (${target}): **${r.rps >= 1500 && r.p99 < 50 ? 'reached' : 'not reached'}** (${Math.round(r.rps).toLocaleString('en-US')} req/s, p99 ${ms(r.p99)} ms, ${((r.hitRatio ?? 0) * 100).toFixed(0)}% from memory).`;
          })
        : []),
      '',
      '```graphql',
      PAGE_QUERY,
      '',
      INVOICE_QUERY,
      '```',
      '',
      ...(profileLines.length ? ['## CPU profile of the app process (BENCH_PROFILE=1; every run)', '', ...profileLines, ''] : []),
    ];
    const report = lines.join('\n');
    console.log(`\n${report}`);
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench/results/graphql-reads.md'), report);
  } finally {
    await stop(app);
    await stop(baseline);
    rmSync(profileDir, { recursive: true, force: true });
    await bench.close(KEEP);
  }
}
