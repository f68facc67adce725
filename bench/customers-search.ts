/**
 * npm run bench:customers [-- --customers 100000 --others 4x10000 --runs 7 --keep]
 *
 * The customers search on a realistic organization: creates its own database from the migrations, bulk-inserts the
 * customers (derived columns computed by the entity's own code), then runs every filter through the code the app
 * runs (CustomerSearch.where + paginate, CustomerDirectory.findIds), captures the SQL it sends, and EXPLAINs it
 * (ANALYZE, BUFFERS). Prints and writes bench/results/customers-search.md.
 *
 * BENCH_DATABASE_URL: a server where the bench may create and drop the database settle_bench_customers
 * (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Cursor } from '@mikro-orm/core';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { FixedClock, newId } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { paginate } from '../src/graphql/pagination.js';
import { ormConfig } from '../src/infra/database/mikro-orm.config.js';
import { CustomerDirectory } from '../src/modules/customers/application/customer-directory.js';
import { CUSTOMER_ORDER, CustomerSearch, type CustomerFilter } from '../src/modules/customers/application/customer-search.js';
import { Customer, CustomerStatus } from '../src/modules/customers/domain/customer.entity.js';
import { IdentityDirectory } from '../src/modules/identity/index.js';

// ---------------------------------------------------------------------------------------------------- options
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const CUSTOMERS = Number(option('customers', '100000'));
const [OTHER_ORGS, OTHER_SIZE] = option('others', '4x10000').split('x').map(Number) as [number, number];
const RUNS = Number(option('runs', '7'));
const KEEP = args.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'settle_bench_customers';
const TODAY = '2026-03-15';
const clock = new FixedClock(`${TODAY}T17:00:00Z`);

// ---------------------------------------------------------------------------------------------------- data
/** Deterministic pseudo-random numbers (mulberry32), so every run inserts the same customers. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Marie', 'Jean', 'Émilie', 'François', 'Chloé', 'Olivier', 'Sophie', 'Luc', 'Zoë', 'José', 'Nathalie', 'Pierre',
  'Isabelle', 'Michel', 'Julie', 'David', 'Sarah', 'Michael', 'Jennifer', 'James', 'Linda', 'Robert', 'Patricia', 'John',
  'Mary', 'William', 'Elizabeth', 'Thomas', 'Karen', 'Daniel', 'Nancy', 'Paul', 'Lisa', 'Mark', 'Sandra', 'Kevin', 'Amy',
  'Brian', 'Anna', 'Hélène', 'Gaëlle', 'Noémie', 'Raphaël', 'Mathieu', 'Camille', 'Léa', 'Hugo', 'Wei', 'Priya', 'Aarav',
  'Fatima', 'Omar', 'Yuki', 'Hiroshi', 'Siobhan', 'Connor', 'Ingrid', 'Lars', 'Mateo', 'Lucía'];
const LAST = ['Tremblay', 'Gagnon', 'Roy', 'Côté', 'Bouchard', 'Gauthier', 'Morin', 'Lavoie', 'Fortin', 'Gagné', 'Ouellet',
  'Pelletier', 'Bélanger', 'Lévesque', 'Bergeron', 'Leblanc', 'Paquette', 'Girard', 'Simard', 'Boucher', 'Martin', 'Smith',
  'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez',
  'Wilson', 'Anderson', 'Taylor', 'Moore', 'Jackson', 'Lee', 'Thompson', 'White', 'Harris', 'Clark', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Nguyen', 'Hill', 'Green', 'Adams', 'Baker', 'Nelson', 'Carter',
  'Mitchell', 'Pérez', 'Roberts', 'Turner', 'Phillips', 'Campbell', 'Parker', 'Evans', 'Edwards', 'Collins', 'Stewart',
  "O'Brien", 'Murphy', 'Kowalski', 'Nowak', 'Schmidt', 'Müller', 'Rossi', 'Russo', 'Singh', 'Patel', 'Kim', 'Chen', 'Wang'];
const BUSINESS = ['Landscaping', 'Plumbing', 'Property Management', 'Dental Clinic', 'Restaurant', 'Condo Association', 'Farms'];
const DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.ca', 'videotron.ca', 'icloud.com', 'hotmail.com'];
const AREA = ['514', '438', '450', '819', '613', '416', '647', '604'];
/** Tag: share of customers that have it. */
const TAGS: [string, number][] = [['residential', 0.6], ['commercial', 0.15], ['monthly', 0.25], ['seasonal', 0.12],
  ['vip', 0.08], ['pool', 0.2], ['hvac', 0.1], ['north', 0.15], ['south', 0.15], ['east', 0.12], ['west', 0.12],
  ['late-payer', 0.03], ['pool-heater', 0.005], ['referral', 0.05]];

