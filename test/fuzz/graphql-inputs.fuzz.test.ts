import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  type GraphQLField,
  type GraphQLInputType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
  isLeafType,
  isObjectType,
  isNonNullType,
} from 'graphql';
import { AppConfig } from '../../src/config/index.js';
import { createCustomer } from '../support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';
import type { Queue } from 'bull';
import { appQueues, call, checkGraphQLAnswer, clip, DatabaseFingerprint, type Failure, FUZZ_SEED, fuzzRuns, queuesSettled, report } from './support/fuzz.js';

/**
 * A fuzz pass over every query and mutation of the schema, driven by introspection: arguments generated from their
 * types by fast-check (valid-looking values, nulls, missing fields, huge strings, unicode, bad amounts, currencies,
 * ids and dates, huge arrays, and the real ids of records the pass has seen, to reach deeper code), sent over HTTP
 * as the owner, as STAFF and with no token. Every answer: no 5xx, no INTERNAL_SERVER_ERROR, no stack trace, only
 * stable codes; a refused mutation has written nothing (a row count / max(updated_at) fingerprint of every table).
 *
 * FUZZ_RUNS (default 300 operations) and FUZZ_SEED (default fixed) run longer or replay a reported run.
 */

const SEED = FUZZ_SEED;
const RUNS = fuzzRuns(300);

/**
 * Mutations whose refusal writes by design, so the "nothing written" check does not apply:
 * - logIn: a wrong password is recorded for the per-account lockout (refusing it is the point of the row).
 * Filled in from what the pass finds; everything else must write nothing when it answers an error.
 */
const REFUSAL_WRITES: ReadonlyMap<string, string> = new Map([]);

/**
 * Tables left out of the fingerprint: the migrations' own, and the sandbox gateway's store, which stands for the
 * payment gateway's side (Stripe's state): a refusal after a gateway call (a customer or method created at the
 * gateway, then the input refused) is a call to an outside service, not a write to Settle's data.
 */
const NOT_SETTLE_TABLES = new Set(['mikro_orm_migrations', 'sandbox_gateway_object']);

/**
 * valid: every value valid-looking (real ids). one-bad: the same, with exactly one leaf replaced by a poison value
 * of its kind (the sharpest probe: everything else passes, so the bad value reaches the deepest code). mostly: each
 * value 1 in 10 bad. chaos: anything.
 */
type Mode = 'valid' | 'one-bad' | 'mostly' | 'chaos';
type Auth = 'owner' | 'staff' | 'none';
const MISSING = Symbol('missing');

const HUGE = 100_000;
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'nul\u0000byte',
  '\uD800',
  'lone \uDC00 surrogate',
  '\u202Eevil\u202C',
  'שלום עולם',
  'مرحبا',
  '👨‍👩‍👧‍👦🏳️‍🌈',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '<script>alert(1)</script>',
  "'; drop table customer; --",
  '%s%s%n',
  '../../../../etc/passwd',
  '{{7*7}}',
  'null',
  'undefined',
  '1e30',
  '-0',
  'NaN',
  '\r\n\t',
];
const HUGE_STRINGS = ['x'.repeat(HUGE), 'é'.repeat(HUGE / 2), '😀'.repeat(HUGE / 4), 'a'.repeat(20_000)];
const BAD_AMOUNTS = ['1e30', '-0', '99999999999999999999999999', '999999999999999999999999999999', '9223372036854775807', '9223372036854775808',
  '-9223372036854775809', '-1', '0', '-100', '12.50', '', ' 1', '0x10', 'abc', '١٢٣', 1.5, 2 ** 60, -5, true, {}, []];
const BAD_CURRENCIES = ['usd', 'XXX', '€', 'US', 'USDD', '', ' USD', 'EUR', 'JPY', 'BTC', '123', 'ÜSD'];
const BAD_DATES = ['2026-02-30', '2026-13-01', '0000-00-00', '99999-01-01', '2026-1-1', '1900-01-01', '9999-12-31', '2026-06-15T10:00:00Z',
  'yesterday', '', '2026/06/15', '+275760-09-13'];
