import { randomUUID } from 'node:crypto';
import type { GraphQLResponse } from '#libs/testing/index.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;

const codeOf = (res: GraphQLResponse) => res.errors?.[0]?.extensions?.code;

/**
 * Cost of `users(first: N) { nodes { id email organization { id name } } }` under the rules of limits.ts and
 * connectionComplexity: every field 1, a connection 1 + N × its children.
 * nodes = 1 + id 1 + email 1 + organization (1 + id 1 + name 1) = 6, so users(first: N) = 1 + 6N.
 */
const usersQuery = (first: number, alias = 'users') =>
  `${alias}: users(first: ${first}) { nodes { id email organization { id name } } }`;
const usersCost = (first: number) => 1 + 6 * first;

describe('GraphQL limits: depth, complexity, batches', () => {
  const MAX_COMPLEXITY = 100;
  const MAX_BATCH = 5;
  let t: TestApp;
  let owner: Owner;
  beforeAll(async () => {
    t = await startTestApp({
      env: { GRAPHQL_MAX_DEPTH: '4', GRAPHQL_MAX_COMPLEXITY: String(MAX_COMPLEXITY), GRAPHQL_MAX_BATCH: String(MAX_BATCH) },
    });
    owner = await signUpOrganization(t.gql);
  });
  afterAll(() => t.close());

  it('refuses a query nested deeper than GRAPHQL_MAX_DEPTH before running any of it, and answers one at the limit', async () => {
    t.queries.length = 0;
    const deep = await owner.client.request(`{ users { edges { node { organization { id } } } } }`);
    expect(deep.errors).toHaveLength(1);
    expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_DEEP' });
    expect(deep.errors?.[0]?.message).toContain('depth 5 exceeds the limit of 4');
    expect(deep).not.toHaveProperty('data');
    expect(deep.status).toBe(400);
    expect(t.queries).toEqual([]);

    const atLimit = await owner.client.request(`{ users { edges { node { id } } } }`);
    expect(atLimit.errors).toBeUndefined();
    expect(atLimit.data?.users.edges).toEqual([{ node: { id: owner.userId } }]);
  });

  it('follows fragments and inline fragments when measuring depth', async () => {
    const named = await owner.client.request(`
      query Staff { users { ...Page } }
      fragment Page on UserConnection { edges { node { ...WithOrg } } }
      fragment WithOrg on User { organization { id } }
    `);
    expect(codeOf(named)).toBe('QUERY_TOO_DEEP');
    expect(named).not.toHaveProperty('data');

    const inline = await owner.client.request(`{ users { edges { ... on UserEdge { node { organization { id } } } } } }`);
    expect(codeOf(inline)).toBe('QUERY_TOO_DEEP');
    expect(inline).not.toHaveProperty('data');

    const shallowFragment = await owner.client.request(`
      { users { ...Page } }
      fragment Page on UserConnection { edges { node { id } } }
    `);
    expect(shallowFragment.errors).toBeUndefined();
  });

  it('counts totalCount and pageInfo once per page, not once per node', async () => {
    const cost = async (selection: string) =>
      (await owner.client.request(`{ users(first: 100) { ${selection} } }`)).errors?.[0]?.extensions?.cost as number;
    const bare = await cost('nodes { id }');
    expect(bare).toBe(1 + 2 * 100); // the connection, then nodes + id for each of 100
    // totalCount (1) and pageInfo with two fields (3) are answered once: +4, not +400.
    expect(await cost('totalCount pageInfo { hasNextPage endCursor } nodes { id }')).toBe(bare + 4);
  });

  it('refuses a query whose estimated cost is above GRAPHQL_MAX_COMPLEXITY and answers a cheap one of the same shape', async () => {
    expect(usersCost(100)).toBeGreaterThan(MAX_COMPLEXITY);
    t.queries.length = 0;
    const costly = await owner.client.request(`{ ${usersQuery(100)} }`);
    expect(costly.errors).toHaveLength(1);
    expect(costly.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: usersCost(100), limit: MAX_COMPLEXITY });
    expect(costly.data ?? null).toBeNull();
    expect(costly.status).toBe(400);
    expect(t.queries).toEqual([]);

    const cheap = await owner.client.request(`{ ${usersQuery(5)} }`);
    expect(cheap.errors).toBeUndefined();
    expect(cheap.data?.users.nodes).toEqual([
      { id: owner.userId, email: owner.email, organization: { id: owner.organizationId, name: 'Acme Field Service' } },
    ]);
  });

  it('adds up aliased fields: three cheap aliases that together cost too much are refused', async () => {
    expect(usersCost(10)).toBeLessThanOrEqual(MAX_COMPLEXITY);
    expect(3 * usersCost(10)).toBeGreaterThan(MAX_COMPLEXITY);
    const one = await owner.client.request(`{ ${usersQuery(10, 'a')} }`);
    expect(one.errors).toBeUndefined();

    const aliased = await owner.client.request(`{ ${usersQuery(10, 'a')} ${usersQuery(10, 'b')} ${usersQuery(10, 'c')} }`);
    expect(codeOf(aliased)).toBe('QUERY_TOO_COMPLEX');
    expect(aliased.errors?.[0]?.extensions?.cost).toBe(3 * usersCost(10));
    expect(aliased.data ?? null).toBeNull();
  });

  it('adds up the operations of one batched HTTP request: the ones past the budget are refused', async () => {
    const op = { query: `{ ${usersQuery(10)} }` };
    const results: GraphQLResponse[] = await owner.client.post([op, op, op]);
    expect(results).toHaveLength(3);
    const answered = results.filter((r) => r.data?.users);
    const refused = results.filter((r) => codeOf(r) === 'QUERY_TOO_COMPLEX');
    // 61 fits in 100; 122 and 183 do not.
    expect(answered).toHaveLength(1);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r.data ?? null).toBeNull();

    // The budget is per HTTP request: the next request starts from zero.
    expect((await owner.client.request(op.query)).errors).toBeUndefined();
  });

  it('refuses a batch of more than GRAPHQL_MAX_BATCH operations with HTTP 400, running none of them', async () => {
    const op = { query: `{ me { id } }` };
    const fits = await owner.client.post(Array.from({ length: MAX_BATCH }, () => op));
    expect(fits).toHaveLength(MAX_BATCH);
    for (const r of fits) expect(r.data?.me.id).toBe(owner.userId);

    t.queries.length = 0;
    const tooMany = await owner.client.post(Array.from({ length: MAX_BATCH + 1 }, () => op));
    expect(tooMany.status).toBe(400);
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BATCH_TOO_LARGE', limit: MAX_BATCH });
    expect(tooMany.data).toBeUndefined();
    expect(t.queries).toEqual([]);
  });
});