const ascii = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^A-Za-z]/g, '').toLowerCase();
const pick = <T>(r: () => number, list: readonly T[]) => list[Math.floor(r() * list.length)]!;

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
function endOfMonth(year: number, month: number): string {
  return new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10);
}

/**
 * One customer with the distributions of the brief: 40% with a card, 15% a bank account, 30% consent (a subset of
 * those with a method), 5% with a card expired or expiring within 30 days; 85% ACTIVE, 10% INACTIVE, 5% ARCHIVED.
 */
function makeCustomer(r: () => number, organizationId: string, n: number): Customer {
  const c = new Customer();
  c.id = newId();
  c.organizationId = organizationId;
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const business = r() < 0.1;
  c.name = business ? `${last} ${pick(r, BUSINESS)}` : `${first} ${last}`;
  c.email = r() < 0.8 ? `${ascii(first)}.${ascii(last)}${n % 1000}@${pick(r, DOMAINS)}` : null;
  c.phone = r() < 0.7 ? `+1${pick(r, AREA)}${200 + Math.floor(r() * 800)}${String(Math.floor(r() * 10000)).padStart(4, '0')}` : null;
  c.externalReference = r() < 0.6 ? `ACC-${String(n).padStart(6, '0')}` : null;
  c.tags = TAGS.filter(([, share]) => r() < share).map(([tag]) => tag);
  const s = r();
  c.status = s < 0.85 ? CustomerStatus.ACTIVE : s < 0.95 ? CustomerStatus.INACTIVE : CustomerStatus.ARCHIVED;
  c.hasCard = r() < 0.4;
  c.hasBankAccount = r() < 0.15;
  // P(card or bank) = 1 - 0.6 * 0.85 = 0.49; consent on 0.30 / 0.49 of them gives 30% overall.
  c.hasConsent = (c.hasCard || c.hasBankAccount) && r() < 0.3 / 0.49;
  if (c.hasCard) {
    // 5% of all customers = 12.5% of card holders: expired (up to 60 days ago) or expiring within 30 days.
    const expiring = r() < 0.125;
    const on = expiring ? addDays(TODAY, Math.floor(r() * 90) - 60) : addDays(TODAY, 31 + Math.floor(r() * 1800));
    c.cardExpiresOn = endOfMonth(Number(on.slice(0, 4)), Number(on.slice(5, 7)));
    if (expiring && c.cardExpiresOn > addDays(TODAY, 30)) c.cardExpiresOn = addDays(TODAY, 30);
  }
  c.billingAddress = { line1: `${1 + Math.floor(r() * 9999)} Main St`, line2: null, city: 'Montréal', region: 'QC', postalCode: 'H2X 1Y4', country: 'CA' };
  c.createdAt = c.updatedAt = new Date('2025-01-01T00:00:00Z');
  // A fifth of the accounts are households: the members' names are part of the account's search text.
  const members = r() < 0.2 ? [{ name: `${pick(r, FIRST)} ${last}`, email: null, phone: null }] : [];
  c.refreshDerived(members);
  return c;
}

const COLUMNS = ['id', 'organization_id', 'created_at', 'updated_at', 'name', 'sort_name', 'email', 'phone', 'billing_address',
  'external_reference', 'tags', 'status', 'has_card', 'has_bank_account', 'has_consent', 'card_expires_on', 'search_text'];

