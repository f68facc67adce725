import { randomUUID } from 'node:crypto';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { domainEvent, type DeliveredEvent } from '#libs/ddd/index.js';
import {
  DeliveryStatus,
  EventHandlerRegistry,
  Outbox,
  OUTBOX_QUEUE,
  OutboxDelivery,
  OutboxDeliveryService,
  OutboxMessage,
  OutboxRelay,
} from '#libs/outbox/index.js';
import { waitForQueueIdle } from '#libs/testing/index.js';
import { signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

/** A consumer that records what it handled, and fails while told to. */
class RecordingHandler {
  handled: DeliveredEvent[] = [];
  failuresLeft = 0;

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    // Proves the handler runs inside the delivery transaction, scoped to the event's organization.
    await em.execute('select 1');
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error('downstream is down');
    }
    this.handled.push(event);
  }
}

describe('transactional outbox', () => {
  let t: TestApp;
  let orm: MikroORM;
  let outbox: Outbox;
  let relay: OutboxRelay;
  let handler: RecordingHandler;
  let organizationId: string;

  beforeAll(async () => {
    t = await startTestApp();
    orm = t.app.get(MikroORM);
    outbox = t.app.get(Outbox);
    relay = t.app.get(OutboxRelay);
    handler = new RecordingHandler();
    t.app.get(EventHandlerRegistry).register({ name: 'test.recorder', eventTypes: ['ThingHappened'] }, handler);
    organizationId = (await signUpOrganization(t.gql)).organizationId;
    await t.drainOutbox();
  });
  afterAll(() => t.close());
  beforeEach(() => {
    handler.handled = [];
    handler.failuresLeft = 0;
  });

  const record = (em: EntityManager, n: number) =>
    outbox.record(em, domainEvent('ThingHappened', organizationId, { n }));

  it('publishes an event committed with its change, and nothing for a change that rolled back', async () => {
    await orm.em.fork().transactional(async (tx) => {
      record(tx, 1);
    });
    await expect(
      orm.em.fork().transactional(async (tx) => {
        record(tx, 2);
        await tx.flush();
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');

    await t.drainOutbox();
    expect(handler.handled.map((e) => e.payload)).toEqual([{ n: 1 }]);
    expect(await orm.em.fork().count(OutboxMessage, { payload: { n: 2 } })).toBe(0);
    // The handler gets the event as it was recorded: id, type, organization, payload, and when it happened (a Date).
    const stored = await orm.em.fork().findOneOrFail(OutboxMessage, { payload: { n: 1 } });
    const [delivered] = handler.handled;
    expect(delivered).toMatchObject({ id: stored.id, type: 'ThingHappened', organizationId, payload: { n: 1 } });
    expect(delivered!.occurredAt).toBeInstanceOf(Date);
    expect(delivered!.occurredAt.getTime()).toBe(stored.occurredAt.getTime());
  });

  it('re-delivers after a relay crashed between queueing and marking published, and the handler runs once', async () => {
    const message = await orm.em.fork().transactional(async (tx) => record(tx, 3));
    // The crashed relay: it claimed and queued the event but died before marking it published.
    const claimed = await relay.claim();
    expect(claimed.map((m) => m.id)).toEqual([message.id]);
    await relay.enqueue(claimed);
    await waitForQueueIdle(t.app.get<Queue>(getQueueToken(OUTBOX_QUEUE)));
    expect(handler.handled).toHaveLength(1);

    // Its claim is still running: another relay leaves the row alone.
    expect(await relay.relayOnce()).toBe(0);
    // When the claim runs out the event is published again; the inbox makes the second delivery a no-op.
    t.clock.advance(31_000);
    expect(await relay.relayOnce()).toBe(1);
    await t.drainOutbox();
    expect(handler.handled.map((e) => e.id)).toEqual([message.id]);
    const row = await orm.em.fork().findOneOrFail(OutboxMessage, message.id);
    expect(row.publishedAt).not.toBeNull();
  });

  it('handles a duplicate delivery once', async () => {
    const message = await orm.em.fork().transactional(async (tx) => record(tx, 4));
    await t.drainOutbox();
    const deliveries = t.app.get(OutboxDeliveryService);
    const again = await deliveries.deliver({ messageId: message.id, handler: 'test.recorder' }, 1, 3);
    const [a, b] = await Promise.all([
      deliveries.deliver({ messageId: message.id, handler: 'test.recorder' }, 1, 3),
      deliveries.deliver({ messageId: message.id, handler: 'test.recorder' }, 1, 3),
    ]);
    expect([again, a, b]).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(handler.handled.filter((e) => e.id === message.id)).toHaveLength(1);
  });

  it('retries a failing handler with backoff, then dead-letters it; an ADMIN lists and replays it', async () => {
    handler.failuresLeft = 100; // poisoned: every attempt fails
    const message = await orm.em.fork().transactional(async (tx) => record(tx, 5));
    await t.drainOutbox();
    expect(handler.handled).toHaveLength(0);

    const dead = await orm.em
      .fork()
      .findOneOrFail(OutboxDelivery, { messageId: message.id }, { filters: { tenant: false } });
    expect(dead).toMatchObject({ status: DeliveryStatus.DEAD, attempts: 3, handler: 'test.recorder' });
    expect(dead.lastError).toContain('downstream is down');

    // The owner of the organization sees it over GraphQL…
    const owner = await signUpOrganization(t.gql);
    const other = await owner.client.ok(`{ deadLetters(first: 10) { totalCount } }`);
    expect(other.deadLetters.totalCount).toBe(0); // …but not another organization's.
    const session = await t.gql.ok(`mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`, {
      i: { email: await ownerEmailOf(organizationId), password: 'correct horse battery' },
    });
    const admin = t.gql.as(session.logIn.accessToken);
    const listed = await admin.ok(`{ deadLetters(first: 10) { nodes { id eventType handler attempts lastError } } }`);
    expect(listed.deadLetters.nodes).toEqual([
      expect.objectContaining({ id: dead.id, eventType: 'ThingHappened', handler: 'test.recorder', attempts: 3 }),
    ]);

    // Once the cause is fixed, a replay delivers it, exactly once.
    handler.failuresLeft = 0;
    await admin.ok(`mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: dead.id });
    await t.drainOutbox();
    expect(handler.handled.map((e) => e.id)).toEqual([message.id]);
    const after = await orm.em.fork().findOneOrFail(OutboxDelivery, dead.id, { filters: { tenant: false } });
    expect(after.status).toBe(DeliveryStatus.PROCESSED);
    const replayAgain = await admin.request(`mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: dead.id });
    expect(replayAgain.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect((await admin.ok(`{ deadLetters(first: 10) { totalCount } }`)).deadLetters.totalCount).toBe(0);
  });

  it('runs as many deliveries at once as OUTBOX_CONCURRENCY says (4 by default), and the rest after them', async () => {
    let inFlight = 0;
    let most = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const done: string[] = [];
    t.app.get(EventHandlerRegistry).register({ name: 'test.gated', eventTypes: ['GateReached'] }, {
      async handle(event: DeliveredEvent) {
        inFlight++;
        most = Math.max(most, inFlight);
        await gate;
        inFlight--;
        done.push(event.id);
      },
    });
    await orm.em.fork().transactional(async (tx) => {
      for (let n = 0; n < 6; n++) outbox.record(tx, domainEvent('GateReached', organizationId, { n }));
    });
    try {
      await relay.relayOnce();
      await waitUntil(() => most >= 4);
      await new Promise((resolve) => setTimeout(resolve, 200)); // a fifth would have started by now
      expect(most).toBe(4);
    } finally {
      open(); // whatever happened, the deliveries finish (the app cannot close with them waiting)
    }
    await waitForQueueIdle(t.app.get<Queue>(getQueueToken(OUTBOX_QUEUE)));
    expect(done).toHaveLength(6);
  });

  it('refuses to replay a dead letter that does not exist', async () => {
    const owner = await signUpOrganization(t.gql);
    const res = await owner.client.request(`mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: randomUUID() });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  async function waitUntil(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    if (!condition()) throw new Error('timed out waiting');
  }

  async function ownerEmailOf(orgId: string): Promise<string> {
    const rows = await orm.em.fork().execute<{ email: string }[]>(
      `select email from app_user where organization_id = ? and role = 'OWNER'`,
      [orgId],
    );
    return rows[0]!.email;
  }
});
