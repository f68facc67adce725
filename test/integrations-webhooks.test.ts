import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getQueueToken } from '@nestjs/bull';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { waitForQueueIdle } from '#libs/testing/index.js';
import { AppModule, type AppModuleOptions } from '../src/app.module.js';
import { IntegrationsModule } from '../src/modules/integrations/index.js';
import { WebhookDispatcher } from '../src/modules/integrations/webhooks/application/webhook-dispatcher.js';
import { OUTBOUND_WEBHOOKS_QUEUE } from '../src/modules/integrations/webhooks/infrastructure/webhooks.queue.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

// Until the composition root imports IntegrationsModule (src/app.module.ts, the lead's), add it here; a no-op after.
const forRoot = AppModule.forRoot.bind(AppModule);
AppModule.forRoot = (options: AppModuleOptions) => {
  const root = forRoot(options);
  const wired = root.imports!.some((m) => (m as { module?: unknown }).module === IntegrationsModule);
  if (!wired) {
    root.imports!.push(
      IntegrationsModule.forRoot({ api: options.config.runsApi, worker: options.config.runsWorker, schedule: options.scheduleJobs ?? true }),
    );
  }
  return root;
};

// ---- The README's verification snippet, verbatim: what an integrator runs on their side. ----
/**
 * Verifies a Settle webhook. `rawBody` must be the exact bytes received (before any JSON parsing).
 * `header` is the Settle-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<rawBody>">`.
 */
function verifySettleSignature(secret: string, header: string, rawBody: string, toleranceSeconds = 300, nowMs = Date.now()): boolean {
  const items = header.split(',').map((part) => part.split('=', 2) as [string, string]);
  const t = Number(items.find(([k]) => k === 't')?.[1]);
  const signatures = items.filter(([k]) => k === 'v1').map(([, v]) => v);
  if (!Number.isInteger(t) || signatures.length === 0) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false; // too old (or too far ahead): a replayed request
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex'));
  return signatures.some((s) => {
    const given = Buffer.from(s);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
// ---- end of the snippet ----

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; created: string; organizationId: string; data: Record<string, any> };
}

/** A webhook receiver on 127.0.0.1: records every request; each path answers the statuses queued for it, then 200. */
class Receiver {
  readonly received: Received[] = [];
  private readonly script = new Map<string, number[]>();
  private server!: Server;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body, json: JSON.parse(body) });
        const status = this.script.get(path)?.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `boom ${'x'.repeat(5000)}` : 'ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answer(path: string, ...statuses: number[]): void {
    this.script.set(path, statuses);
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;