async function insertCustomers(db: pg.Client, organizationId: string, count: number, seed: number): Promise<Customer[]> {
  const r = rng(seed);
  const all: Customer[] = [];
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => makeCustomer(r, organizationId, start + i));
    all.push(...rows);
    const values: unknown[] = [];
    const tuples = rows.map((c, i) => {
      values.push(c.id, c.organizationId, c.createdAt, c.updatedAt, c.name, c.sortName, c.email, c.phone, JSON.stringify(c.billingAddress),
        c.externalReference, c.tags, c.status, c.hasCard, c.hasBankAccount, c.hasConsent, c.cardExpiresOn, c.searchText);
      return `(${COLUMNS.map((_, j) => `$${i * COLUMNS.length + j + 1}`).join(', ')})`;
    });
    await db.query(`insert into customer (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`, values);
  }
  return all;
}

// ---------------------------------------------------------------------------------------------------- plans
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
interface Explained {
  top: string;
  indexes: string[];
  seqScan: boolean;
  ms: number;
  buffers: number;
  plan: string;
}

function walk(node: PlanNode, visit: (n: PlanNode) => void) {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

async function explain(db: pg.Client, sql: string): Promise<Explained> {
  const times: number[] = [];
  let last: { Plan: PlanNode; 'Execution Time': number } | undefined;
  for (let i = 0; i < RUNS; i++) {
    // timing off: per-node clocks would inflate scans of many rows; the total execution time is still measured.
    const res = await db.query(`explain (analyze, buffers, timing off, format json) ${sql}`);
    last = (res.rows[0]['QUERY PLAN'] as { Plan: PlanNode; 'Execution Time': number }[])[0]!;
    times.push(last['Execution Time']);
  }
  const indexes = new Set<string>();
  let seqScan = false;
  walk(last!.Plan, (n) => {
    if (n['Index Name']) indexes.add(n['Index Name']);
    if (n['Node Type'] === 'Seq Scan') seqScan = true;
  });
  const text = await db.query(`explain (analyze, buffers, costs off, timing off, summary off) ${sql}`);
  let top = last!.Plan;
  while (top['Node Type'] === 'Limit' && top.Plans?.length) top = top.Plans[0]!;
  return {
    top: top === last!.Plan ? top['Node Type'] : `Limit → ${top['Node Type']}`,
    indexes: [...indexes],
    seqScan,
    ms: median(times),
    buffers: (last!.Plan['Shared Hit Blocks'] ?? 0) + (last!.Plan['Shared Read Blocks'] ?? 0),
    plan: text.rows.map((row) => row['QUERY PLAN']).join('\n'),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

// ---------------------------------------------------------------------------------------------------- main
async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists "${DB_NAME}" with (force)`);
  await admin.query(`create database "${DB_NAME}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DB_NAME}`;

  const captured: { sql: string; params: readonly unknown[] }[] = [];
  const config = ormConfig(url.toString(), { poolMax: 2 });
  const orm = await MikroORM.init({ ...config, onQuery: (sql: string, params: readonly unknown[]) => (captured.push({ sql, params }), sql) });
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    const started = Date.now();
    await orm.migrator.up();
    const org = newId();
    const orgs = [org, ...Array.from({ length: OTHER_ORGS }, () => newId())];
    for (const [i, id] of orgs.entries()) {
      await db.query(`insert into organization (id, name, currency, time_zone, locale, created_at) values ($1, $2, 'CAD', 'America/Toronto', 'fr-CA', now())`, [
        id,
        i === 0 ? 'Benchmark Pools' : `Other ${i}`,
      ]);
    }
    const mine = await insertCustomers(db, org, CUSTOMERS, 42);
    for (const [i, id] of orgs.slice(1).entries()) await insertCustomers(db, id, OTHER_SIZE, 1000 + i);
    await db.query('vacuum (analyze) customer');
    const loadedIn = ((Date.now() - started) / 1000).toFixed(1);
    const { rows: sizes } = await db.query(
      `select c.relname as name, pg_relation_size(c.oid) as bytes from pg_class c join pg_index i on i.indexrelid = c.oid
        where i.indrelid = 'customer'::regclass union all select 'customer (heap)', pg_relation_size('customer') order by 1`,
    );

    // The app's own code, on an EntityManager scoped like a request's.
    const search = new CustomerSearch(clock, new IdentityDirectory());
    const em = () => {
      const e = orm.em.fork();
      scopeToTenant(e, org);
      return e as EntityManager;
    };
    const sample = mine.find((c) => c.phone && c.email && c.externalReference && c.status !== CustomerStatus.ARCHIVED)!;
    const filters: [string, CustomerFilter][] = [
      ['default list (ACTIVE + INACTIVE)', {}],
      ['text: common surname "tremblay"', { text: 'tremblay' }],
      ['text: two words "marie gagnon"', { text: 'marie gagnon' }],
      [`text: phone "${sample.phone!.slice(2, 5)}-${sample.phone!.slice(5, 8)}-${sample.phone!.slice(8)}"`, { text: `${sample.phone!.slice(2, 5)}-${sample.phone!.slice(5, 8)}-${sample.phone!.slice(8)}` }],
      [`text: email "${sample.email!}"`, { text: sample.email! }],
      [`text: external reference "${sample.externalReference!}"`, { text: sample.externalReference! }],
      ['text: 3 letters "mar" (common)', { text: 'mar' }],
      ['text: 2 letters "ma" (no trigram)', { text: 'ma' }],
      ['tags: any of [vip]', { tags: ['vip'] }],
      ['tags: any of [pool-heater] (rare)', { tags: ['pool-heater'] }],
      ['hasCard: true', { hasCard: true }],
      ['hasCard: false', { hasCard: false }],
      ['hasBankAccount: true', { hasBankAccount: true }],
      ['hasConsent: true', { hasConsent: true }],
      ['cardExpiringWithinDays: 30', { cardExpiringWithinDays: 30 }],
      ['status: [ARCHIVED]', { status: [CustomerStatus.ARCHIVED] }],
      ['mass charge: hasCard + hasConsent + tag monthly', { hasCard: true, hasConsent: true, tags: ['monthly'] }],
      ['rare combination: bank + expiring 30 d + "tremblay"', { hasBankAccount: true, cardExpiringWithinDays: 30, text: 'tremblay' }],
    ];

    const results: { label: string; matched: number; page: Explained; count: Explained; appMs: number }[] = [];
    for (const [label, filter] of filters) {
      const times: number[] = [];
      let matched = 0;
      for (let i = 0; i < RUNS; i++) {
        const e = em();
        const t0 = performance.now();
        const where = await search.where(e, filter);
        captured.length = 0;
        const page = await paginate(e, Customer, where, { first: 20 }, CUSTOMER_ORDER);
        times.push(performance.now() - t0);
        matched = page.totalCount;
      }
      const [pageQuery, countQuery] = pick2(captured, orm);
      results.push({ label, matched, page: await explain(db, pageQuery), count: await explain(db, countQuery), appMs: median(times) });
      process.stdout.write('.');
    }

    // A deep page: halfway through the default list (page 2,501 of 20 at 100k), through a cursor as a client sends it.
    const depth = Math.floor(CUSTOMERS / 2);
    const middle = await em().find(Customer, await search.where(em(), {}), { orderBy: CUSTOMER_ORDER, offset: depth, limit: 1, fields: ['sortName', 'id'] });
    const after = Cursor.encode([middle[0]!.sortName, middle[0]!.id]);
    captured.length = 0;
    const deepTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const e = em();
      const t0 = performance.now();
      captured.length = 0;
      await paginate(e, Customer, await search.where(e, {}), { first: 20, after }, CUSTOMER_ORDER);
      deepTimes.push(performance.now() - t0);
    }
    const deep = await explain(db, pick2(captured, orm)[0]);

    // findIds for a mass charge: every id, in batches of 1,000.
    const massFilter: CustomerFilter = { hasCard: true, hasConsent: true };
    // findIds only reads through CustomerSearch; ManageCustomers (writes) is not needed here.
    const directory = new CustomerDirectory(undefined as never, search);
    const idTimes: number[] = [];
    let idCount = 0;
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      const t0 = performance.now();
      idCount = (await directory.findIds(em(), massFilter)).length;
      idTimes.push(performance.now() - t0);
    }

    const { rows: [version] } = await db.query(`select current_setting('server_version') as v`);
    const report = render({ results, deep, depth, deepMs: median(deepTimes), idCount, idMs: median(idTimes), loadedIn, sizes, version: version.v });
    console.log(`\n\n${report}`);
    const out = path.resolve('bench/results/customers-search.md');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, report);
    console.log(`written to ${path.relative(process.cwd(), out)}`);
  } finally {
    await db.end();
    await orm.close(true);
    if (!KEEP) await admin.query(`drop database if exists "${DB_NAME}" with (force)`);
    await admin.end();
  }
}

