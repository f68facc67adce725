import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Notifications, type NotifyStaffCommand } from '../src/modules/notifications/index.js';
import { NotificationPubSub } from '../src/modules/notifications/infrastructure/notification-pubsub.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

type Event =
  | { type: 'next'; value: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, any> }[] } }
  | { type: 'error'; error: any }
  | { type: 'complete' };

/** What one subscription received, in order; `next()` waits (bounded) for the next event. */
class Received {
  private readonly events: Event[] = [];
  private waiter?: () => void;

  push(event: Event): void {
    this.events.push(event);
    this.waiter?.();
  }

  async next(timeoutMs = 5_000): Promise<Event> {
    if (!this.events.length) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
    return this.events.shift()!;
  }

  get pending(): Event[] {
    return [...this.events];
  }
}

const NOTIFICATION_RECEIVED = `subscription { notificationReceived { id title body link readAt createdAt } }`;

describe('in-app notifications', () => {
  let t: TestApp;
  let pubsub: NotificationPubSub;
  let owner: Owner;
  let staff: Member;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    pubsub = t.app.get(NotificationPubSub);
    owner = await signUpOrganization(t.gql, 'Harbor HVAC');
    staff = await addUser(owner.client, 'STAFF');
    await t.drainOutbox();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t.close();
  });

  const wsClient = (connectionParams: Record<string, unknown> = {}): Client => {
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams,
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };
  const subscribe = (client: Client, query = NOTIFICATION_RECEIVED): Received => {
    const received = new Received();
    client.subscribe(
      { query },
      {
        next: (value) => received.push({ type: 'next', value: value as Extract<Event, { type: 'next' }>['value'] }),
        error: (error) => received.push({ type: 'error', error }),
        complete: () => received.push({ type: 'complete' }),
      },
    );
    return received;
  };
  /** Subscribes as this user and waits until the server holds the subscription (graphql-ws does not acknowledge it). */
  const subscribeAs = async (user: { token: string; userId: string }): Promise<Received> => {
    const received = subscribe(wsClient({ authorization: `Bearer ${user.token}` }));
    await pubsub.whenSubscribed(user.userId);
    return received;
  };
  /** notifyStaff as a module would call it: in a transaction scoped to the organization, then the outbox drained. */
  const notifyStaff = async (organizationId: string, cmd: NotifyStaffCommand) => {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, organizationId);
    const created = await em.transactional((tx) => t.app.get(Notifications).notifyStaff(tx, cmd));
    await t.drainOutbox();
    return created;
  };
  const myNotifications = async (client: Owner['client'], args = '') =>
    (
      await client.ok(`{ myNotifications${args} {
        totalCount
        nodes { id title body readAt }
        edges { cursor }
        pageInfo { hasNextPage hasPreviousPage endCursor }
      } }`)
    ).myNotifications;

  it('pushes "<email> joined" to a subscribed OWNER when an invited user accepts, and nothing to a STAFF user', async () => {
    const ownerFeed = await subscribeAs(owner);
    const staffFeed = await subscribeAs(staff);

    const admin = await addUser(owner.client, 'ADMIN');
    await t.drainOutbox();

    const event = await ownerFeed.next();
    expect(event.type).toBe('next');
    const pushed = (event as Extract<Event, { type: 'next' }>).value;
    expect(pushed.errors).toBeUndefined();
    expect(pushed.data?.notificationReceived).toMatchObject({
      title: `${admin.email} joined`,
      body: expect.stringContaining('joined your organization as ADMIN'),
      link: null,
      readAt: null,
    });
    expect(new Date(pushed.data?.notificationReceived.createdAt).getTime()).not.toBeNaN();
    // What was pushed is what myNotifications lists.
    const listed = await myNotifications(owner.client, '(first: 1)');
    expect(listed.nodes[0]).toMatchObject({ id: pushed.data?.notificationReceived.id, title: `${admin.email} joined` });

    // The STAFF user's feed is ordered like Redis: the first thing it receives is its own notification, not the OWNER's.
    await notifyStaff(owner.organizationId, { dedupeKey: 'test:staff-ping', userIds: [staff.userId], title: 'For staff', body: 'Only yours' });
    const staffEvent = await staffFeed.next();
    expect(staffEvent).toMatchObject({ type: 'next', value: { data: { notificationReceived: { title: 'For staff' } } } });
    expect(staffFeed.pending).toEqual([]);
    expect(ownerFeed.pending).toEqual([]);

    // The ADMIN who joined is not told about themselves; STAFF are not told at all.
    expect((await myNotifications(admin.client)).totalCount).toBe(0);
    expect((await myNotifications(staff.client)).nodes.map((n: { title: string }) => n.title)).toEqual(['For staff']);
  });

  it('refuses a subscription without a token (closed with 4401) and one with an invalid token (UNAUTHENTICATED)', async () => {
    const anonymous = await subscribe(wsClient()).next();
    expect(anonymous.type).toBe('error');
    expect((anonymous as Extract<Event, { type: 'error' }>).error).toMatchObject({ code: 4401 });
    expect(String((anonymous as Extract<Event, { type: 'error' }>).error.reason)).toContain('UNAUTHENTICATED');

    for (const token of ['garbage', owner.refreshToken]) {
      const feed = subscribe(wsClient({ authorization: `Bearer ${token}` }));
      const refused = await feed.next();
      expect(refused).toMatchObject({ type: 'next', value: { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] } });
      expect((refused as Extract<Event, { type: 'next' }>).value.data ?? null).toBeNull();
      expect(JSON.stringify(refused)).not.toMatch(/stacktrace|\.ts:\d+/);
      expect(await feed.next()).toEqual({ type: 'complete' });
    }
  });

  it('serves only subscriptions over WebSocket: queries and mutations go over HTTP', async () => {
    const feed = subscribe(wsClient({ authorization: `Bearer ${owner.token}` }), `{ myNotifications { totalCount } }`);
    const refused = await feed.next();
    expect(refused.type).toBe('error');
    expect((refused as Extract<Event, { type: 'error' }>).error).toEqual([
      expect.objectContaining({ message: expect.stringContaining('Only subscriptions'), extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
  });

  it('lists unread first, then newest first, pages through them without gaps or repeats, and counts the unread', async () => {
    const org = await signUpOrganization(t.gql, 'Paging Plumbing');
    const base = Date.now() - 60_000;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [n] = await notifyStaff(org.organizationId, { dedupeKey: `test:page-${i}`, userIds: [org.userId], title: `N${i}`, body: `number ${i}` });
      ids.push(n!.id);
    }
    // Give them distinct ages: N0 oldest ... N5 newest. Then read N1 and N4.
    for (const [i, id] of ids.entries()) {
      await t.app.get(MikroORM).em.fork().execute('update in_app_notification set created_at = ? where id = ?', [new Date(base + i * 1_000), id]);
    }
    for (const i of [1, 4]) {
      const read = await org.client.ok(`mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }`, { id: ids[i] });
      expect(read.markNotificationRead.readAt).not.toBeNull();
    }

    const titles: string[] = [];
    const pages: { hasNextPage: boolean; hasPreviousPage: boolean; totalCount: number }[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 6; guard++) {
      const page: Record<string, any> = (
        await org.client.ok(
          `query($after: String) { myNotifications(first: 4, after: $after) {
            totalCount nodes { title } pageInfo { hasNextPage hasPreviousPage endCursor } } }`,
          { after },
        )
      ).myNotifications;
      titles.push(...page.nodes.map((n: { title: string }) => n.title));
      pages.push({ hasNextPage: page.pageInfo.hasNextPage, hasPreviousPage: page.pageInfo.hasPreviousPage, totalCount: page.totalCount });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(titles).toEqual(['N5', 'N3', 'N2', 'N0', 'N4', 'N1']);
    expect(pages).toEqual([
      { hasNextPage: true, hasPreviousPage: false, totalCount: 6 },
      { hasNextPage: false, hasPreviousPage: true, totalCount: 6 },
    ]);

    // Page boundary exactly between the unread and the read ones.
    const unread = await myNotifications(org.client, '(first: 4)');
    expect(unread.nodes.map((n: { title: string }) => n.title)).toEqual(['N5', 'N3', 'N2', 'N0']);
    expect(unread.pageInfo.hasNextPage).toBe(true);
    const read = await myNotifications(org.client, `(first: 4, after: "${unread.pageInfo.endCursor}")`);
    expect(read.nodes.map((n: { title: string }) => n.title)).toEqual(['N4', 'N1']);

    const onlyUnread = await myNotifications(org.client, '(first: 3, unreadOnly: true)');
    expect(onlyUnread.nodes.map((n: { title: string }) => n.title)).toEqual(['N5', 'N3', 'N2']);
    expect(onlyUnread.totalCount).toBe(4);
    const rest = await myNotifications(org.client, `(first: 3, unreadOnly: true, after: "${onlyUnread.pageInfo.endCursor}")`);
    expect(rest.nodes.map((n: { title: string }) => n.title)).toEqual(['N0']);
    expect(rest.pageInfo.hasNextPage).toBe(false);

    expect((await org.client.ok(`{ unreadNotificationCount }`)).unreadNotificationCount).toBe(4);

    const bad = await org.client.request(`{ myNotifications(after: "not-a-cursor") { totalCount } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
  });

  it("answers NOT_FOUND for another user's notification, same organization or not, and leaves it unread", async () => {
    const [mine] = await notifyStaff(owner.organizationId, { dedupeKey: 'test:owner-only', userIds: [owner.userId], title: 'Owner only', body: 'x' });
    const colleague = await addUser(owner.client, 'ADMIN');
    const stranger = await signUpOrganization(t.gql, 'Elsewhere');
    for (const client of [colleague.client, staff.client, stranger.client]) {
      const res = await client.request(`mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }`, { id: mine!.id });
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(res.data ?? null).toBeNull();
    }
    const malformed = await owner.client.request(`mutation { markNotificationRead(id: "nope") { id } }`);
    expect(malformed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const listed = await myNotifications(owner.client, '(first: 50)');
    expect(listed.nodes.find((n: { id: string }) => n.id === mine!.id)).toMatchObject({ readAt: null });
    expect((await myNotifications(colleague.client)).nodes.find((n: { id: string }) => n.id === mine!.id)).toBeUndefined();

    // The recipient can; a second time changes nothing.
    const first = await owner.client.ok(`mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }`, { id: mine!.id });
    const again = await owner.client.ok(`mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }`, { id: mine!.id });
    expect(again.markNotificationRead.readAt).toBe(first.markNotificationRead.readAt);
  });

  it("marks all of the caller's notifications read, and nobody else's", async () => {
    const org = await signUpOrganization(t.gql, 'Mark All Masonry');
    const admin = await addUser(org.client, 'ADMIN');
    await t.drainOutbox(); // the OWNER is told that the ADMIN joined
    await notifyStaff(org.organizationId, { dedupeKey: 'test:all-1', userIds: [org.userId, admin.userId], title: 'One', body: '1' });
    await notifyStaff(org.organizationId, { dedupeKey: 'test:all-2', userIds: [org.userId, admin.userId], title: 'Two', body: '2' });
    const count = async (client: Owner['client']) => (await client.ok(`{ unreadNotificationCount }`)).unreadNotificationCount;
    expect(await count(org.client)).toBe(3);
    expect(await count(admin.client)).toBe(2);

    expect((await admin.client.ok(`mutation { markAllNotificationsRead }`)).markAllNotificationsRead).toBe(2);
    expect(await count(admin.client)).toBe(0);
    expect(await count(org.client)).toBe(3);
    expect((await admin.client.ok(`mutation { markAllNotificationsRead }`)).markAllNotificationsRead).toBe(0);

    expect((await org.client.ok(`mutation { markAllNotificationsRead }`)).markAllNotificationsRead).toBe(3);
    const all = await myNotifications(org.client);
    expect(all.nodes.every((n: { readAt: string | null }) => n.readAt !== null)).toBe(true);
  });

  it('needs a signed-in user for every in-app operation', async () => {
    for (const query of [
      `{ myNotifications { totalCount } }`,
      `{ unreadNotificationCount }`,
      `mutation { markAllNotificationsRead }`,
      `mutation { markNotificationRead(id: "${owner.userId}") { id } }`,
    ]) {
      expect((await t.gql.request(query)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('in-app notifications: shutdown', () => {
  it('closes the application with a subscriber connected: the socket is closed and the subscription released', async () => {
    const t = await startTestApp();
    const owner = await signUpOrganization(t.gql);
    const pubsub = t.app.get(NotificationPubSub);
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${owner.token}` },
      retryAttempts: 0,
    });
    const received = new Received();
    client.subscribe(
      { query: NOTIFICATION_RECEIVED },
      {
        next: (value) => received.push({ type: 'next', value: value as Extract<Event, { type: 'next' }>['value'] }),
        error: (error) => received.push({ type: 'error', error }),
        complete: () => received.push({ type: 'complete' }),
      },
    );
    try {
      await pubsub.whenSubscribed(owner.userId);
      expect(pubsub.listenerCount(owner.userId)).toBe(1);
    } finally {
      await t.close();
    }
    expect(await received.next()).toMatchObject({ type: 'error', error: { code: 1001 } });
    expect(pubsub.listenerCount(owner.userId)).toBe(0);
    await client.dispose();
  });
});
