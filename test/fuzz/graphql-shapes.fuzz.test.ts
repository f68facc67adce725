import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type IntrospectionQuery,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { AppConfig } from '../../src/config/index.js';
import { signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';
import { call, checkGraphQLAnswer, clip, type Failure, FUZZ_SEED, fuzzRuns, report } from './support/fuzz.js';

/**
 * Query shapes a hostile or careless client sends: nested past GRAPHQL_MAX_DEPTH, a thousand aliases, batches,
 * fragment cycles, huge documents and bodies, malformed requests. Each answers a limit or input error with a stable
 * code (never a 500, never a stack trace) within the client's deadline, and the server keeps answering afterwards.
 */

const SEED = FUZZ_SEED;

interface Shape {
  name: string;
  body: string;
  headers?: Record<string, string>;
  /** Codes any of which is the right answer (empty: a success is right). */
  expect: string[];
}

describe('fuzz: GraphQL query shapes (limits, batches, malformed requests)', () => {
  let t: TestApp;
  let token: string;
  let schema: GraphQLSchema;
  let limits: AppConfig['graphql'];

  beforeAll(async () => {
    t = await startTestApp();
    limits = t.app.get(AppConfig).graphql;
    const owner = await signUpOrganization(t.gql, 'Shapes Inc');
    token = owner.token;
    schema = buildClientSchema(await owner.client.ok<IntrospectionQuery>(getIntrospectionQuery()));
  });
  afterAll(() => t?.close());

  const send = (body: string, headers: Record<string, string> = {}) =>
    call(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body,
    });

  /** A chain of object fields without required arguments that loops (User → Organization → …), `depth` deep. */
  function deepQuery(depth: number): string {
    const cycle = findCycle(schema.getQueryType()!.getFields().me!.type);
    let selection = '__typename';
    for (let i = depth - 1; i >= 0; i--) selection = `${cycle[i % cycle.length]} { ${selection} }`;
    return `{ me { ${selection} } }`;
  }

  function findCycle(from: unknown): string[] {
    // Walk object fields (no required args) from `me` until a type repeats; the field names on the way loop.
    const path: string[] = [];
    const seen = new Map<string, number>();
    let type = getNamedType(from as never) as unknown as GraphQLObjectType;
    for (let step = 0; step < 50; step++) {
      seen.set(type.name, path.length);
      const next = Object.values(type.getFields()).find((f) => {
        const named = getNamedType(f.type);
        return isObjectType(named) && !f.args.some((a) => isNonNullType(a.type)) && seen.has(named.name);
      }) ?? Object.values(type.getFields()).find((f) => isObjectType(getNamedType(f.type)) && !f.args.some((a) => isNonNullType(a.type)));
      if (!next) break;
      path.push(next.name);
      const named = getNamedType(next.type) as GraphQLObjectType;
      if (seen.has(named.name)) return path.slice(seen.get(named.name));
      type = named;
    }
    return path.length ? path : ['organization'];
  }

  const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
  const json = (query: string, extra: Record<string, unknown> = {}) => JSON.stringify({ query, ...extra });

  function shapes(): Shape[] {
    const max = limits.maxDepth;
    const cheap = { query: '{ me { id } }' };
    return [
      { name: `nested ${max + 1} deep`, body: json(deepQuery(max + 1)), expect: ['QUERY_TOO_DEEP'] },
      { name: 'nested 200 deep', body: json(deepQuery(200)), expect: ['QUERY_TOO_DEEP', 'GRAPHQL_PARSE_FAILED'] },
      { name: 'nested 5000 deep (past the token limit)', body: json(deepQuery(5000)), expect: ['GRAPHQL_PARSE_FAILED', 'BAD_USER_INPUT'] },
      // __typename is free (no resolver, no cost in the estimate), so a thousand of them are simply answered.
      { name: '1000 aliases of __typename', body: json(aliases(1000, '__typename')), expect: ['', 'QUERY_TOO_COMPLEX'] },
      { name: '1000 aliases of me { id }', body: json(aliases(1000, 'me { id }')), expect: ['QUERY_TOO_COMPLEX', 'GRAPHQL_PARSE_FAILED'] },
      { name: '600 aliases of me { id }', body: json(aliases(600, 'me { id }')), expect: ['QUERY_TOO_COMPLEX'] },
      { name: '100 aliases of a 100-page connection', body: json(aliases(100, 'customers(first: 100) { nodes { id name } }')), expect: ['QUERY_TOO_COMPLEX'] },
      {
        name: 'fragments that cycle',
        body: json('query { me { ...A } } fragment A on User { organization { name } ...B } fragment B on User { ...A }'),
        expect: ['GRAPHQL_VALIDATION_FAILED'],
      },
      {
        name: 'a fragment spread 1000 times',
        body: json(`query { me { ...A } } fragment A on User { ${Array.from({ length: 1000 }, () => '...B').join(' ')} } fragment B on User { id }`),
        expect: ['', 'QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED'],
      },
      { name: `a batch of ${limits.maxBatch + 1}`, body: JSON.stringify(Array(limits.maxBatch + 1).fill(cheap)), expect: ['BATCH_TOO_LARGE'] },
      { name: 'a batch of 10000 (past the 100 kB body limit)', body: JSON.stringify(Array(10_000).fill(cheap)), expect: ['BATCH_TOO_LARGE', 'HTTP 413'] },
      {
        name: 'a batch whose operations are each cheap but together too costly',
        body: JSON.stringify(Array(limits.maxBatch).fill({ query: aliases(Math.ceil(limits.maxComplexity / limits.maxBatch) + 5, 'me { id }') })),
        expect: ['QUERY_TOO_COMPLEX'],
      },
      { name: 'an empty batch', body: '[]', expect: ['BAD_REQUEST', 'BAD_USER_INPUT'] },
      { name: 'a batch of garbage', body: JSON.stringify([1, 'x', null, {}, [], { query: 42 }]), expect: ['BAD_REQUEST', 'BAD_USER_INPUT'] },
      { name: 'a 2 MB document', body: json(`{ me { id } } # ${'x'.repeat(2_000_000)}`), expect: ['HTTP 413'] },
      { name: 'a 90 kB comment', body: json(`{ me { id } } # ${'x'.repeat(90_000)}`), expect: [''] },
      { name: 'a 90 kB string literal', body: json(`{ customer(id: "${'x'.repeat(90_000)}") { id } }`), expect: ['NOT_FOUND', 'BAD_USER_INPUT'] },
      { name: 'malformed JSON', body: '{"query": "{ me { id } }"', expect: ['HTTP 400'] },
      { name: 'JSON that is a string', body: '"{ me { id } }"', expect: ['HTTP 400', 'BAD_REQUEST'] },
      { name: 'no query', body: '{}', expect: ['BAD_REQUEST'] },
      { name: 'query is a number', body: '{"query": 42}', expect: ['BAD_REQUEST'] },
      { name: 'variables is a string', body: json('query($id: ID!) { customer(id: $id) { id } }', { variables: 'id=1' }), expect: ['BAD_REQUEST'] },
      { name: 'an unknown operationName', body: json('query A { me { id } }', { operationName: 'B' }), expect: ['OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST', 'GRAPHQL_VALIDATION_FAILED'] },
      { name: 'two anonymous operations', body: json('{ me { id } } { me { email } }'), expect: ['GRAPHQL_VALIDATION_FAILED'] },
      { name: 'a subscription over HTTP', body: json('subscription { notificationReceived { id } }'), expect: ['BAD_USER_INPUT'] },
      {
        name: 'variables nested 5000 deep',
        body: `{"query":"mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }","variables":{"i":${'{"name":'.repeat(5000)}"x"${'}'.repeat(5000)}}}`,
        expect: ['BAD_USER_INPUT'],
      },
      { name: 'a NUL in the document', body: json('{ me { id } }\u0000'), expect: ['GRAPHQL_PARSE_FAILED'] },
      { name: 'a lone surrogate in a string literal', body: json('{ customer(id: "\uD800") { id } }'), expect: ['GRAPHQL_PARSE_FAILED', 'NOT_FOUND', 'BAD_USER_INPUT'] },
      { name: 'text/plain (CSRF prevention)', body: json('{ me { id } }'), headers: { 'content-type': 'text/plain' }, expect: ['BAD_REQUEST', 'HTTP 400'] },
      { name: 'a bad bearer token', body: json('{ me { id } }'), headers: { authorization: `Bearer ${'x'.repeat(10_000)}` }, expect: ['UNAUTHENTICATED'] },
      { name: 'a unicode bearer token', body: json('{ me { id } }'), headers: { authorization: 'Bearer é' }, expect: ['UNAUTHENTICATED', 'HTTP 400', 'request failed'] },
    ];
  }

  /** The codes an answer carries: its errors' codes, else "HTTP <status>" for a non-GraphQL refusal, else '' (data). */
  function codesOf(status: number, body: any, text: string): string[] {
    if (status === 0) return [text.startsWith('request failed') && !text.includes('timeout') ? 'request failed' : 'timeout'];
    if (!body) return [`HTTP ${status}`];
    const results: any[] = Array.isArray(body) ? body : [body];
    const codes = results.flatMap((r) => (r?.errors ?? []).map((e: any) => e?.extensions?.code ?? e?.code));
    if (codes.length) return codes;
    if (status >= 400) return [`HTTP ${status}`];
    return [''];
  }

  it('answers each hostile shape with its limit or input code, fast, and never a 500 or a stack trace', async () => {
    const failures: Failure[] = [];
    for (const shape of shapes()) {
      const answer = await send(shape.body, shape.headers);
      // A header that fetch itself refuses to send (non-Latin-1) never reaches the server: nothing to check.
      if (answer.status === 0 && shape.expect.includes('request failed') && !answer.text.includes('timeout')) continue;
      const { problems, body } = checkGraphQLAnswer(answer, shape.body.length < 100_000 ? shape.body : '');
      for (const p of problems) failures.push({ case: shape.name, problem: p, detail: answer.text });
      const codes = codesOf(answer.status, body, answer.text);
      if (!codes.some((c) => shape.expect.includes(c))) {
        failures.push({ case: shape.name, problem: `answered ${JSON.stringify(codes)} (HTTP ${answer.status}), expected one of ${JSON.stringify(shape.expect)}`, detail: answer.text });
      }
    }
    expect(report('graphql-shapes', SEED, failures)).toBe('');
    // Still answering.
    expect(JSON.parse((await send(json('{ me { id } }'))).text).data.me.id).toBeDefined();
  });

  it(`answers random documents (fast-check, ${fuzzRuns(100)} runs) with a stable code, never a 500 or a stack trace`, async () => {
    const fields = ['me { id }', 'customers(first: 3) { totalCount nodes { id } }', '__typename', 'invoices { nodes { id } }'];
    const token = fc.oneof(
      fc.constantFrom('{', '}', '(', ')', '...', 'fragment', 'on', 'query', 'mutation', '$x', ':', '@include(if: true)', '"', '#', '\n', ','),
      fc.constantFrom(...fields),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constantFrom('me', 'customer', 'id', 'first: -1', 'first: 2147483648', 'after: "x"', 'id: "not-a-uuid"'),
    );
    const doc = fc.oneof(
      fc.array(token, { maxLength: 60 }).map((ts) => ts.join(' ')),
      fc.integer({ min: 1, max: 40 }).map((n) => deepQuery(n)),
      fc.tuple(fc.integer({ min: 1, max: 1500 }), fc.constantFrom(...fields)).map(([n, f]) => aliases(n, f)),
    );
    const batch = fc.oneof(
      { arbitrary: doc.map((q) => JSON.stringify({ query: q })), weight: 4 },
      { arbitrary: fc.array(doc, { minLength: 1, maxLength: 14 }).map((qs) => JSON.stringify(qs.map((query) => ({ query })))), weight: 1 },
    );
    const failures: Failure[] = [];
    const samples = fc.sample(batch, { seed: SEED, numRuns: fuzzRuns(100) });
    for (const [i, body] of samples.entries()) {
      const answer = await send(body);
      const { problems } = checkGraphQLAnswer(answer, body);
      for (const p of problems) failures.push({ case: `${i}: ${clip(body, 300)}`, problem: p, detail: answer.text });
    }
    expect(report('graphql-shapes (random documents)', SEED, failures)).toBe('');
  });
});