const BAD_DATETIMES = ['2026-02-30T00:00:00Z', 'not a date', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', 12345, ''];
const BAD_IDS = ['', 'not-a-uuid', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', "1' or '1'='1",
  `${randomUUID()}x`, randomUUID().toUpperCase(), '\u0000', 42];
const BAD_INTS = [0, -1, 2147483647, 2147483648, -2147483649, 1.5, '1', Number.MAX_SAFE_INTEGER, 1e30];
const POISON_STRINGS = ['nul\u0000byte', 'lone \uD800 surrogate', '\uDFFF', 'x'.repeat(HUGE), '😀'.repeat(20_000), '', ' ', '\u202Eevil', '👨‍👩‍👧‍👦',
  "'; drop table customer; --", '<b>bold</b>', '-1', '1e30'];

/** Every leaf (string, number, boolean) of a value, as a path. */
function leafPaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...at, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...at, k]));
  return at.length ? [at] : [];
}

/** The poison values for a leaf, chosen by what the valid value looks like. */
function poisonsFor(valid: unknown): unknown[] {
  if (typeof valid === 'number') return [...BAD_INTS, null];
  if (typeof valid === 'boolean') return ['true', 0, null];
  const s = String(valid);
  if (/^[0-9a-f-]{36}$/.test(s)) return [...BAD_IDS, null];
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) return BAD_DATETIMES;
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return BAD_DATES;
  if (/^[A-Z]{3}$/.test(s)) return BAD_CURRENCIES;
  if (/^-?\d+(\.\d+)?$/.test(s)) return BAD_AMOUNTS;
  return POISON_STRINGS;
}

function withPoison(variables: Record<string, unknown>, pick: number, poison: number): Record<string, unknown> {
  const paths = leafPaths(variables);
  if (!paths.length) return variables;
  const copy = structuredClone(variables);
  const path = paths[pick % paths.length]!;
  let parent: any = copy;
  for (const key of path.slice(0, -1)) parent = parent[key];
  const last = path[path.length - 1]!;
  const options = poisonsFor(parent[last]);
  parent[last] = options[poison % options.length];
  return copy;
}

