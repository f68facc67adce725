import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import type { GraphQLClient } from '#libs/testing/index.js';
import { CustomerDirectory, CustomerError, type CustomerFilter, type PaymentSummary } from '../src/modules/customers/index.js';
import { signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

const NONE: PaymentSummary = { hasCard: false, hasBankAccount: false, hasConsent: false, cardExpiresOn: null };

/**
 * The customers an organization in Los Angeles has, with what the Wallet reported about each. Staff in LA see the
 * date of their time zone: the clock starts on 2026-01-02 at noon there (20:00 UTC).
 */
const SEED: { key: string; input: Record<string, unknown>; summary?: Partial<PaymentSummary>; archived?: boolean }[] = [
  {
    key: 'alice',
    input: { name: 'Alice Martin', email: 'alice@pools.test', phone: '+1 514 555 0101', tags: ['VIP', 'pool'] },
    summary: { hasCard: true, hasConsent: true, cardExpiresOn: '2026-01-31' },
  },
  { key: 'bob', input: { name: 'bob martin', tags: ['Pool'], externalReference: 'QB-2001' }, summary: { hasCard: true, cardExpiresOn: '2026-06-30' } },
  { key: 'chloe', input: { name: 'Chloé Dubois', tags: ['vip'] }, summary: { hasBankAccount: true, hasConsent: true } },
  { key: 'dan', input: { name: 'Dan Smith', email: 'dan_smith@example.com' } },
  {
    key: 'eric',
    input: { name: 'Éric Tremblay', tags: ['pool'], phone: '+44 20 7946 0018' },
    summary: { hasCard: true, hasBankAccount: true, hasConsent: true, cardExpiresOn: '2025-12-31' },
  },
  { key: 'fay', input: { name: 'Fay Archived', tags: ['vip'] }, summary: { hasCard: true, cardExpiresOn: '2026-01-31' }, archived: true },
  { key: 'gus', input: { name: 'Gus Inactive', status: 'INACTIVE' }, summary: { hasBankAccount: true } },
  ...Array.from({ length: 7 }, (_, i) => ({ key: `zed${i}`, input: { name: i % 2 ? 'Zed Same' : 'zed same' } })),
];

describe('customers: search and filters', () => {
  let t: TestApp;
  let client: GraphQLClient;
  let organizationId: string;
  let other: Awaited<ReturnType<typeof signUpOrganization>>;
  const id: Record<string, string> = {};
  const keyOf = (customerId: string) => Object.entries(id).find(([, v]) => v === customerId)?.[0] ?? `other:${customerId}`;

  async function withEm<T>(fn: (em: EntityManager) => Promise<T>, org = organizationId): Promise<T> {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, org);
    return em.transactional(fn);
  }
  const summarize = (key: string, summary: Partial<PaymentSummary>) =>
    withEm((em) => t.app.get(CustomerDirectory).recordPaymentSummary(em, id[key]!, { ...NONE, ...summary }));

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-01-02T20:00:00Z');
    const signedUp = await t.gql.ok(
      `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { organization { id } } } }`,
      { i: { organizationName: 'Sunny Pools', name: 'Lee Owner', email: 'lee@sunny.test', password: 'a long password', timeZone: 'America/Los_Angeles' } },
    );
    client = t.gql.as(signedUp.signUp.accessToken);
    organizationId = signedUp.signUp.user.organization.id;
    for (const row of SEED) {
      const created = await client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: row.input });
      id[row.key] = created.createCustomer.id;
      if (row.summary) await summarize(row.key, row.summary);
      if (row.archived) await client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: id[row.key] });
    }
    // Another organization has look-alikes of everything: none of them may ever show up.
    other = await signUpOrganization(t.gql, 'Shady Pools');
    for (const name of ['Alice Martin', 'Éric Tremblay', 'Zed Same']) {
      const c = await other.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, {
        i: { name, tags: ['vip', 'pool'], phone: '+1 514 555 0101' },
      });
      await withEm(
        (em) => t.app.get(CustomerDirectory).recordPaymentSummary(em, c.createCustomer.id, { hasCard: true, hasBankAccount: true, hasConsent: true, cardExpiresOn: '2025-01-31' }),
        other.organizationId,
      );
    }
  });
  afterAll(() => t.close());

  /** Every page of `customers(filter)`, `first` at a time; checks totalCount and the page flags on the way. */
  async function list(filter: Record<string, unknown> = {}, first = 50): Promise<string[]> {
    const keys: string[] = [];
    let after: string | null = null;
    let total: number | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const res: any = await client.ok(
        `query($f: CustomerFilterInput, $first: Int, $after: String) {
           customers(filter: $f, first: $first, after: $after) {
             totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor }
           }
         }`,
        { f: filter, first, after },
      );
      const page = res.customers;
      total ??= page.totalCount;
      expect(page.totalCount).toBe(total);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(page.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(page.nodes.map((n: { id: string }) => n.id));
      keys.push(...page.nodes.map((n: { id: string }) => keyOf(n.id)));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.nodes).toHaveLength(first);
      after = page.pageInfo.endCursor;
    }
    expect(keys).toHaveLength(total!);
    return keys;
  }
  const zeds = () => Object.entries(id).filter(([k]) => k.startsWith('zed')).sort(([, a], [, b]) => (a < b ? -1 : 1)).map(([k]) => k);
  const sorted = (keys: string[]) => [...keys].sort();

  it('shows each customer in the list exactly as customer(id) does, every field; the page is the same without totalCount', async () => {
    const FIELDS = `id name email phone externalReference notes tags status marketingOptOut archivedAt createdAt updatedAt
      hasCard hasBankAccount hasConsent cardExpiresOn balanceOwed oldestUnpaidDueDate
      billingAddress { line1 line2 city region postalCode country } serviceAddresses { label address { line1 city postalCode country } }`;
    const all = { status: ['ACTIVE', 'INACTIVE', 'ARCHIVED'] };
    await withEm((em) =>
      t.app.get(CustomerDirectory).recordBalanceSummary(em, id.gus!, { balanceOwed: 12_345n, currency: 'USD', oldestUnpaidDueDate: '2025-12-01' }),
    );
    await client.ok(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { id } }`, {
      id: id.gus,
      i: {
        billingAddress: { line1: '1 Gus St', city: 'Laval', region: 'QC', postalCode: 'H7N 1A1', country: 'CA' },
        serviceAddresses: [{ label: 'Pool', address: { line1: '2 Gus St', city: 'Laval', postalCode: 'H7N 1A2', country: 'CA' } }],
      },
    });
    const page: any = (
      await client.ok(`query($f: CustomerFilterInput) { customers(filter: $f, first: 20) { totalCount nodes { ${FIELDS} } } }`, { f: all })
    ).customers;
    expect(page.nodes).toHaveLength(page.totalCount);
    // The dates, the balance summary and the addresses are among what is compared.
    expect(page.nodes.some((n: any) => n.cardExpiresOn !== null && n.archivedAt === null)).toBe(true);
    expect(page.nodes.some((n: any) => n.archivedAt !== null)).toBe(true);
    expect(page.nodes.some((n: any) => n.oldestUnpaidDueDate !== null && n.balanceOwed > 0)).toBe(true);
    expect(page.nodes.some((n: any) => n.billingAddress !== null)).toBe(true);
    for (const node of page.nodes) {
      expect(node).toEqual((await client.ok(`query($id: ID!) { customer(id: $id) { ${FIELDS} } }`, { id: node.id })).customer);
    }
    const bare: any = (
      await client.ok(`query($f: CustomerFilterInput) { customers(filter: $f, first: 3) { ...on CustomerConnection { nodes { id } pageInfo { hasNextPage endCursor } } } }`, { f: all })
    ).customers;
    expect(bare.nodes.map((n: any) => n.id)).toEqual(page.nodes.slice(0, 3).map((n: any) => n.id));
    expect(bare.pageInfo.hasNextPage).toBe(true);
  });

  it('lists active and inactive customers A to Z, case and accents folded, equal names by id; archived ones are hidden', async () => {
    expect(await list()).toEqual(['alice', 'bob', 'chloe', 'dan', 'eric', 'gus', ...zeds()]);
  });

  it('pages through the list a few at a time without duplicates or gaps', async () => {
    const whole = await list();
    for (const size of [1, 2, 3, 5]) expect(await list({}, size)).toEqual(whole);
    expect(await list({ hasCard: false }, 2)).toEqual(['chloe', 'dan', 'gus', ...zeds()]);
  });

  it('filters by status: any of those asked for', async () => {
    expect(await list({ status: ['ARCHIVED'] })).toEqual(['fay']);
    expect(await list({ status: ['INACTIVE'] })).toEqual(['gus']);
    expect(sorted(await list({ status: ['ACTIVE', 'ARCHIVED'] }))).toEqual(sorted(['alice', 'bob', 'chloe', 'dan', 'eric', 'fay', ...zeds()]));
  });

  it('finds by words of the name, email, phone (by its digits), external reference, ignoring case and accents', async () => {
    expect(await list({ text: 'martin' })).toEqual(['alice', 'bob']);
    expect(await list({ text: ' MARTIN  alice ' })).toEqual(['alice']);
    expect(await list({ text: 'eric' })).toEqual(['eric']);
    expect(await list({ text: 'CHLOÉ' })).toEqual(['chloe']);
    expect(await list({ text: 'pools.test' })).toEqual(['alice']);
    expect(await list({ text: '(514) 555-0101' })).toEqual(['alice']);
    expect(await list({ text: '020 7946 0018' })).toEqual(['eric']);
    expect(await list({ text: 'qb-2001' })).toEqual(['bob']);
    // LIKE's wildcards are plain characters in a search.
    expect(await list({ text: '_' })).toEqual(['dan']);
    expect(await list({ text: '%' })).toEqual([]);
    expect(await list({ text: 'nobody' })).toEqual([]);
    expect(await list({ text: '   ' })).toEqual(await list());
  });

  it('filters by tags (any of, any case)', async () => {
    expect(await list({ tags: ['VIP '] })).toEqual(['alice', 'chloe']);
    expect(await list({ tags: ['vip', 'pool'] })).toEqual(['alice', 'bob', 'chloe', 'eric']);
    expect(await list({ tags: ['vip'], status: ['ARCHIVED'] })).toEqual(['fay']);
    expect(await list({ tags: ['none'] })).toEqual([]);
  });

  it('filters by saved card, saved bank account and consent (yes or no)', async () => {
    expect(await list({ hasCard: true })).toEqual(['alice', 'bob', 'eric']);
    expect(await list({ hasBankAccount: true })).toEqual(['chloe', 'eric', 'gus']);
    expect(await list({ hasBankAccount: false })).toEqual(['alice', 'bob', 'dan', ...zeds()]);
    expect(await list({ hasConsent: true })).toEqual(['alice', 'chloe', 'eric']);
    expect(await list({ hasConsent: false })).toEqual(['bob', 'dan', 'gus', ...zeds()]);
  });

  it('combines filters: every condition must hold', async () => {
    expect(await list({ hasCard: true, hasConsent: true, tags: ['pool'] })).toEqual(['alice', 'eric']);
    expect(await list({ hasCard: true, hasConsent: false })).toEqual(['bob']);
    expect(await list({ text: 'martin', hasConsent: true })).toEqual(['alice']);
    expect(await list({ hasBankAccount: true, hasCard: false, status: ['ACTIVE', 'INACTIVE'] })).toEqual(['chloe', 'gus']);
    expect(await list({ tags: ['vip'], cardExpiringWithinDays: 60, status: ['ACTIVE', 'ARCHIVED'] })).toEqual(['alice', 'fay']);
  });

  it("finds cards expired or expiring within N days of today in the organization's time zone, as the clock moves", async () => {
    // Today in Los Angeles: 2026-01-02. Alice's card runs to 2026-01-31, Éric's ran out on 2025-12-31.
    expect(await list({ cardExpiringWithinDays: 0 })).toEqual(['eric']);
    expect(await list({ cardExpiringWithinDays: 28 })).toEqual(['eric']);
    expect(await list({ cardExpiringWithinDays: 29 })).toEqual(['alice', 'eric']);
    // 05:00 UTC on Jan 3 is still Jan 2 in Los Angeles: the window has not moved.
    t.clock.set('2026-01-03T05:00:00Z');
    expect(await list({ cardExpiringWithinDays: 28 })).toEqual(['eric']);
    // Its last valid day, then expired: within 0 days either way. Bob's card (June) shows within 150 days.
    t.clock.set('2026-01-31T20:00:00Z');
    expect(await list({ cardExpiringWithinDays: 0 })).toEqual(['alice', 'eric']);
    t.clock.set('2026-02-01T20:00:00Z');
    expect(await list({ cardExpiringWithinDays: 0 })).toEqual(['alice', 'eric']);
    expect(await list({ cardExpiringWithinDays: 150 })).toEqual(['alice', 'bob', 'eric']);
    t.clock.set('2026-01-02T20:00:00Z');
  });

  it('reflects what the Wallet records at once (the payment summary)', async () => {
    await summarize('bob', NONE);
    expect(await list({ hasCard: true })).toEqual(['alice', 'eric']);
    await summarize('dan', { hasCard: true, hasConsent: true, cardExpiresOn: '2026-01-15' });
    expect(await list({ hasCard: true, hasConsent: true })).toEqual(['alice', 'dan', 'eric']);
    expect(await list({ cardExpiringWithinDays: 14 })).toEqual(['dan', 'eric']);
    await summarize('dan', NONE);
    await summarize('bob', { hasCard: true, cardExpiresOn: '2026-06-30' });
    expect(await list({ hasCard: true })).toEqual(['alice', 'bob', 'eric']);
  });

  it('answers a bad filter with BAD_USER_INPUT naming the field', async () => {
    const res = await client.request(`{ customers(filter: { cardExpiringWithinDays: -1 }) { totalCount } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      fields: [{ field: 'filter.cardExpiringWithinDays', message: 'cardExpiringWithinDays must be 0 or more' }],
    });
    const long = await client.request(`query($t: String) { customers(filter: { text: $t }) { totalCount } }`, { t: 'x'.repeat(201) });
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'filter.text' }] });
    const bad = await client.request(`{ customers(filter: { status: [GONE] }) { totalCount } }`);
    expect(bad.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  describe('CustomerDirectory.findIds (mass invoicing and charging)', () => {
    const findIds = (filter: CustomerFilter, org = organizationId) => withEm((em) => t.app.get(CustomerDirectory).findIds(em, filter), org);

    it('answers the ids of every match in the order of the list, with the same filters', async () => {
      for (const filter of [{}, { hasCard: true, hasConsent: true }, { tags: ['pool', 'VIP'] }, { text: 'martin' }, { status: [] }]) {
        expect((await findIds(filter as CustomerFilter)).map(keyOf)).toEqual(await list(filter));
      }
      expect((await findIds({ cardExpiringWithinDays: 29 })).map(keyOf)).toEqual(['alice', 'eric']);
      // Another organization gets only its own.
      expect((await findIds({ text: 'alice' }, other.organizationId)).map(keyOf)).toEqual([expect.stringMatching(/^other:/)]);
    });

    it('reads in keyset batches that cover every match once', async () => {
      const batches: string[][] = [];
      await withEm(async (em) => {
        for await (const batch of t.app.get(CustomerDirectory).idBatches(em, {}, 4)) batches.push(batch);
      });
      expect(batches.map((b) => b.length)).toEqual([4, 4, 4, 1]);
      expect(batches.flat().map(keyOf)).toEqual(await list());
    });

    it('never reads without an organization in scope', async () => {
      const unscoped = t.app.get(MikroORM).em.fork();
      await expect(t.app.get(CustomerDirectory).findIds(unscoped, {})).rejects.toThrow(/tenant/);
    });

    it('checks the filter like GraphQL input', async () => {
      const error = await findIds({ cardExpiringWithinDays: -3, tags: [' '] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CustomerError);
      expect((error as CustomerError).fields.map((f) => f.field)).toEqual(['filter.tags.0', 'filter.cardExpiringWithinDays']);
    });
  });
});