const ENDPOINT = 'id url description eventTypes enabled secretHint secretRotatedAt disabledAt';
const DELIVERY = `id endpointId eventId eventType status attemptCount nextAttemptAt deliveredAt lastStatusCode lastError body
  attempts { number statusCode responseBody error durationMs replay startedAt }`;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('integrations: signed outbound webhooks', () => {
  let t: TestApp;
  let receiver: Receiver;
  let queue: Queue;
  let dispatcher: WebhookDispatcher;
  let owner: Owner;
  let paths = 0;

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
    t = await startTestApp();
    t.clock.set('2026-03-10T15:00:00Z');
    queue = t.app.get<Queue>(getQueueToken(OUTBOUND_WEBHOOKS_QUEUE));
    dispatcher = t.app.get(WebhookDispatcher);
    owner = await signUpOrganization(t.gql, 'Lakeside Pools');
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  const newPath = () => `/hooks/${++paths}`;
  const createEndpoint = async (org: Owner, eventTypes: string[], path = newPath()) => {
    const data = await org.client.ok<{ createWebhookEndpoint: { secret: string; endpoint: Record<string, any> } }>(
      `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { ${ENDPOINT} } } }`,
      { i: { url: receiver.base + path, eventTypes, description: 'ERP' } },
    );
    return { ...data.createWebhookEndpoint.endpoint, secret: data.createWebhookEndpoint.secret, path } as Record<string, any> & {
      id: string;
      secret: string;
      path: string;
    };
  };
  const issueInvoice = async (org: Owner) => {
    const customer = await createCustomer(org.client);
    const data = await org.client.ok<{ createInvoice: { id: string; number: string } }>(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number } }`,
      { i: { customerId: customer.id, lines: [{ description: 'Pool opening', quantity: '1', unitPrice: '15000' }], issue: true } },
    );
    return data.createInvoice;
  };
  /** Publishes the events and waits until the sends they queued have run. */
  const deliver = async () => {
    await t.drainOutbox();
    await waitForQueueIdle(queue);
  };
  const deliveries = async (org: Owner, endpointId: string, status?: string) =>
    (
      await org.client.ok<{ webhookDeliveries: { totalCount: number; nodes: Record<string, any>[] } }>(
        `query($e: ID!, $s: WebhookDeliveryStatus) { webhookDeliveries(endpointId: $e, status: $s) { totalCount nodes { ${DELIVERY} } } }`,
        { e: endpointId, s: status ?? null },
      )
    ).webhookDeliveries;
  const validSignature = (r: Received, secret: string) =>
    verifySettleSignature(secret, String(r.headers['settle-signature']), r.body, 300, t.clock.now().getTime());

  it('an issued invoice reaches a subscribed endpoint once, signed, with the event id in the body and the header', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.*']);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(endpoint).toMatchObject({ enabled: true, eventTypes: ['invoice.*'], secretHint: `whsec_…${endpoint.secret.slice(-4)}` });

    const invoice = await issueInvoice(owner);
    await deliver();
    await deliver(); // the outbox relaying again changes nothing

    const got = receiver.at(endpoint.path);
    expect(got).toHaveLength(1);
    const [request] = got;
    expect(validSignature(request!, endpoint.secret)).toBe(true);
    expect(validSignature(request!, 'whsec_someone_else')).toBe(false);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['settle-event-id']).toBe(request!.json.id);
    expect(request!.json).toMatchObject({
      type: 'invoice.issued',
      organizationId: owner.organizationId,
      created: '2026-03-10T15:00:00.000Z',
      data: { invoiceId: invoice.id, number: invoice.number, total: { amount: '15000', currency: 'USD' } },
    });

    const list = await deliveries(owner, endpoint.id);
    expect(list.totalCount).toBe(1);
    expect(list.nodes[0]).toMatchObject({
      eventId: request!.json.id,
      eventType: 'invoice.issued',
      status: 'DELIVERED',
      attemptCount: 1,
      lastStatusCode: 200,
      body: request!.body,
      attempts: [{ number: 1, statusCode: 200, responseBody: 'ok', error: null, replay: false }],
    });
    // A signature more than 5 minutes old is refused by the snippet (a replayed request).
    t.clock.advance(6 * MINUTE);
    expect(validSignature(request!, endpoint.secret)).toBe(false);
  });

  it('a 500 is retried with backoff by the clock: the same event arrives again, and every attempt is recorded', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.issued']);
    receiver.answer(endpoint.path, 500);
    await issueInvoice(owner);
    await deliver();

    let [delivery] = (await deliveries(owner, endpoint.id)).nodes;
    expect(delivery).toMatchObject({ status: 'PENDING', attemptCount: 1, lastStatusCode: 500, lastError: 'The endpoint answered 500' });
    expect(delivery!.attempts[0].responseBody).toHaveLength(2048); // the first 2 KB of the answer
    expect(new Date(delivery!.nextAttemptAt).getTime()).toBe(t.clock.now().getTime() + MINUTE);

    expect(await dispatcher.dispatchAllDue()).toBe(0); // not due yet
    t.clock.advance(MINUTE);
    expect(await dispatcher.dispatchAllDue()).toBe(1);

    const got = receiver.at(endpoint.path);
    expect(got).toHaveLength(2);
    expect(got[1]!.json.id).toBe(got[0]!.json.id);
    expect(got[1]!.body).toBe(got[0]!.body);
    expect(got.every((r) => validSignature(r, endpoint.secret))).toBe(true);
    [delivery] = (await deliveries(owner, endpoint.id)).nodes;
    expect(delivery).toMatchObject({ status: 'DELIVERED', attemptCount: 2, lastStatusCode: 200, nextAttemptAt: null });
    expect(delivery!.attempts.map((a: any) => a.statusCode)).toEqual([500, 200]);
  });

  it('gives up 3 days after the first attempt: FAILED after 10 attempts, the last one at the 3-day mark', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.*']);
    receiver.answer(endpoint.path, ...Array(20).fill(503));
    const first = t.clock.now().getTime();
    await issueInvoice(owner);
    await deliver();
    for (let i = 0; i < 20; i++) {
      const [d] = (await deliveries(owner, endpoint.id)).nodes;
      if (d!.status !== 'PENDING') break;
      t.clock.set(new Date(d!.nextAttemptAt));
      await dispatcher.dispatchAllDue();
    }
    const [failed] = (await deliveries(owner, endpoint.id)).nodes;
    expect(failed).toMatchObject({ status: 'FAILED', attemptCount: 10, nextAttemptAt: null, lastStatusCode: 503 });
    const offsets = failed!.attempts.map((a: any) => (new Date(a.startedAt).getTime() - first) / MINUTE);
    expect(offsets).toEqual([0, 1, 6, 36, 156, 516, 1236, 2676, 4116, 4320]);
    expect(receiver.at(endpoint.path)).toHaveLength(10);
    expect((await deliveries(owner, endpoint.id, 'FAILED')).totalCount).toBe(1);
    expect((await deliveries(owner, endpoint.id, 'DELIVERED')).totalCount).toBe(0);
  });

  it('an ADMIN replays a delivery: the same event id and body again, recorded as a replay', async () => {
    const admin = await addUser(owner.client, 'ADMIN');
    const endpoint = await createEndpoint(owner, ['invoice.issued']);
    await issueInvoice(owner);
    await deliver();
    const [delivery] = (await deliveries(owner, endpoint.id)).nodes;
    const replayed = await admin.client.ok<{ replayWebhookDelivery: { id: string; status: string } }>(
      `mutation($id: ID!) { replayWebhookDelivery(id: $id) { id status } }`,
      { id: delivery!.id },
    );
    expect(replayed.replayWebhookDelivery).toEqual({ id: delivery!.id, status: 'PENDING' });
    await waitForQueueIdle(queue);

    const got = receiver.at(endpoint.path);
    expect(got).toHaveLength(2);
    expect(got[1]!.json.id).toBe(got[0]!.json.id);
    expect(got[1]!.body).toBe(got[0]!.body);
    expect(validSignature(got[1]!, endpoint.secret)).toBe(true);
    const [after] = (await deliveries(owner, endpoint.id)).nodes;
    expect(after).toMatchObject({ status: 'DELIVERED', attemptCount: 2 });
    expect(after!.attempts.map((a: any) => a.replay)).toEqual([false, true]);
  });

  it('a rotated secret signs from then on; the old one no longer verifies, and only its hint is shown afterwards', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.*']);
    const rotated = await owner.client.ok<{ rotateWebhookSecret: { secret: string; endpoint: { secretHint: string } } }>(
      `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { secretHint } } }`,
      { id: endpoint.id },
    );
    const secret = rotated.rotateWebhookSecret.secret;
    expect(secret).not.toBe(endpoint.secret);
    expect(rotated.rotateWebhookSecret.endpoint.secretHint).toBe(`whsec_…${secret.slice(-4)}`);
    await issueInvoice(owner);
    await deliver();
    const [request] = receiver.at(endpoint.path);
    expect(validSignature(request!, secret)).toBe(true);
    expect(validSignature(request!, endpoint.secret)).toBe(false);

    const shown = await owner.client.ok<{ webhookEndpoint: Record<string, unknown> }>(`query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`, { id: endpoint.id });
    expect(JSON.stringify(shown)).not.toContain(secret);
    const noSecretField = await owner.client.request(`query($id: ID!) { webhookEndpoint(id: $id) { secret } }`, { id: endpoint.id });
    expect(noSecretField.errors?.[0]?.message).toMatch(/Cannot query field "secret"/);
    // Stored encrypted: the secret itself is nowhere in the table.
    const rows = await t.app.get(MikroORM).em.fork().execute('select * from webhook_endpoint where id = ?', [endpoint.id]);
    expect(JSON.stringify(rows)).not.toContain(secret.slice(6));
  });

  it('a disabled endpoint receives nothing, and what it had waiting for a retry is skipped', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.*']);
    receiver.answer(endpoint.path, 500);
    await issueInvoice(owner);
    await deliver();
    expect(receiver.at(endpoint.path)).toHaveLength(1);

    const disabled = await owner.client.ok<{ disableWebhookEndpoint: { enabled: boolean; disabledAt: string } }>(
      `mutation($id: ID!) { disableWebhookEndpoint(id: $id) { enabled disabledAt } }`,
      { id: endpoint.id },
    );
    expect(disabled.disableWebhookEndpoint.enabled).toBe(false);
    await issueInvoice(owner);
    await deliver();
    t.clock.advance(HOUR);
    await dispatcher.dispatchAllDue();
    expect(receiver.at(endpoint.path)).toHaveLength(1);
    const list = await deliveries(owner, endpoint.id);
    expect(list.nodes.map((d) => d.status)).toEqual(['SKIPPED']);
    const refused = await owner.client.request(`mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id: list.nodes[0]!.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'WEBHOOK_ENDPOINT_DISABLED' });

    // Enabled again: new events arrive, and the skipped one can be replayed.
    await owner.client.ok(`mutation($id: ID!) { enableWebhookEndpoint(id: $id) { enabled } }`, { id: endpoint.id });
    await owner.client.ok(`mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id: list.nodes[0]!.id });
    await issueInvoice(owner);
    await deliver();
    expect(receiver.at(endpoint.path)).toHaveLength(3);
  });

  it('endpoints receive only the event types they chose', async () => {
    const payments = await createEndpoint(owner, ['payment.*', 'agreement.*']);
    const voided = await createEndpoint(owner, ['invoice.voided']);
    const invoice = await issueInvoice(owner);
    await deliver();
    expect(receiver.at(payments.path)).toHaveLength(0);
    expect(receiver.at(voided.path)).toHaveLength(0);

    await owner.client.ok(`mutation($id: ID!) { voidInvoice(id: $id, reason: "Entered twice") { id } }`, { id: invoice.id });
    await deliver();
    expect(receiver.at(payments.path)).toHaveLength(0);
    expect(receiver.at(voided.path).map((r) => [r.json.type, r.json.data.invoiceId])).toEqual([['invoice.voided', invoice.id]]);

    // Changing the subscription takes effect from the next event.
    await owner.client.ok(`mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { eventTypes: ["invoice.issued"] }) { id } }`, { id: payments.id });
    await issueInvoice(owner);
    await deliver();
    expect(receiver.at(payments.path).map((r) => r.json.type)).toEqual(['invoice.issued']);
  });

  it("another organization's endpoints never receive this organization's events, and its records are NOT_FOUND", async () => {
    const other = await signUpOrganization(t.gql, 'Other Org');
    const theirs = await createEndpoint(other, ['invoice.*', 'payment.*']);
    const mine = await createEndpoint(owner, ['invoice.*']);
    await issueInvoice(owner);
    await deliver();
    expect(receiver.at(theirs.path)).toHaveLength(0);
    expect(receiver.at(mine.path)).toHaveLength(1);
    const [delivery] = (await deliveries(owner, mine.id)).nodes;

    const ops: [string, Record<string, unknown>][] = [
      [`query($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id: mine.id }],
      [`query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount } }`, { id: mine.id }],
      [`mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: "x" }) { id } }`, { id: mine.id }],
      [`mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id: mine.id }],
      [`mutation($id: ID!) { enableWebhookEndpoint(id: $id) { id } }`, { id: mine.id }],
      [`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: mine.id }],
      [`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, { id: mine.id }],
      [`mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id: delivery!.id }],
      [`query($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id: 'not-a-uuid' }],
    ];
    for (const [query, vars] of ops) {
      const res = await other.client.request(query, vars);
      expect([query, res.errors?.[0]?.extensions?.code]).toEqual([query, 'NOT_FOUND']);
    }
    expect((await other.client.ok<{ webhookEndpoints: { id: string }[] }>(`{ webhookEndpoints { id } }`)).webhookEndpoints.map((e) => e.id)).toEqual([
      theirs.id,
    ]);
    // Nothing of ours changed.
    const still = await owner.client.ok<{ webhookEndpoint: { enabled: boolean; description: string } }>(
      `query($id: ID!) { webhookEndpoint(id: $id) { enabled description } }`,
      { id: mine.id },
    );
    expect(still.webhookEndpoint).toEqual({ enabled: true, description: 'ERP' });
  });

  it('refuses URLs that are not https (except localhost outside production) and unknown event types, naming each field', async () => {
    const res = await owner.client.request(`mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, {
      i: { url: 'http://erp.example.com/hooks', eventTypes: ['invoice.*', 'invoices.*', 'payment.exploded'] },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((res.errors![0]!.extensions!.fields as { field: string }[]).map((f) => f.field)).toEqual([
      'input.url',
      'input.eventTypes.1',
      'input.eventTypes.2',
    ]);
    for (const url of ['ftp://example.com/x', 'https://user:pw@example.com/x', 'not a url']) {
      const r = await owner.client.request(`mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, {
        i: { url, eventTypes: ['invoice.*'] },
      });
      expect([url, r.errors?.[0]?.extensions?.fields]).toEqual([url, [expect.objectContaining({ field: 'input.url' })]]);
    }
    const empty = await owner.client.request(`mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }`, {
      i: { url: 'https://erp.example.com/hooks', eventTypes: [] },
    });
    expect(empty.errors?.[0]?.extensions?.fields).toEqual([expect.objectContaining({ field: 'input.eventTypes' })]);
    const types = await owner.client.ok<{ webhookEventTypes: string[] }>(`{ webhookEventTypes }`);
    expect(types.webhookEventTypes).toEqual(expect.arrayContaining(['invoice.issued', 'payment.succeeded', 'agreement.status_changed']));
  });

  it('OWNER and ADMIN manage endpoints; a PAYMENT_MANAGER may only read them; STAFF may not see them', async () => {
    const endpoint = await createEndpoint(owner, ['invoice.*']);
    const manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    const staff = await addUser(owner.client, 'STAFF');
    const read = `query($id: ID!) { webhookEndpoint(id: $id) { id } webhookDeliveries(endpointId: $id) { totalCount } }`;
    expect((await manager.client.ok<{ webhookEndpoint: { id: string } }>(read, { id: endpoint.id })).webhookEndpoint.id).toBe(endpoint.id);
    const create = `mutation { createWebhookEndpoint(input: { url: "https://erp.example.com/h", eventTypes: ["invoice.*"] }) { secret } }`;
    expect((await manager.client.request(create)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await manager.client.request(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: endpoint.id })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await staff.client.request(read, { id: endpoint.id })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await owner.client.ok(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, { id: endpoint.id });
    expect((await owner.client.request(read, { id: endpoint.id })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