describe('fuzz: GraphQL inputs (every query and mutation, arguments from the schema)', () => {
  let t: TestApp;
  let schema: GraphQLSchema;
  let tokens: Record<Auth, string | undefined>;
  let fingerprint: DatabaseFingerprint;
  let queues: Queue[];
  let today: Date;
  /** Real ids seen so far, by the lower-cased type they belong to ("customer", "invoice", "paymentmethod", …). */
  const pool = new Map<string, Set<string>>();
  /** Ids the pass must not act on (the owner and STAFF it signs in as): disabling them would end the pass. */
  const protectedIds = new Set<string>();

  const remember = (kind: string, id: unknown) => {
    if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id) || protectedIds.has(id)) return;
    const k = kind.toLowerCase();
    if (!pool.has(k)) pool.set(k, new Set());
    pool.get(k)!.add(id);
  };

  /** Walks an answer's data and remembers every id by its __typename (and `<kind>Id` fields by their name). */
  const harvest = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(harvest);
    if (!value || typeof value !== 'object') return;
    const obj = value as Record<string, unknown>;
    if (typeof obj.__typename === 'string' && 'id' in obj) remember(obj.__typename, obj.id);
    for (const [k, v] of Object.entries(obj)) {
      if (k !== 'id' && k.endsWith('Id')) remember(k.slice(0, -2), v);
      harvest(v);
    }
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-fuzz-inputs-')) } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    today = t.clock.now();
    const owner = await signUpOrganization(t.gql, 'Fuzz & Sons ✓');
    const staff = await addUser(owner.client, 'STAFF');
    const victim = await addUser(owner.client, 'PAYMENT_MANAGER');
    protectedIds.add(owner.userId).add(staff.userId).add(owner.organizationId);
    remember('user', victim.userId);
    tokens = { owner: owner.token, staff: staff.token, none: undefined };

    // A little real data, so ids exist and arguments can point at records.
    const c1 = await createCustomer(owner.client, { phone: '+1 802 555 0142' });
    const c2 = await createCustomer(owner.client);
    remember('customer', c1.id);
    remember('customer', c2.id);
    const saved = await owner.client.ok(
      `mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { __typename id } } }`,
      { i: { customerId: c1.id, token: 'pm_card_visa', consentGiven: true } },
    );
    harvest(saved);
    const invoice = await owner.client.ok(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { __typename id } }`,
      { i: { customerId: c1.id, issue: true, lines: [{ description: 'Pool opening', quantity: '1', unitPrice: '25000' }] } },
    );
    harvest(invoice);
    const draft = await owner.client.ok(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { __typename id } }`,
      { i: { customerId: c2.id, lines: [{ description: 'Filter', quantity: '2', unitPrice: '1999', taxRate: '8.875' }] } },
    );
    harvest(draft);
    const paid = await owner.client.ok(
      `mutation($i: TakePaymentInput!) { takePayment(input: $i) { __typename id status } }`,
      {
        i: {
          customerId: c1.id,
          paymentMethodId: [...pool.get('paymentmethod')!][0],
          amount: { amount: '5000', currency: 'USD' },
          invoices: [{ invoiceId: (invoice.createInvoice as { id: string }).id, amount: '5000' }],
        },
      },
    ).catch(() => undefined);
    if (paid) harvest(paid);
    const quote = await owner.client.ok(
      `mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { __typename id } }`,
      {
        i: {
          customerId: c2.id, name: 'Pool care', terms: 'Weekly cleaning.', frequency: 'MONTHLY', startDate: isoDate(30),
          lines: [{ description: 'Weekly pool cleaning', quantity: '4', unitPrice: '4500' }],
        },
      },
    ).catch(() => undefined);
    if (quote) harvest(quote);

    const introspection = await owner.client.ok<IntrospectionQuery>(getIntrospectionQuery());
    schema = buildClientSchema(introspection);
    fingerprint = new DatabaseFingerprint(t, NOT_SETTLE_TABLES);
    queues = appQueues(t);
  });
  afterAll(() => t?.close());

  function isoDate(days: number): string {
    return new Date(today.getTime() + days * 86_400_000).toISOString().slice(0, 10);
  }

  /** The pool whose kind best matches an argument or operation name ("invoiceId", "voidInvoice"). */
  function idsFor(...names: string[]): string[] {
    for (const name of names) {
      const n = name.toLowerCase().replace(/ids?$/, '');
      if (!n) continue;
      if (pool.has(n)) return [...pool.get(n)!];
      const kinds = [...pool.keys()].filter((k) => n.includes(k)).sort((a, b) => b.length - a.length);
      if (kinds.length) return [...pool.get(kinds[0]!)!];
    }
    return [...pool.values()].flatMap((s) => [...s]);
  }

  // --- values ---------------------------------------------------------------------------------------------------

  /** A valid-looking string for a field, by its name. */
  function validString(name: string): fc.Arbitrary<string> {
    const n = name.toLowerCase();
    if (n.includes('email')) return fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 4, maxLength: 8 }).map((s) => `fuzz-${s}@example.com`);
    if (n.includes('currency')) return fc.constant('USD');
    if (/^(from|to|date|on)$|Date$|On$|For$|Until$|Day$/.test(name)) {
      return fc.integer({ min: -30, max: 120 }).map(isoDate);
    }
    if (n.includes('quantity')) return fc.constantFrom('1', '2', '1.5', '0.333');
    if (n.includes('taxrate') || n.includes('rate')) return fc.constantFrom('8.875', '0', '20');
    if (n.includes('country')) return fc.constantFrom('US', 'CA');
    if (n.includes('region')) return fc.constant('VT');
    if (n.includes('postal')) return fc.constant('05401');
    if (n.includes('phone')) return fc.constantFrom('+1 802 555 0142', '(802) 555-0177');
    if (n.includes('password')) return fc.constant('correct horse battery');
    if (n === 'token') return fc.constantFrom('pm_card_visa', 'pm_card_mastercard');
    if (n.includes('idempotency')) return fc.uuid();
    if (n.includes('locale')) return fc.constantFrom('en-US', 'fr-CA');
    if (n.includes('timezone')) return fc.constantFrom('America/New_York', 'Europe/Paris');
    if (n.includes('after')) return fc.constantFrom('', 'eyJ4IjoxfQ');
    return fc.constantFrom('Fuzz text', 'Weekly pool cleaning', 'Pat Rivera', 'A note');
  }

  function chaosString(name: string): fc.Arbitrary<unknown> {
    const n = name.toLowerCase();
    const specific: unknown[] = n.includes('currency')
      ? BAD_CURRENCIES
      : n.includes('date') || n === 'from' || n === 'to'
        ? BAD_DATES
        : n.includes('email')
          ? ['not-an-email', '@', 'a@b', `${'a'.repeat(300)}@example.com`, 'üñî@例え.jp']
          : n.includes('quantity') || n.includes('rate')
            ? BAD_AMOUNTS
            : [];
    return fc.oneof(
      { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 4 },
      { arbitrary: fc.constantFrom(...HUGE_STRINGS), weight: 1 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
      { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
      { arbitrary: specific.length ? fc.constantFrom(...specific) : fc.constant(''), weight: specific.length ? 4 : 0 },
      { arbitrary: fc.constantFrom<unknown>(42, true, null, {}, ['a']), weight: 1 },
    );
  }

  function scalar(type: GraphQLScalarType, name: string, owner: string, mode: Mode): fc.Arbitrary<unknown> {
    const real = idsFor(name, owner);
    const valid = (): fc.Arbitrary<unknown> => {
      switch (type.name) {
        case 'ID':
          return real.length ? fc.constantFrom(...real) : fc.uuid();
        case 'String':
          return validString(name);
        case 'Int':
          if (/month/i.test(name)) return fc.integer({ min: 1, max: 12 });
          if (/year/i.test(name)) return fc.integer({ min: 2027, max: 2035 });
          if (/hour/i.test(name)) return fc.integer({ min: 0, max: 23 });
          // Small pages: a page of 100 with every field is (rightly) QUERY_TOO_COMPLEX and reaches nothing.
          if (/first|limit/i.test(name)) return fc.integer({ min: 1, max: 5 });
          return fc.integer({ min: 1, max: 28 });
        case 'Float':
          return fc.double({ min: 0, max: 100, noNaN: true });
        case 'Boolean':
          return fc.boolean();
        case 'MinorUnits':
          return fc.integer({ min: 1, max: 100_000 }).map(String);
        case 'DateTime':
          return fc.integer({ min: -30, max: 120 }).map((d) => new Date(today.getTime() + d * 86_400_000).toISOString());
        default:
          return fc.string({ maxLength: 10 });
      }
    };
    if (mode === 'valid') return valid();
    const chaos = (): fc.Arbitrary<unknown> => {
      switch (type.name) {
        case 'ID':
          return fc.oneof(fc.constantFrom(...BAD_IDS), fc.uuid(), idsForAny(), fc.constantFrom(...HUGE_STRINGS));
        case 'String':
          return chaosString(name);
        case 'Int':
          return fc.oneof(fc.constantFrom(...BAD_INTS), fc.integer());
        case 'Float':
          return fc.constantFrom(-1, 1e308, 'NaN', 0.1);
        case 'Boolean':
          return fc.constantFrom<unknown>('true', 0, 1, 'yes');
        case 'MinorUnits':
          return fc.oneof(fc.constantFrom(...BAD_AMOUNTS), fc.bigInt({ min: -(10n ** 31n), max: 10n ** 31n }).map(String));
        case 'DateTime':
          return fc.constantFrom(...BAD_DATETIMES);
        default:
          return chaosString(name);
      }
    };
    return fc.oneof({ arbitrary: valid(), weight: mode === 'mostly' ? 9 : 2 }, { arbitrary: chaos(), weight: mode === 'mostly' ? 1 : 3 }, { arbitrary: fc.constant(null), weight: 1 });
  }

  /** Any real id at all (of another record kind: "wrong kind of id"). */
  function idsForAny(): fc.Arbitrary<string> {
    const all = [...pool.values()].flatMap((s) => [...s]);
    return all.length ? fc.constantFrom(...all) : fc.uuid();
  }

  function value(type: GraphQLInputType, name: string, owner: string, mode: Mode, depth: number): fc.Arbitrary<unknown> {
    if (type instanceof GraphQLNonNull) {
      const inner = value(type.ofType, name, owner, mode, depth);
      return mode === 'valid' ? inner : fc.oneof({ arbitrary: inner, weight: mode === 'mostly' ? 30 : 6 }, { arbitrary: fc.constant(null), weight: 1 });
    }
    if (type instanceof GraphQLList) {
      const item = value(type.ofType, name, owner, mode, depth + 1);
      const normal = fc.array(item, { minLength: mode === 'valid' ? 1 : 0, maxLength: 3 });
      if (mode === 'valid') return normal;
      const huge = fc.integer({ min: 1_000, max: 12_000 }).chain((n) => fc.constant(n)).map((n) => {
        const leaf = getNamedType(type.ofType);
        return Array.from({ length: n }, (_, i) => (leaf instanceof GraphQLScalarType ? (leaf.name === 'ID' ? randomUUID() : String(i)) : {}));
      });
      return fc.oneof({ arbitrary: normal, weight: mode === 'mostly' ? 20 : 5 }, { arbitrary: huge, weight: 1 }, { arbitrary: item, weight: 1 });
    }
    if (type instanceof GraphQLEnumType) {
      const values = type.getValues().map((v) => v.name);
      if (mode === 'valid') return fc.constantFrom(...values);
      return fc.oneof({ arbitrary: fc.constantFrom(...values), weight: mode === 'mostly' ? 9 : 3 }, {
        arbitrary: fc.constantFrom(values[0]!.toLowerCase(), 'NOT_A_VALUE', '', 42),
        weight: 1,
      });
    }
    if (type instanceof GraphQLInputObjectType) {
      if (depth > 4) return fc.constant(null);
      const fields = Object.values(type.getFields());
      const entries = fields.map((f) => {
        const v = value(f.type, f.name, owner, mode, depth + 1);
        const required = isNonNullType(f.type) && f.defaultValue === undefined;
        // Valid: required fields always, optional ones half the time. Otherwise sometimes a required one is missing.
        const missingWeight = mode === 'valid' ? (required ? 0 : 1) : required ? (mode === 'mostly' ? 1 : 2) : 3;
        return fc.oneof({ arbitrary: v, weight: mode === 'valid' ? 1 : 8 }, { arbitrary: fc.constant(MISSING), weight: missingWeight }).map((x) => [f.name, x] as const);
      });
      const object = fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter(([, x]) => x !== MISSING)));
      if (mode === 'valid') return object;
      return fc.oneof(
        { arbitrary: object, weight: 12 },
        { arbitrary: object.map((o) => ({ ...o, notAField: 'surprise' })), weight: 1 },
        { arbitrary: fc.constantFrom<unknown>('a string', [], 0), weight: 1 },
      );
    }
    return scalar(type as GraphQLScalarType, name, owner, mode);
  }

  // --- documents ------------------------------------------------------------------------------------------------

  /** Every leaf field without required arguments, and one level into objects (with __typename for the id harvest). */
  function selection(type: GraphQLOutputType, depth = 0): string {
    const named = getNamedType(type);
    if (isLeafType(named)) return '';
    if (!isObjectType(named)) return '{ __typename }';
    const parts = ['__typename'];
    for (const field of Object.values((named as GraphQLObjectType).getFields())) {
      if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
      const sub = getNamedType(field.type);
      if (isLeafType(sub)) parts.push(field.name);
      else if (depth < 1) parts.push(`${field.name} ${selection(field.type, depth + 1)}`);
      else if (isObjectType(sub) && 'id' in (sub as GraphQLObjectType).getFields()) parts.push(`${field.name} { __typename id }`);
    }
    return `{ ${parts.join(' ')} }`;
  }

  interface Case {
    kind: 'query' | 'mutation';
    field: GraphQLField<unknown, unknown>;
    auth: Auth;
    mode: Mode;
    variables: Record<string, unknown>;
  }

  function caseArb(kind: Case['kind'], field: GraphQLField<unknown, unknown>): fc.Arbitrary<Case> {
    const auth = fc.constantFrom<Auth>('owner', 'owner', 'owner', 'owner', 'staff', 'none');
    const mode = fc.constantFrom<Mode>('valid', 'one-bad', 'one-bad', 'one-bad', 'mostly', 'mostly', 'chaos');
    return fc.tuple(auth, mode, fc.nat(), fc.nat()).chain(([a, m, pick, poison]) => {
      const gen: Mode = m === 'one-bad' ? 'valid' : m;
      const args = field.args.map((arg) => {
        const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
        const v = value(arg.type, arg.name, field.name, gen, 0);
        const missing = gen === 'valid' ? (required ? 0 : 1) : required ? 1 : 3;
        return fc.oneof({ arbitrary: v, weight: 8 }, { arbitrary: fc.constant(MISSING), weight: missing }).map((x) => [arg.name, x] as const);
      });
      return fc.tuple(...args).map((pairs) => {
        const variables = Object.fromEntries(pairs.filter(([, x]) => x !== MISSING));
        return { kind, field, auth: a, mode: m, variables: m === 'one-bad' ? withPoison(variables, pick, poison) : variables };
      });
    });
  }

  function documentOf(c: Case): string {
    const defs = c.field.args.map((a) => `$${a.name}: ${a.type.toString()}`);
    const args = c.field.args.map((a) => `${a.name}: $${a.name}`);
    return `${c.kind} Fuzz${defs.length ? `(${defs.join(', ')})` : ''} { ${c.field.name}${args.length ? `(${args.join(', ')})` : ''} ${selection(c.field.type)} }`;
  }

  it(`answers every generated operation with a stable code, no 500, no stack trace, no partial write (${RUNS} operations)`, async () => {
    const fields = [
      ...Object.values(schema.getQueryType()!.getFields()).map((f) => ['query', f] as const),
      ...Object.values(schema.getMutationType()!.getFields()).map((f) => ['mutation', f] as const),
    ];
    // An even share per operation, at least one each, in a seeded order (so every operation is reached every run).
    const perField = Math.max(1, Math.round(RUNS / fields.length));
    const order = fc.sample(fc.shuffledSubarray(fields.flatMap((f) => Array(perField).fill(f) as (typeof f)[]), { minLength: fields.length * perField }), { seed: SEED, numRuns: 1 })[0]!;
    const failures: Failure[] = [];
    const refusedByCode = new Map<string, number>();
    let succeeded = 0;

    for (const [i, [kind, field]] of order.entries()) {
      const [c] = fc.sample(caseArb(kind, field), { seed: SEED + i, numRuns: 1 });
      const doc = documentOf(c!);
      const sent = JSON.stringify({ query: doc, variables: c!.variables });
      const label = `${i}: ${kind} ${field.name} as ${c!.auth} (${c!.mode}) variables=${clip(JSON.stringify(c!.variables), 400)}`;
      // Jobs an earlier operation queued (a billing run, a mass charge) write on their own: let them finish first.
      if (kind === 'mutation') await queuesSettled(queues);
      const before = kind === 'mutation' ? await fingerprint.take() : undefined;
      const answer = await call(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(tokens[c!.auth] ? { authorization: `Bearer ${tokens[c!.auth]}` } : {}) },
        body: sent,
      });
      const { problems, body } = checkGraphQLAnswer(answer, sent);
      for (const problem of problems) failures.push({ case: label, problem, detail: answer.text });
      const refused = !body || body.errors?.length > 0 && body.data?.[field.name] == null;
      if (!refused) succeeded++;
      else for (const e of body?.errors ?? [{ extensions: { code: `HTTP ${answer.status}` } }]) refusedByCode.set(e.extensions?.code, (refusedByCode.get(e.extensions?.code) ?? 0) + 1);
      if (body?.data) harvest(body.data);
      if (process.env.FUZZ_VERBOSE) console.log(`${label}\n  → ${answer.status} ${clip(answer.text, 300)}`);
      if (before && refused && !REFUSAL_WRITES.has(field.name)) {
        await queuesSettled(queues);
        const changed = DatabaseFingerprint.diff(before, await fingerprint.take());
        if (changed.length) failures.push({ case: label, problem: `refused (${body?.errors?.[0]?.extensions?.code}) but wrote: ${changed.join('; ')}`, detail: answer.text });
      }
    }

    console.log(`fuzz graphql-inputs: seed ${SEED}, ${order.length} operations, ${succeeded} answered data, refusals by code ${JSON.stringify(Object.fromEntries(refusedByCode))}`);
    expect(report('graphql-inputs', SEED, failures)).toBe('');
    // The pass must have reached real code, not only the validation layer.
    expect(succeeded).toBeGreaterThan(order.length / 10);
  });

  it('the owner is still signed in after the pass (the pass reached real code paths, not only UNAUTHENTICATED)', async () => {
    const res = await t.gql.as(tokens.owner).request('{ me { id } }');
    expect(res.errors).toBeUndefined();
  });

});
