import { createHmac } from 'node:crypto';
import pg from 'pg';
import type { GraphQLClient } from '#libs/testing/index.js';
import { AppConfig } from '../src/config/index.js';
import { GraphQLReadCache, READ_CACHE_HEADER } from '../src/graphql/read-cache.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

/**
 * The GraphQL read cache (docs/decisions/0004-graphql-read-cache.md), end to end: real HTTP, the app's LISTEN
 * connection on the real PostgreSQL, writes through mutations and through other connections.
 */
const PAGE = `query Page($first: Int!) { customers(first: $first) { totalCount nodes { id name balance { owed { amount } } } } }`;

describe('GraphQL read cache', () => {
  let t: TestApp;
  let sql: pg.Client;
  let owner: Awaited<ReturnType<typeof signUpOrganization>>;
  let customerId: string;
  const cache = () => t.app.get(GraphQLReadCache);

  /** One POST, with the read cache's header. */
  async function ask(client: GraphQLClient, query: string, variables: Record<string, unknown> = {}) {
    const res = await fetch(`${client.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${(client as unknown as { token: string }).token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    return { cache: res.headers.get(READ_CACHE_HEADER), data: body.data, errors: body.errors };
  }
  const page = (client: GraphQLClient = owner.client) => ask(client, PAGE, { first: 10 });
  const nameOf = (answer: { data?: any }) => answer.data.customers.nodes.find((n: { id: string }) => n.id === customerId)?.name;

  async function until<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
    for (let i = 0; i < 400; i++) {
      const value = await probe();
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  /** A write committed on another connection reaches the app as a notification: wait until it was heard. */
  async function afterNotification(write: () => Promise<unknown>): Promise<void> {
    const before = cache().stats().invalidations;
    await write();
    await until('the notification', async () => cache().stats().invalidations > before);
  }

  /** Runs `during` while another connection holds an exclusive lock on the invoice table, until `release` is called. */
  async function withInvoicesLocked<T>(during: (release: () => Promise<void>) => Promise<T>): Promise<T> {
    const blocker = new pg.Client({ connectionString: t.db.url });
    await blocker.connect();
    try {
      await blocker.query(`begin`);
      await blocker.query(`lock table invoice in access exclusive mode`);
      return await during(async () => void (await blocker.query(`rollback`)));
    } finally {
      await blocker.end();
    }
  }
  const waitingOnInvoiceLock = async () => {
    const { rows } = await sql.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%invoice%'`);
    return rows.length > 0;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { GRAPHQL_READ_CACHE: 'on' } });
    sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    await until('the LISTEN connection', async () => cache().stats().listening);
    owner = await signUpOrganization(t.gql, 'Cached Pools');
    const created = await owner.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: { name: 'Ada First' } });
    customerId = created.createCustomer.id;
  });

  afterAll(async () => {
    await sql?.end();
    await t?.close();
  });

  it('answers a repeated query the same, from memory, without reading the customers again', async () => {
    const first = await page();
    expect(first.cache).toBe('miss');
    t.queries.length = 0;
    const second = await page();
    expect(second).toEqual({ ...first, cache: 'hit' });
    expect(t.queries.filter((q) => /from "customer"/.test(q))).toEqual([]);
    // Variables are part of the key, in any order of their keys; another page size is another answer.
    expect((await ask(owner.client, PAGE, { first: 5 })).cache).toBe('miss');
  });

  it('never caches mutations, answers with errors, or queries outside the allow-list', async () => {
    expect((await ask(owner.client, `{ me { email } }`)).cache).toBe('uncacheable');
    expect((await ask(owner.client, `{ me { email } }`)).cache).toBe('uncacheable');
    const missing = `query($id: ID!) { customer(id: $id) { id } }`;
    const a = await ask(owner.client, missing, { id: '00000000-0000-4000-8000-000000000000' });
    expect(a.errors).toBeDefined();
    const b = await ask(owner.client, missing, { id: '00000000-0000-4000-8000-000000000000' });
    expect(b).toMatchObject({ cache: 'miss' });
    expect(b.errors).toBeDefined();
  });

  it('shows a write through a mutation on the next read', async () => {
    await page();
    expect((await page()).cache).toBe('hit');
    await owner.client.ok(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { id } }`, {
      id: customerId,
      i: { name: 'Ada Renamed' },
    });
    // No waiting for the notification: the mutation bumped the organization in this process.
    const next = await page();
    expect(next.cache).toBe('miss');
    expect(nameOf(next)).toBe('Ada Renamed');
  });

  it('shows a write by another connection (the worker) once its commit is heard', async () => {
    await page();
    expect((await page()).cache).toBe('hit');
    await afterNotification(() => sql.query(`update customer set name = 'Ada From Worker' where id = $1`, [customerId]));
    const next = await page();
    expect(next.cache).toBe('miss');
    expect(nameOf(next)).toBe('Ada From Worker');
  });

  it('shows a bulk insert of 1,000 rows in one statement, as a billing run writes them', async () => {
    const before = await page();
    expect((await page()).cache).toBe('hit');
    await afterNotification(() =>
      sql.query(
        `insert into customer (id, organization_id, created_at, updated_at, name, sort_name, search_text, status, has_card, has_bank_account, has_consent, tags)
         select gen_random_uuid(), $1::uuid, now(), now(), 'Bulk ' || g, 'bulk ' || g, 'bulk ' || g, 'ACTIVE', false, false, false, '{}'
           from generate_series(1, 1000) g`,
        [owner.organizationId],
      ),
    );
    const next = await page();
    expect(next.cache).toBe('miss');
    expect(next.data.customers.totalCount).toBe(before.data.customers.totalCount + 1000);
  });

  it('never shows one organization or user the answer cached for another', async () => {
    const other = await signUpOrganization(t.gql, 'Other Pools');
    await other.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: { name: 'Zed Elsewhere' } });
    const staff = await addUser(owner.client, 'STAFF');
    const manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    const mine = await page();
    expect((await page()).cache).toBe('hit');

    const theirs = await page(other.client);
    expect(theirs.cache).toBe('miss');
    expect(theirs.data.customers.nodes.map((n: { name: string }) => n.name)).toEqual(['Zed Elsewhere']);
    expect((await page(other.client)).data).toEqual(theirs.data);

    for (const user of [staff, manager]) {
      const answer = await page(user.client);
      expect(answer.cache).toBe('miss');
      expect(answer.data).toEqual(mine.data);
      expect((await page(user.client)).cache).toBe('hit');
    }
    // A disabled user's token is refused, not answered from the cache: disabling them changed the organization.
    await owner.client.ok(`mutation($id: ID!) { disableUser(userId: $id) { id } }`, { id: staff.userId });
    const disabled = await page(staff.client);
    expect(disabled.data ?? null).toBeNull();
    expect(disabled.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });

  it('does not store an answer read before a commit that was heard before the answer was complete', async () => {
    await page();
    const query = `query Race($id: ID!) { customer(id: $id) { name } invoices(first: 1) { totalCount } }`;
    const raced = await withInvoicesLocked(async (release) => {
      // The customer is read at once; the invoices wait for the lock.
      const racing = ask(owner.client, query, { id: customerId });
      await until('the request to wait on the lock', waitingOnInvoiceLock);
      await afterNotification(() => sql.query(`update customer set name = 'Ada After Race' where id = $1`, [customerId]));
      await release();
      return racing;
    });
    expect(raced.cache).toBe('miss');
    expect(raced.data.customer.name).not.toBe('Ada After Race'); // it did read before the commit
    const next = await ask(owner.client, query, { id: customerId });
    expect(next.cache).toBe('miss');
    expect(next.data.customer.name).toBe('Ada After Race');
  });

  it('computes identical concurrent misses once', async () => {
    const query = `query Shared($id: ID!) { customer(id: $id) { name } invoices(first: 2) { totalCount } }`;
    const answers = await withInvoicesLocked(async (release) => {
      t.queries.length = 0;
      const first = ask(owner.client, query, { id: customerId });
      await until('the first request to wait on the lock', waitingOnInvoiceLock);
      const others = [ask(owner.client, query, { id: customerId }), ask(owner.client, query, { id: customerId })];
      await until('the others to wait for the first', async () => cache().stats().waiting === 2);
      await release();
      return Promise.all([first, ...others]);
    });
    expect(answers.map((a) => a.cache)).toEqual(['miss', 'shared', 'shared']);
    expect(answers[1]!.data).toEqual(answers[0]!.data);
    expect(answers[2]!.data).toEqual(answers[0]!.data);
    // The invoices were counted once, for the three requests.
    expect(t.queries.filter((q) => /count\(\*\).* from "invoice"/.test(q))).toHaveLength(1);
  });

  it('bypasses the cache while the LISTEN connection is lost, and caches again once it listens', async () => {
    await page();
    expect((await page()).cache).toBe('hit');
    await sql.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'settle-read-cache'`);
    await until('the cache to notice', async () => !cache().stats().listening);
    // A write now is not heard by anyone; it is seen anyway.
    await sql.query(`update customer set name = 'Ada Unheard' where id = $1`, [customerId]);
    const during = await page();
    if (!cache().stats().listening) expect(during.cache).toBe('bypass');
    expect(nameOf(during)).toBe('Ada Unheard');
    await until('the LISTEN connection again', async () => cache().stats().listening);
    const after = await page();
    expect(after.cache).toBe('miss');
    expect(nameOf(after)).toBe('Ada Unheard');
    expect((await page()).cache).toBe('hit');
  });

  /** One POST as sent, the answer as received: status, the headers a client sees, and the exact bytes. */
  async function raw(token: string, init: { body: string; contentType?: string; accept?: string }) {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': init.contentType ?? 'application/json',
        authorization: `Bearer ${token}`,
        ...(init.accept ? { accept: init.accept } : {}),
      },
      body: init.body,
    });
    const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'x-request-id', 'connection', 'keep-alive'].includes(name)));
    return { status: res.status, headers, requestId: res.headers.get('x-request-id'), text: await res.text() };
  }

  it('answers a hit with the same bytes and headers Apollo sends, for every Accept header Apollo serves', async () => {
    const body = JSON.stringify({ query: PAGE, variables: { first: 3 }, operationName: 'Page' });
    for (const accept of [undefined, 'application/json', 'application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9', '*/*']) {
      await afterNotification(() => sql.query(`update customer set updated_at = now() where id = $1`, [customerId]));
      const computed = await raw(owner.token, { body, accept });
      const cached = await raw(owner.token, { body, accept });
      expect([computed.headers[READ_CACHE_HEADER], cached.headers[READ_CACHE_HEADER]]).toEqual(['miss', 'hit']);
      expect(cached.status).toBe(200);
      expect(cached.text).toBe(computed.text);
      expect({ ...cached.headers, [READ_CACHE_HEADER]: 'miss' }).toEqual(computed.headers);
      expect(cached.headers['content-type']).toBe(accept?.startsWith('application/graphql-response+json') ? 'application/graphql-response+json; charset=utf-8' : 'application/json; charset=utf-8');
      expect(cached.requestId).toMatch(/\S/);
    }
    // An Accept header Apollo cannot serve gets Apollo's 406, cached answer or not.
    const refused = await raw(owner.token, { body, accept: 'text/html' });
    expect(refused.status).toBe(406);
  });

  it('leaves requests it must not answer to Apollo: a form post (CSRF), a batch, a persisted-query hash', async () => {
    const plain = `{ customers(first: 3) { totalCount } }`;
    await raw(owner.token, { body: JSON.stringify({ query: plain }) });
    expect((await raw(owner.token, { body: JSON.stringify({ query: plain }) })).headers[READ_CACHE_HEADER]).toBe('hit');
    const form = await raw(owner.token, { body: new URLSearchParams({ query: plain }).toString(), contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    expect(form.headers[READ_CACHE_HEADER]).toBeUndefined();
    const body = JSON.stringify({ query: PAGE, variables: { first: 3 } });
    await raw(owner.token, { body });
    expect((await raw(owner.token, { body })).headers[READ_CACHE_HEADER]).toBe('hit');
    const batch = await raw(owner.token, { body: `[${body}]` });
    expect(batch.status).toBe(200);
    expect(JSON.parse(batch.text)).toEqual([JSON.parse((await raw(owner.token, { body })).text)]);
    // A hash that does not match the query text: Apollo's refusal, not the cached answer.
    const wrongHash = await raw(owner.token, { body: JSON.stringify({ query: PAGE, variables: { first: 3 }, extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } }) });
    expect(wrongHash.headers[READ_CACHE_HEADER]).toBeUndefined();
    expect(JSON.parse(wrongHash.text).errors).toBeDefined();
  });

  it('serves a hit without reading the user, and sees a user changed by another connection once the change is heard', async () => {
    const staff = await addUser(owner.client, 'STAFF');
    await page(staff.client);
    t.queries.length = 0;
    expect((await page(staff.client)).cache).toBe('hit');
    expect(t.queries).toEqual([]);
    await afterNotification(() => sql.query(`update app_user set role = 'PAYMENT_MANAGER' where id = $1`, [staff.userId]));
    const asManager = await page(staff.client);
    expect(asManager.cache).not.toBe('hit'); // another role: another key, and the user was read again
    expect(t.queries.filter((q) => /from app_user/.test(q))).toHaveLength(1);
    await afterNotification(() => sql.query(`update app_user set status = 'DISABLED' where id = $1`, [staff.userId]));
    const disabled = await page(staff.client);
    expect(disabled.cache).not.toBe('hit');
    expect(disabled.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });

  it('refuses an expired token even when its answer and its user are known', async () => {
    const { jwtSecret } = t.app.get(AppConfig).auth;
    const now = Math.floor(Date.now() / 1000);
    const head = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: owner.userId, org: owner.organizationId, role: 'OWNER', typ: 'access', iat: now, exp: now + 2 }),
    ).toString('base64url')}`;
    const token = `${head}.${createHmac('sha256', jwtSecret!).update(head).digest('base64url')}`;
    const body = JSON.stringify({ query: PAGE, variables: { first: 2 } });
    await raw(token, { body });
    expect((await raw(token, { body })).headers[READ_CACHE_HEADER]).toBe('hit');
    await new Promise((resolve) => setTimeout(resolve, (now + 2) * 1000 - Date.now() + 50));
    const expired = await raw(token, { body });
    expect(expired.headers[READ_CACHE_HEADER]).toBeUndefined();
    expect(JSON.parse(expired.text).errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });

  it('computes identical requests arriving together after a change once, and reads their user once', async () => {
    await page();
    expect((await page()).cache).toBe('hit');
    const answers = await withInvoicesLocked(async (release) => {
      await afterNotification(() => sql.query(`update customer set updated_at = now() where id = $1`, [customerId]));
      t.queries.length = 0;
      const all = [page(), page(), page()];
      await until('two to wait for the third', async () => cache().stats().waiting === 2);
      await release();
      return Promise.all(all);
    });
    expect(answers.map((a) => a.cache).sort()).toEqual(['miss', 'shared', 'shared']);
    expect(answers[1]!.data).toEqual(answers[0]!.data);
    expect(answers[2]!.data).toEqual(answers[0]!.data);
    expect(t.queries.filter((q) => /from app_user/.test(q))).toHaveLength(1);
    expect(t.queries.filter((q) => /from "customer"/.test(q))).toHaveLength(1);
  });

  it('is not dropped by the outbox relaying and delivering events: no cached field reads the outbox', async () => {
    await owner.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: { name: 'Eve Evented' } });
    await page();
    expect((await page()).cache).toBe('hit');
    const before = cache().stats().invalidations;
    // What the relay and a handler write: the claim and the publish of the event, its inbox row.
    const claimed = await sql.query(`update outbox_message set claimed_until = now() where organization_id = $1`, [owner.organizationId]);
    expect(claimed.rowCount).toBeGreaterThan(0); // the organization's events (its sign-up, the customer created)
    await sql.query(`update outbox_message set published_at = now(), claimed_until = null where organization_id = $1`, [owner.organizationId]);
    await sql.query(
      `insert into outbox_delivery (id, message_id, handler, event_type, organization_id, status, attempts, updated_at)
       select gen_random_uuid(), id, 'test.read-cache', type, organization_id, 'PROCESSED', 1, now() from outbox_message where organization_id = $1`,
      [owner.organizationId],
    );
    // Notifications arrive in commit order: once this one is heard, any from the writes above would have been.
    await sql.query(`select pg_notify('settle_data_changed', '00000000-0000-4000-8000-00000000c0de')`);
    await until('the marker notification', async () => cache().stats().invalidations > before);
    expect(cache().stats().invalidations).toBe(before + 1);
    expect((await page()).cache).toBe('hit');
  });

  it('has the change triggers on every tenant table but the outbox', async () => {
    const { rows } = await sql.query(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind = 'r'
          and (c.relname = 'organization' or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organization_id' and not a.attisdropped))
          and (select count(*) from pg_trigger g where g.tgrelid = c.oid and g.tgname in ('settle_changed_ins', 'settle_changed_upd', 'settle_changed_del')) <> 3
        order by 1`,
    );
    // Left out on purpose (Migration20261202070000): the outbox's own bookkeeping, which no cacheable field reads.
    expect(rows.map((r) => r.relname)).toEqual(['outbox_delivery', 'outbox_message']);
  });
});
