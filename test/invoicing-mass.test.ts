import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { MassInvoiceRunner } from '../src/modules/invoicing/application/mass-invoice-runner.js';
import { MASS_INVOICE_QUEUE } from '../src/modules/invoicing/infrastructure/mass-invoice.processor.js';
import { MassInvoiceProgressPubSub } from '../src/modules/invoicing/infrastructure/mass-invoice-progress.pubsub.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const LINES = [
  { description: 'Summer camp registration fee', quantity: '1', unitPrice: '5000', taxRate: '8.875' },
  { description: 'T-shirt', quantity: '2', unitPrice: '1250' },
];
/** 5000 + round(5000 × 8.875%) = 5000 + 444 (443.75 half up), plus 2 × 1250. */
const TOTAL = '7944';

const BATCH = `id status issue total done invoiced failed skipped pending selectedByFilter createdBy startedAt finishedAt
  currency lines { description quantity unitPrice { amount } taxRate } billedRef { type label } memo`;

const CREATE = `mutation($i: CreateMassInvoiceInput!) { createMassInvoice(input: $i) { ${BATCH} } }`;

describe('mass invoicing', () => {
  let t: TestApp;
  let orm: MikroORM;
  let queue: Queue;
  let runner: MassInvoiceRunner;
  let owner: Owner;
  let staff: Member;
  let other: Owner;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    orm = t.app.get(MikroORM);
    queue = t.app.get<Queue>(getQueueToken(MASS_INVOICE_QUEUE));
    runner = t.app.get(MassInvoiceRunner);
    owner = await signUpOrganization(t.gql, 'Lakeside Recreation');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Other Org');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await purgeQueue(queue);
    await t.close();
  });

  const customers = async (n: number, overrides: Record<string, unknown> = {}) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await createCustomer(owner.client, { name: `Camper ${String(i).padStart(2, '0')}`, ...overrides })).id);
    return ids;
  };
  const massInvoice = async (id: string, client = owner.client) =>
    (await client.ok(`query($id: ID!) { massInvoice(id: $id) { ${BATCH} } }`, { id })).massInvoice;
  const items = async (id: string, status?: string[]) =>
    (
      await owner.client.ok(
        `query($id: ID!, $s: [MassInvoiceItemStatus!]) { massInvoice(id: $id) { items(status: $s, first: 40) {
          totalCount nodes { position customerId status invoiceId errorCode error customer { id name } invoice { id number status total { amount } customerId } }
        } } }`,
        { id, s: status ?? null },
      )
    ).massInvoice.items;
  /** Invoices per customer, straight from the database: the number that must be exactly one. */
  const invoicesPerCustomer = async (ids: string[]) => {
    const rows = await orm.em.fork().execute<{ customer_id: string; n: number }[]>(
      `select customer_id, count(*)::int as n from invoice where customer_id = any(?::uuid[]) group by customer_id`,
      [`{${ids.join(',')}}`],
    );
    return new Map(rows.map((r) => [r.customer_id, r.n]));
  };
  const countRows = async (table: string) =>
    (await orm.em.fork().execute<{ n: number }[]>(`select count(*)::int as n from ${table} where organization_id = ?`, [owner.organizationId]))[0]!.n;

  it('invoices every customer a filter matches, once each, in list order, and issues the invoices', async () => {
    const tagged = await customers(30, { tags: ['summer-camp'] });
    await customers(3, { tags: ['winter-league'] });

    const created = (
      await staff.client.ok(CREATE, {
        i: { filter: { tags: ['summer-camp'] }, lines: LINES, issue: true, memo: 'See you at the lake', billedRef: { type: 'NONE', label: 'Summer 2026' } },
      })
    ).createMassInvoice;
    expect(created).toMatchObject({ total: 30, issue: true, selectedByFilter: true, createdBy: staff.userId, pending: 30 });
    expect(['QUEUED', 'RUNNING', 'COMPLETED']).toContain(created.status);
    await waitForQueueIdle(queue);

    const batch = await massInvoice(created.id);
    expect(batch).toMatchObject({ status: 'COMPLETED', total: 30, done: 30, invoiced: 30, failed: 0, skipped: 0, pending: 0 });
    expect(batch.startedAt).not.toBeNull();
    expect(batch.finishedAt).not.toBeNull();

    const list = await items(created.id);
    expect(list.totalCount).toBe(30);
    // The selection is the customers list for that filter, in its order.
    const shown = (await owner.client.ok(`{ customers(filter: { tags: ["summer-camp"] }, first: 100) { nodes { id } } }`)).customers.nodes.map(
      (c: { id: string }) => c.id,
    );
    expect(list.nodes.map((i: { customerId: string }) => i.customerId)).toEqual(shown);
    expect(new Set(shown)).toEqual(new Set(tagged));
    for (const item of list.nodes) {
      expect(item).toMatchObject({ status: 'INVOICED', errorCode: null, invoice: { status: 'OPEN', total: { amount: TOTAL }, customerId: item.customerId } });
      expect(item.invoice.number).toMatch(/^INV-\d{6}$/);
    }
    expect(new Set(list.nodes.map((i: any) => i.invoice.number)).size).toBe(30);

    const perCustomer = await invoicesPerCustomer(tagged);
    expect([...perCustomer.values()]).toEqual(Array(30).fill(1));
    const invoice = (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { memo billedRef { label } lines { description } } }`, { id: list.nodes[0].invoiceId }))
      .invoice;
    expect(invoice).toEqual({ memo: 'See you at the lake', billedRef: { label: 'Summer 2026' }, lines: [{ description: LINES[0]!.description }, { description: 'T-shirt' }] });

    // The creator is told when it is done.
    await t.drainOutbox();
    const note = (await staff.client.ok(`{ myNotifications { nodes { title body } } }`)).myNotifications.nodes;
    expect(note).toContainEqual({ title: 'Mass invoice completed', body: '30 of 30 customers invoiced.' });
  });

  it('invoices an explicit list as drafts, skips an archived customer with the reason, and reports it', async () => {
    const ids = await customers(5);
    await owner.client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: ids[2] });
    const created = (await staff.client.ok(CREATE, { i: { customerIds: [...ids, ids[0]], lines: LINES, issue: false } })).createMassInvoice;
    expect(created).toMatchObject({ total: 5, selectedByFilter: false });
    await waitForQueueIdle(queue);

    expect(await massInvoice(created.id)).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', total: 5, done: 5, invoiced: 4, skipped: 1, failed: 0 });
    const report = await items(created.id, ['FAILED', 'SKIPPED']);
    expect(report.totalCount).toBe(1);
    expect(report.nodes[0]).toMatchObject({ customerId: ids[2], status: 'SKIPPED', errorCode: 'CUSTOMER_ARCHIVED', invoice: null });
    expect(report.nodes[0].error).toMatch(/archived/);
    const invoiced = await items(created.id, ['INVOICED']);
    expect(invoiced.nodes.map((i: any) => i.customerId)).toEqual([ids[0], ids[1], ids[3], ids[4]]);
    expect(invoiced.nodes.map((i: any) => i.invoice.status)).toEqual(['DRAFT', 'DRAFT', 'DRAFT', 'DRAFT']);
    expect(invoiced.nodes.map((i: any) => i.invoice.number)).toEqual([null, null, null, null]);
  });

  it('refuses bad lines and a bad selection with nothing written and no job', async () => {
    const [a] = await customers(1);
    const before = { batches: await countRows('mass_invoice_batch'), items: await countRows('mass_invoice_item'), invoices: await countRows('invoice') };
    const jobs = await queue.getJobCounts();

    const refused = async (input: Record<string, unknown>, code = 'BAD_USER_INPUT') => {
      const res = await staff.client.request(CREATE, { i: { lines: LINES, issue: true, customerIds: [a], ...input } });
      expect(res.data).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe(code);
      return res.errors![0]!;
    };
    const bad = await refused({
      lines: [
        { description: '  ', quantity: '0', unitPrice: '100' },
        { description: 'Ok', quantity: '1', unitPrice: '100', taxRate: '150' },
      ],
    });
    expect(bad.extensions!.fields.map((f: { field: string }) => f.field)).toEqual(['lines.0.description', 'lines.0.quantity', 'lines.1.taxRate']);
    expect(bad.message).toMatch(/lines\.0\.quantity: must be more than 0/);
    expect((await refused({ lines: [{ description: 'Refund', quantity: '1', unitPrice: '-100' }] })).message).toMatch(/lines: .*more than zero/);
    expect((await refused({ lines: [] })).message).toMatch(/lines/);
    expect((await refused({ dueDate: '2000-01-01' })).message).toMatch(/dueDate: 2000-01-01 is before today/);
    expect((await refused({ customerIds: [a, '00000000-0000-4000-8000-000000000000'] }, 'NOT_FOUND')).extensions!.fields).toEqual([
      { field: 'customerIds.1', message: 'no customer 00000000-0000-4000-8000-000000000000 in this organization' },
    ]);
    // Another organization's customer does not exist here either.
    const theirs = await createCustomer(other.client);
    expect((await refused({ customerIds: [theirs.id] }, 'NOT_FOUND')).extensions!.fields[0].field).toBe('customerIds.0');
    expect((await refused({ customerIds: null, filter: { tags: ['nobody-has-this-tag'] } })).message).toMatch(/filter: matches no customers/);
    expect((await refused({ filter: { tags: ['summer-camp'] } })).message).toMatch(/either a filter or customerIds/);
    expect((await refused({ customerIds: null })).message).toMatch(/either a filter or customerIds/);

    expect({ batches: await countRows('mass_invoice_batch'), items: await countRows('mass_invoice_item'), invoices: await countRows('invoice') }).toEqual(before);
    expect(await queue.getJobCounts()).toEqual(jobs);
  });

  it('a mass invoice job killed halfway and restarted yields exactly one invoice per customer', async () => {
    const ids = await customers(30, { tags: ['fall-league'] });
    // The worker of this process is held, so the test plays the worker that dies.
    await queue.pause(true);
    const created = (await staff.client.ok(CREATE, { i: { filter: { tags: ['fall-league'] }, lines: LINES, issue: true } })).createMassInvoice;
    expect(created.status).toBe('QUEUED');

    // Killed inside the 5th customer's transaction, after its invoice was created: that invoice rolls back with it.
    await expect(
      runner.run(owner.organizationId, created.id, {
        beforeCommit: (n) => {
          if (n === 5) throw new Error('worker killed mid-transaction');
        },
      }),
    ).rejects.toThrow('worker killed mid-transaction');
    // Restarted, then killed between customers after 12 more.
    await expect(
      runner.run(owner.organizationId, created.id, {
        chunkSize: 7,
        afterItem: (n) => {
          if (n === 12) throw new Error('worker killed');
        },
      }),
    ).rejects.toThrow('worker killed');

    const halfway = await massInvoice(created.id);
    expect(halfway).toMatchObject({ status: 'RUNNING', total: 30, invoiced: 16, done: 16, pending: 14, finishedAt: null });
    expect((await items(created.id, ['PENDING'])).totalCount).toBe(14);
    expect([...(await invoicesPerCustomer(ids)).values()]).toEqual(Array(16).fill(1));

    // The job was lost with the worker (e.g. Redis flushed): staff resume it, and a new job does the rest.
    await queue.empty();
    await queue.resume(true);
    const resumed = (await staff.client.ok(`mutation($id: ID!) { resumeMassInvoice(id: $id) { status pending } }`, { id: created.id })).resumeMassInvoice;
    expect(resumed).toEqual({ status: 'RUNNING', pending: 14 });
    await waitForQueueIdle(queue);

    expect(await massInvoice(created.id)).toMatchObject({ status: 'COMPLETED', total: 30, invoiced: 30, failed: 0, skipped: 0, done: 30, pending: 0 });
    const perCustomer = await invoicesPerCustomer(ids);
    expect(perCustomer.size).toBe(30);
    expect([...perCustomer.values()]).toEqual(Array(30).fill(1));
    const list = await items(created.id);
    expect(new Set(list.nodes.map((i: any) => i.invoiceId)).size).toBe(30);
    expect(list.nodes.every((i: any) => i.status === 'INVOICED' && i.invoice.customerId === i.customerId)).toBe(true);

    // Running it again changes nothing.
    expect(await runner.run(owner.organizationId, created.id)).toMatchObject({ invoiced: 0, status: null });
    expect([...(await invoicesPerCustomer(ids)).values()]).toEqual(Array(30).fill(1));
    await expect(staff.client.ok(`mutation($id: ID!) { resumeMassInvoice(id: $id) { id } }`, { id: created.id })).rejects.toThrow('MASS_INVOICE_FINISHED');
  });

  it('two workers racing on the same batch (plus the queued job) still invoice each customer once', async () => {
    const ids = await customers(24);
    await queue.pause(true);
    const created = (await staff.client.ok(CREATE, { i: { customerIds: ids, lines: LINES, issue: true } })).createMassInvoice;
    const race = Promise.all([
      runner.run(owner.organizationId, created.id, { chunkSize: 5 }),
      runner.run(owner.organizationId, created.id, { chunkSize: 5 }),
    ]);
    await queue.resume(true);
    const runs = await race;
    await waitForQueueIdle(queue);

    expect(runs.reduce((sum, r) => sum + r.invoiced, 0)).toBeLessThanOrEqual(24);
    expect(await massInvoice(created.id)).toMatchObject({ status: 'COMPLETED', total: 24, invoiced: 24, done: 24 });
    const perCustomer = await invoicesPerCustomer(ids);
    expect(perCustomer.size).toBe(24);
    expect([...perCustomer.values()]).toEqual(Array(24).fill(1));
    // Invoice numbers stay gap-free and unique under the race.
    const numbers = (await orm.em.fork().execute<{ seq: string }[]>(`select sequence::text as seq from invoice where organization_id = ? and sequence is not null order by sequence`, [owner.organizationId])).map((r) => Number(r.seq));
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  it('pushes progress over a subscription: the current counters, each change, and the end', async () => {
    const ids = await customers(8);
    await queue.pause(true);
    const created = (await staff.client.ok(CREATE, { i: { customerIds: ids, lines: LINES, issue: true } })).createMassInvoice;

    const events: any[] = [];
    let completed!: () => void;
    const ended = new Promise<void>((resolve) => (completed = resolve));
    let first!: () => void;
    const gotFirst = new Promise<void>((resolve) => (first = resolve));
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${staff.token}` },
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe(
      { query: `subscription($id: ID!) { massInvoiceProgress(batchId: $id) { batchId status total done invoiced failed skipped pending } }`, variables: { id: created.id } },
      {
        next: (value) => {
          events.push(value);
          first();
        },
        error: (error) => {
          events.push({ error });
          completed();
        },
        complete: () => completed(),
      },
    );
    await gotFirst;
    expect(events[0].data.massInvoiceProgress).toEqual({ batchId: created.id, status: 'QUEUED', total: 8, done: 0, invoiced: 0, failed: 0, skipped: 0, pending: 8 });
    expect(t.app.get(MassInvoiceProgressPubSub).listenerCount(created.id)).toBe(1);

    await queue.resume(true);
    await waitForQueueIdle(queue);
    await ended;
    const progress = events.map((e) => e.data.massInvoiceProgress);
    expect(progress.at(-1)).toEqual({ batchId: created.id, status: 'COMPLETED', total: 8, done: 8, invoiced: 8, failed: 0, skipped: 0, pending: 0 });
    // Pushed as it went (one per customer for a small batch), never going backwards.
    expect(progress.length).toBeGreaterThanOrEqual(8);
    const done = progress.map((p) => p.done);
    expect(done).toEqual([...done].sort((x, y) => x - y));
    expect(t.app.get(MassInvoiceProgressPubSub).listenerCount(created.id)).toBe(0);
  });

  it("another organization's batch is NOT_FOUND, over HTTP and the subscription", async () => {
    const [a] = await customers(1);
    await queue.pause(true);
    const created = (await owner.client.ok(CREATE, { i: { customerIds: [a], lines: LINES, issue: false } })).createMassInvoice;
    for (const op of [
      `query($id: ID!) { massInvoice(id: $id) { id } }`,
      `mutation($id: ID!) { resumeMassInvoice(id: $id) { id } }`,
      `mutation($id: ID!) { cancelMassInvoice(id: $id) { id } }`,
    ]) {
      const res = await other.client.request(op, { id: created.id });
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await other.client.request(`query { massInvoice(id: "nope") { id } }`)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const theirList = (await other.client.ok(`{ massInvoices { totalCount } }`)).massInvoices;
    expect(theirList.totalCount).toBe(0);

    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${other.token}` },
      retryAttempts: 0,
    });
    clients.push(client);
    const result = await new Promise<any>((resolve) =>
      client.subscribe(
        { query: `subscription($id: ID!) { massInvoiceProgress(batchId: $id) { done } }`, variables: { id: created.id } },
        { next: resolve, error: (error) => resolve({ error }), complete: () => resolve({ complete: true }) },
      ),
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // Cancelled before its job ran: nobody is invoiced, and the job finds nothing to do.
    const cancelled = (await owner.client.ok(`mutation($id: ID!) { cancelMassInvoice(id: $id) { status skipped done pending finishedAt } }`, { id: created.id }))
      .cancelMassInvoice;
    expect(cancelled).toMatchObject({ status: 'CANCELLED', skipped: 1, done: 1, pending: 0 });
    await queue.resume(true);
    await waitForQueueIdle(queue);
    expect((await invoicesPerCustomer([a!])).size).toBe(0);
    expect((await items(created.id, ['SKIPPED'])).nodes[0]).toMatchObject({ errorCode: 'CANCELLED' });
    const again = await owner.client.request(`mutation($id: ID!) { cancelMassInvoice(id: $id) { id } }`, { id: created.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MASS_INVOICE_FINISHED' });
    expect((await owner.client.ok(`{ massInvoices(first: 100) { totalCount nodes { id } } }`)).massInvoices.nodes[0].id).toBe(created.id);
  });
});
