import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { getIntrospectionQuery, type IntrospectionQuery, type IntrospectionInputValue, type IntrospectionType } from 'graphql';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof signUpOrganization>>;
interface Victim {
  org: Org;
  staffUserId: string;
  deadLetterId: string;
  notificationId: string;
  messageId: string;
  customerId: string;
}

/**
 * For every query and mutation that takes an id: organization A's OWNER asks for organization B's record and gets
 * NOT_FOUND, and B's record is unchanged. A new id-taking operation without a case here fails the last test.
 */
const CASES: Record<string, (a: Org, b: Victim) => Promise<{ errors?: { extensions?: Record<string, unknown> }[] }>> = {
  user: (a, b) => a.client.request(`query($id: ID!) { user(id: $id) { email } }`, { id: b.staffUserId }),
  disableUser: (a, b) => a.client.request(`mutation($id: ID!) { disableUser(userId: $id) { status } }`, { id: b.staffUserId }),
  changeUserRole: (a, b) =>
    a.client.request(`mutation($i: ChangeUserRoleInput!) { changeUserRole(input: $i) { role } }`, {
      i: { userId: b.staffUserId, role: 'ADMIN' },
    }),
  replayDeadLetter: (a, b) =>
    a.client.request(`mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: b.deadLetterId }),
  markNotificationRead: (a, b) =>
    a.client.request(`mutation($id: ID!) { markNotificationRead(id: $id) { id } }`, { id: b.notificationId }),
  resendMessage: (a, b) => a.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id: b.messageId }),
};

/**
 * Lists whose optional id argument is a filter, not a lookup: with another organization's id they answer an empty
 * page (not NOT_FOUND: a customer of one's own with no rows yet looks the same), and never one of its rows.
 */
const FILTERS: Record<string, (a: Org, b: Victim) => Promise<{ totalCount: number; nodes: unknown[] }>> = {
  messages: async (a, b) =>
    (await a.client.ok(`query($id: ID) { messages(customerId: $id) { totalCount nodes { id } } }`, { id: b.customerId })).messages,
};

describe('tenancy: one organization never reaches another one\'s records', () => {
  let t: TestApp;
  let a: Org;
  let b: Victim;

  beforeAll(async () => {
    t = await startTestApp();
    a = await signUpOrganization(t.gql, 'Org A');
    const orgB = await signUpOrganization(t.gql, 'Org B');
    const staff = await addUser(orgB.client, 'STAFF');
    const deadLetterId = randomUUID();
    await t.app.get(MikroORM).em.fork().execute(
      `insert into outbox_delivery (id, message_id, handler, event_type, organization_id, status, attempts, last_error, updated_at)
       values (?, ?, 'some.handler', 'SomethingHappened', ?, 'DEAD', 3, 'boom', now())`,
      [deadLetterId, randomUUID(), orgB.organizationId],
    );
    // B's OWNER is told that the STAFF user joined (an in-app notification), and B has a FAILED message.
    await t.drainOutbox();
    const notificationId = (await orgB.client.ok(`{ myNotifications(first: 1) { nodes { id } } }`)).myNotifications.nodes[0].id;
    const messageId = randomUUID();
    const customerId = randomUUID();
    await t.app.get(MikroORM).em.fork().execute(
      `insert into message (id, organization_id, created_at, updated_at, dedupe_key, kind, channel, recipient, recipient_name,
                            sender_name, customer_id, text, status, attempts, next_attempt_at, last_error)
       values (?, ?, now(), now(), 'receipt:1', 'RECEIPT', 'EMAIL', 'pat@example.com', 'Pat', 'Org B', ?, 'Thanks', 'FAILED', 8, now(), 'boom')`,
      [messageId, orgB.organizationId, customerId],
    );
    b = { org: orgB, staffUserId: staff.userId, deadLetterId, notificationId, messageId, customerId };
  });
  afterAll(() => t.close());

  it.each(Object.keys(CASES))('%s with another organization\'s id answers NOT_FOUND', async (operation) => {
    const res = await CASES[operation]!(a, b);
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it.each(Object.keys(FILTERS))('%s filtered by another organization\'s id finds none of its rows', async (operation) => {
    expect(await FILTERS[operation]!(a, b)).toEqual({ totalCount: 0, nodes: [] });
  });

  it('left the other organization\'s records as they were', async () => {
    const seen = await b.org.client.ok(`query($id: ID!) { user(id: $id) { role status } }`, { id: b.staffUserId });
    expect(seen.user).toEqual({ role: 'STAFF', status: 'ACTIVE' });
    const dead = await b.org.client.ok(`{ deadLetters(first: 5) { nodes { id } } }`);
    expect(dead.deadLetters.nodes).toEqual([{ id: b.deadLetterId }]);
    const notifications = await b.org.client.ok(`{ myNotifications(first: 5) { nodes { id readAt } } }`);
    expect(notifications.myNotifications.nodes).toEqual([{ id: b.notificationId, readAt: null }]);
    const messages = await b.org.client.ok(`query($id: ID) { messages(customerId: $id) { nodes { id status attempts } } }`, {
      id: b.customerId,
    });
    expect(messages.messages.nodes).toEqual([{ id: b.messageId, status: 'FAILED', attempts: 8 }]);
  });

  it('lists only the organization\'s own rows', async () => {
    const list = await a.client.ok(`{ users(first: 50) { totalCount nodes { id } } }`);
    expect(list.users.totalCount).toBe(1);
    expect(list.users.nodes).toEqual([{ id: a.userId }]);
    expect((await a.client.ok(`{ deadLetters(first: 5) { totalCount } }`)).deadLetters.totalCount).toBe(0);
  });

  it('has a case for every query and mutation that takes an id', async () => {
    const schema = (await t.gql.ok<IntrospectionQuery>(getIntrospectionQuery())) as IntrospectionQuery;
    const types = new Map(schema.__schema.types.map((ty) => [ty.name, ty]));
    const takesId = (args: readonly IntrospectionInputValue[], seen = new Set<string>()): boolean =>
      args.some((arg) => {
        let ref: { kind: string; name?: string | null; ofType?: unknown } = arg.type;
        while (ref.ofType) ref = ref.ofType as typeof ref;
        if (ref.name === 'ID') return true;
        const input = ref.name ? (types.get(ref.name) as IntrospectionType | undefined) : undefined;
        if (input?.kind !== 'INPUT_OBJECT' || seen.has(input.name)) return false;
        return takesId(input.inputFields, new Set([...seen, input.name]));
      });
    const idOperations = ['Query', 'Mutation'].flatMap((root) => {
      const type = types.get(root);
      return type && 'fields' in type ? type.fields.filter((f) => takesId(f.args)).map((f) => f.name) : [];
    });
    expect(idOperations.length).toBeGreaterThan(0);
    expect(idOperations.filter((name) => !(name in CASES) && !(name in FILTERS))).toEqual([]);
  });
});