describe('GraphQL conventions: pagination, DataLoader, error codes, scalars', () => {
  let t: TestApp;
  let owner: Owner;
  let staff: Awaited<ReturnType<typeof addUser>>;
  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUpOrganization(t.gql, 'Twelve Staff Co');
    staff = await addUser(owner.client, 'STAFF');
    for (let i = 0; i < 10; i++) await addUser(owner.client, i % 2 ? 'ADMIN' : 'STAFF');
    // Another organization's users must never show up in this one's pages.
    const other = await signUpOrganization(t.gql, 'Elsewhere Ltd');
    await addUser(other.client, 'STAFF');
  });
  afterAll(() => t.close());

  it('refuses first above 100 and first below 1 with BAD_USER_INPUT', async () => {
    const tooBig = await owner.client.request(`{ users(first: 101) { totalCount } }`);
    expect(codeOf(tooBig)).toBe('BAD_USER_INPUT');
    expect(tooBig.errors?.[0]?.message).toContain('first must be at most 100');
    expect(tooBig.data ?? null).toBeNull();

    for (const first of [0, -1]) {
      const tooSmall = await owner.client.request(`query($first: Int!) { users(first: $first) { totalCount } }`, { first });
      expect(codeOf(tooSmall)).toBe('BAD_USER_INPUT');
      expect(tooSmall.errors?.[0]?.message).toContain('first must be at least 1');
    }

    const atMax = await owner.client.request(`{ users(first: 100) { totalCount } }`);
    expect(atMax.errors).toBeUndefined();
    expect(atMax.data?.users.totalCount).toBe(12);
  });

  it('pages through 12 users 5 at a time: 5, 5, 2, no duplicates, the same totalCount on every page', async () => {
    const pages: { ids: string[]; hasNextPage: boolean; hasPreviousPage: boolean; totalCount: number }[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 5; guard++) {
      const res: Record<string, any> = await owner.client.ok(
        `query($after: String) {
          users(first: 5, after: $after) {
            totalCount
            edges { cursor node { id } }
            nodes { id }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }`,
        { after },
      );
      const page = res.users;
      expect(page.nodes.map((n: { id: string }) => n.id)).toEqual(page.edges.map((e: { node: { id: string } }) => e.node.id));
      if (page.edges.length) {
        expect(page.pageInfo.startCursor).toBe(page.edges[0].cursor);
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1).cursor);
      }
      pages.push({
        ids: page.nodes.map((n: { id: string }) => n.id),
        hasNextPage: page.pageInfo.hasNextPage,
        hasPreviousPage: page.pageInfo.hasPreviousPage,
        totalCount: page.totalCount,
      });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages.map((p) => p.ids.length)).toEqual([5, 5, 2]);
    expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
    expect(pages[0]!.hasPreviousPage).toBe(false);
    expect(pages.map((p) => p.totalCount)).toEqual([12, 12, 12]);
    const all = pages.flatMap((p) => p.ids);
    expect(new Set(all).size).toBe(12);
    // Oldest first: the owner who signed up comes first, the STAFF invited first second.
    expect(all.slice(0, 2)).toEqual([owner.userId, staff.userId]);
  });

  it('refuses an `after` that is not a cursor of this connection with BAD_USER_INPUT, not an internal error', async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const notCursors = [
      'not-a-cursor',
      encode(null),
      encode('x'),
      encode({ a: 1 }),
      encode([]),
      encode(['2020-01-01T00:00:00.000Z']),
      encode([1, 2, 3]),
    ];
    for (const after of notCursors) {
      const res = await owner.client.request(`query($after: String) { users(first: 5, after: $after) { totalCount } }`, { after });
      expect({ after, extensions: res.errors?.[0]?.extensions }).toMatchObject({
        after,
        extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR', fields: [{ field: 'after' }] },
      });
      expect(res.data ?? null).toBeNull();
    }
    // A real cursor still works.
    const first = await owner.client.ok(`{ users(first: 1) { pageInfo { endCursor } } }`);
    const next = await owner.client.ok(`query($after: String) { users(first: 1, after: $after) { nodes { id } } }`, {
      after: first.users.pageInfo.endCursor,
    });
    expect(next.users.nodes).toEqual([{ id: staff.userId }]);
  });

  it('loads the organization of a whole page of users with one SQL query', async () => {
    t.queries.length = 0;
    const res = await owner.client.ok(`{ users(first: 12) { nodes { id organization { name } } } }`);
    expect(res.users.nodes).toHaveLength(12);
    for (const node of res.users.nodes) expect(node.organization).toEqual({ name: 'Twelve Staff Co' });
    expect(t.queries.filter((sql) => /from "organization"/i.test(sql))).toHaveLength(1);
  });

  it('answers with stable error codes', async () => {
    const missing = await owner.client.request(`query($id: ID!) { user(id: $id) { id } }`, { id: randomUUID() });
    expect(codeOf(missing)).toBe('NOT_FOUND');
    const malformed = await owner.client.request(`{ user(id: "not-a-uuid") { id } }`);
    expect(codeOf(malformed)).toBe('NOT_FOUND');

    const anonymous = await t.gql.request(`{ users(first: 1) { totalCount } }`);
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect(anonymous.data ?? null).toBeNull();

    const forbidden = await staff.client.request(`{ deadLetters(first: 5) { totalCount } }`);
    expect(forbidden.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_REQUIRED' });
    expect(forbidden.data ?? null).toBeNull();
    expect((await owner.client.request(`{ deadLetters(first: 5) { totalCount } }`)).errors).toBeUndefined();

    const unknownField = await owner.client.request(`{ me { noSuchField } }`);
    expect(codeOf(unknownField)).toBe('GRAPHQL_VALIDATION_FAILED');
    const syntax = await owner.client.request(`{ me { id `);
    expect(codeOf(syntax)).toBe('GRAPHQL_PARSE_FAILED');
  });

  // Found by the fuzz pass (test/fuzz): both were 500s from PostgreSQL.
  it('refuses text PostgreSQL cannot store (a NUL, a lone surrogate) with BAD_USER_INPUT naming the field; nothing is written', async () => {
    const create = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`;
    const total = async () => (await owner.client.ok(`{ customers { totalCount } }`)).customers.totalCount as number;
    const before = await total();
    const nul = await owner.client.request(create, { i: { name: 'Pat\u0000Rivera' } });
    expect(nul.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.name', message: 'must not contain a NUL character' }] });
    const surrogate = await owner.client.request(create, { i: { name: 'Pat', tags: ['ok', 'bad \uD800'] } });
    expect(surrogate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.tags.1' }] });
    expect(await total()).toBe(before);
    // The same check on REST bodies (hosted pages): a 400, not a 500.
    const page = await fetch(`${t.url}/p/${'x'.repeat(43)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=a%00b' });
    expect(page.status).toBe(400);
  });

  it('refuses a subscription sent over HTTP (it is served over WebSocket) with BAD_USER_INPUT, not an internal error', async () => {
    const res = await owner.client.request(`subscription { notificationReceived { id } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toContain('WebSocket');
  });

  it('publishes Money, MinorUnits and DateTime in the schema (introspection is on outside production)', async () => {
    const res = await t.gql.ok(`{
      money: __type(name: "Money") { kind fields { name type { kind name ofType { kind name } } } }
      minorUnits: __type(name: "MinorUnits") { kind description }
      dateTime: __type(name: "DateTime") { kind }
      moneyInput: __type(name: "MoneyInput") { kind inputFields { name } }
    }`);
    expect(res.money.kind).toBe('OBJECT');
    const fields = Object.fromEntries(
      res.money.fields.map((f: { name: string; type: { kind: string; name: string | null; ofType: { name: string } | null } }) => [
        f.name,
        f.type.name ?? f.type.ofType?.name,
      ]),
    );
    expect(fields).toEqual({ amount: 'MinorUnits', currency: 'String', formatted: 'String' });
    expect(res.minorUnits).toMatchObject({ kind: 'SCALAR' });
    expect(res.minorUnits.description).toContain('minor units');
    expect(res.dateTime).toEqual({ kind: 'SCALAR' });
    expect(res.moneyInput.inputFields.map((f: { name: string }) => f.name).sort()).toEqual(['amount', 'currency']);
  });
});

describe('GraphQL in production mode', () => {
  let t: TestApp;
  const responses: unknown[] = [];
  const record = <T>(res: T): T => {
    responses.push(res);
    return res;
  };
  beforeAll(async () => {
    // test-app passes DATABASE_URL, REDIS_URL and JWT_SECRET, which production requires.
    t = await startTestApp({ env: { NODE_ENV: 'production', LOG_LEVEL: 'silent' } });
  });
  afterAll(() => t.close());

  it('refuses introspection', async () => {
    const res = record(await t.gql.request(`{ __schema { types { name } } }`));
    expect(res.errors?.length).toBeGreaterThan(0);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors?.[0]?.message).toMatch(/introspection/i);
    expect(res).not.toHaveProperty('data');
    const type = record(await t.gql.request(`{ __type(name: "Money") { name } }`));
    expect(type.errors?.length).toBeGreaterThan(0);
    expect(type).not.toHaveProperty('data');
  });

  it('answers an unauthenticated request with UNAUTHENTICATED', async () => {
    const res = record(await t.gql.request(`{ me { id } }`));
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  it('still serves signed-in clients, with the same error codes', async () => {
    const owner = await signUpOrganization(t.gql);
    expect((await owner.client.ok(`{ me { id } }`)).me.id).toBe(owner.userId);
    expect(codeOf(record(await owner.client.request(`{ user(id: "${randomUUID()}") { id } }`)))).toBe('NOT_FOUND');
    expect(codeOf(record(await owner.client.request(`{ users(first: 101) { totalCount } }`)))).toBe('BAD_USER_INPUT');
    record(await owner.client.request(`{ me { noSuchField } }`));
    record(await owner.client.request(`{ me { id `));
    record(await owner.client.request(`{ users(first: 5, after: "not-a-cursor") { totalCount } }`));
    record(
      await t.gql.request(`mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, {
        i: { organizationName: 'X', name: 'S', email: 'nope', password: 'short' },
      }),
    );
  });

  it('never puts a stack trace in an error response', () => {
    expect(responses.length).toBeGreaterThanOrEqual(8);
    for (const res of responses) {
      expect((res as GraphQLResponse).errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(res)).not.toMatch(/stacktrace|\.ts:\d+|node_modules/i);
    }
  });
});