/** The page query and the count query paginate sent, as executed (parameters inlined, like MikroORM does). */
function pick2(captured: { sql: string; params: readonly unknown[] }[], orm: MikroORM): [string, string] {
  const platform = orm.em.getPlatform();
  const sql = captured.filter((q) => /from "customer"/.test(q.sql)).map((q) => platform.formatQuery(q.sql, q.params as unknown[]));
  const page = sql.find((q) => !/count\(/.test(q));
  const count = sql.find((q) => /count\(/.test(q));
  if (!page) throw new Error(`no page query captured: ${JSON.stringify(captured)}`);
  return [page, count ?? page];
}

function render(r: {
  results: { label: string; matched: number; page: Explained; count: Explained; appMs: number }[];
  deep: Explained;
  depth: number;
  deepMs: number;
  idCount: number;
  idMs: number;
  loadedIn: string;
  sizes: { name: string; bytes: string }[];
  version: string;
}): string {
  const lines = [
    '# Customers search benchmark',
    '',
    `PostgreSQL ${r.version}; ${CUSTOMERS.toLocaleString('en-US')} customers in the organization searched, plus ${OTHER_ORGS} other organizations ` +
      `× ${OTHER_SIZE.toLocaleString('en-US')}; today is ${TODAY}; median of ${RUNS} runs; loaded in ${r.loadedIn} s. ` +
      'Reproduce: `npm run bench:customers`.',
    '',
    '"page" is the first page (first: 20) as `customers` runs it; "count" is its totalCount query; "app" is the whole',
    'call through the app code (CustomerSearch.where + paginate: both queries and hydration). Times are PostgreSQL',
    'execution times from EXPLAIN ANALYZE unless marked app.',
    '',
    '| filter | matches | page ms | page plan (top node; indexes) | count ms | count plan | app ms |',
    '|---|--:|--:|---|--:|---|--:|',
    ...r.results.map(
      (x) =>
        `| ${x.label} | ${x.matched.toLocaleString('en-US')} | ${fmt(x.page.ms)} | ${x.page.top}; ${x.page.indexes.join(', ') || '—'}${x.page.seqScan ? ' **seq scan**' : ''} ` +
        `| ${fmt(x.count.ms)} | ${x.count.top}; ${x.count.indexes.join(', ') || '—'}${x.count.seqScan ? ' **seq scan**' : ''} | ${fmt(x.appMs)} |`,
    ),
    '',
    `Deep page (after the ${r.depth.toLocaleString('en-US')}th customer of the default list, keyset cursor): ${fmt(r.deep.ms)} ms in PostgreSQL, ` +
      `${fmt(r.deepMs)} ms through the app (with its totalCount); plan: ${r.deep.top}; ${r.deep.indexes.join(', ')}.`,
    '',
    `findIds({ hasCard: true, hasConsent: true }) for a mass charge: ${r.idCount.toLocaleString('en-US')} ids in ${fmt(r.idMs)} ms ` +
      '(keyset batches of 1,000).',
    '',
    '## Sizes',
    '',
    '| relation | size |',
    '|---|--:|',
    ...r.sizes.map((s) => `| ${s.name} | ${(Number(s.bytes) / 1024 / 1024).toFixed(1)} MB |`),
    '',
    '## Plans (page queries)',
    '',
    ...r.results.flatMap((x) => [`### ${x.label}`, '', '```', x.page.plan, '```', '']),
    '### deep page',
    '',
    '```',
    r.deep.plan,
    '```',
    '',
  ];
  return lines.join('\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
