import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { MassChargeRunner } from '../src/modules/payments/application/mass-charge-runner.js';
import { ChargePacer } from '../src/modules/payments/infrastructure/charge-pacer.js';
import { MASS_CHARGE_QUEUE } from '../src/modules/payments/infrastructure/mass-charge.processor.js';
import { MassChargeProgressPubSub } from '../src/modules/payments/infrastructure/mass-charge-progress.pubsub.js';
import { MassChargePaymentSettled } from '../src/modules/payments/application/mass-charge-payment-settled.handler.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

/** Small, so that a burst of a few dozen charges has to wait for the pacer. */
const BUDGET = 10;

const BATCH = `id status amountMode amount { amount } currency amountSucceeded { amount } note total done succeeded processing failed
  skipped pending selectedByFilter createdBy startedAt finishedAt`;
const CREATE = `mutation($i: CreateMassChargeInput!) { createMassCharge(input: $i) { ${BATCH} } }`;

describe('mass charge', () => {
  let t: TestApp;
  let orm: MikroORM;
  let queue: Queue;
  let runner: MassChargeRunner;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let other: Owner;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { GATEWAY_CHARGES_PER_SECOND: String(BUDGET) } });
    orm = t.app.get(MikroORM);
    queue = t.app.get<Queue>(getQueueToken(MASS_CHARGE_QUEUE));
    runner = t.app.get(MassChargeRunner);
    owner = await signUpOrganization(t.gql, 'Lakeside Recreation');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Other Org');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await purgeQueue(queue);
    await t.close();
  });

  async function saveMethod(customerId: string, token = 'pm_card_visa', consentGiven = true): Promise<string> {
    const data = await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId, token, consentGiven },
    });
    return data.savePaymentMethod.paymentMethod.id;
  }
  async function invoice(customerId: string, unitPrice: string, paymentTermsDays = 30): Promise<string> {
    const data = await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
      i: { customerId, issue: true, paymentTermsDays, lines: [{ description: 'Fall league', quantity: '1', unitPrice }] },
    });
    return data.createInvoice.id;
  }
  /** A customer with a saved consented Visa and one open invoice of `owes`. */
  async function payer(tags: string[] = [], owes = '4500'): Promise<{ id: string; invoiceId: string }> {
    const { id } = await createCustomer(owner.client, { tags });
    await saveMethod(id);
    return { id, invoiceId: await invoice(id, owes) };
  }
  const massCharge = async (id: string, client = manager.client) => (await client.ok(`query($id: ID!) { massCharge(id: $id) { ${BATCH} } }`, { id })).massCharge;
  const items = async (id: string, status?: string[]) =>
    (
      await manager.client.ok(
        `query($id: ID!, $s: [MassChargeItemStatus!]) { massCharge(id: $id) { items(status: $s, first: 50) {
          totalCount nodes { position customerId status amount { amount } paymentMethodId paymentId invoiceIds reasonCode reason customer { id } }
        } } }`,
        { id, s: status ?? null },
      )
    ).massCharge.items;
  const invoiceState = async (id: string) => (await staff.client.ok(`query($id: ID!) { invoice(id: $id) { status amountDue { amount } } }`, { id })).invoice;

  /** Charges the sandbox gateway made per customer (every PaymentIntent it holds, matched to our payment by its metadata). */
  async function gatewayCharges(customerIds: string[]): Promise<Map<string, number>> {
    const rows = await orm.em.fork().execute<{ customer_id: string; n: number }[]>(
      `select p.customer_id, count(*)::int as n from sandbox_gateway_object g join payment p on p.id::text = g.data->'metadata'->>'paymentId'
        where g.type = 'payment_intent' and p.customer_id = any(?::uuid[]) group by p.customer_id`,
      [`{${customerIds.join(',')}}`],
    );
    return new Map(rows.map((r) => [r.customer_id, r.n]));
  }
  async function payments(customerIds: string[]): Promise<Map<string, number>> {
    const rows = await orm.em.fork().execute<{ customer_id: string; n: number }[]>(
      `select customer_id, count(*)::int as n from payment where customer_id = any(?::uuid[]) group by customer_id`,
      [`{${customerIds.join(',')}}`],
    );
    return new Map(rows.map((r) => [r.customer_id, r.n]));
  }
  const countRows = async (table: string) =>
    (await orm.em.fork().execute<{ n: number }[]>(`select count(*)::int as n from ${table} where organization_id = ?`, [owner.organizationId]))[0]!.n;
  const once = (ids: string[]) => new Map(ids.map((id) => [id, 1]));

  it('charges each customer their open balance once, pays their invoices, and skips or fails the others with reasons', async () => {
    const tag = 'fall-league';
    const paying: { id: string; invoiceId: string }[] = [];
    for (let i = 0; i < 14; i++) paying.push(await payer([tag], String(4000 + i * 100)));
    // One owes two invoices: the payment pays both, the oldest (due first) first.
    const older = await invoice(paying[0]!.id, '1500', 0);
    const noMethod = [(await createCustomer(owner.client, { tags: [tag] })).id, (await createCustomer(owner.client, { tags: [tag] })).id];
    for (const id of noMethod) await invoice(id, '3000');
    const noConsent = (await createCustomer(owner.client, { tags: [tag] })).id;
    await saveMethod(noConsent, 'pm_card_mastercard', false);
    await invoice(noConsent, '3000');
    const owesNothing = (await createCustomer(owner.client, { tags: [tag] })).id;
    await saveMethod(owesNothing);
    const expired = (await createCustomer(owner.client, { tags: [tag] })).id;
    await saveMethod(expired);
    await invoice(expired, '3000');
    await orm.em.fork().execute(`update payment_method set exp_year = 2020 where customer_id = ?`, [expired]);
    const failing = (await createCustomer(owner.client, { tags: [tag] })).id;
    await saveMethod(failing, 'pm_card_chargeCustomerFail');
    const failingInvoice = await invoice(failing, '3000');

    const created = (await manager.client.ok(CREATE, { i: { filter: { tags: [tag] }, amountMode: 'OPEN_BALANCE', note: 'Fall league fees' } })).createMassCharge;
    expect(created).toMatchObject({ total: 20, amountMode: 'OPEN_BALANCE', amount: null, selectedByFilter: true, createdBy: manager.userId, note: 'Fall league fees' });
    await waitForQueueIdle(queue, 60_000);

    const expectedCollected = paying.reduce((sum, _p, i) => sum + 4000n + BigInt(i) * 100n, 0n) + 1500n;
    const batch = await massCharge(created.id);
    expect(batch).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', total: 20, done: 20, succeeded: 14, processing: 0, failed: 1, skipped: 5, pending: 0 });
    expect(batch.amountSucceeded.amount).toBe(expectedCollected.toString());

    const report = await items(created.id, ['FAILED', 'SKIPPED']);
    const reasons = new Map(report.nodes.map((i: any) => [i.customerId, [i.status, i.reasonCode]]));
    expect(reasons).toEqual(
      new Map([
        [noMethod[0], ['SKIPPED', 'NO_DEFAULT_METHOD']],
        [noMethod[1], ['SKIPPED', 'NO_DEFAULT_METHOD']],
        [noConsent, ['SKIPPED', 'CONSENT_REQUIRED']],
        [owesNothing, ['SKIPPED', 'NOTHING_OWED']],
        [expired, ['SKIPPED', 'CARD_EXPIRED']],
        [failing, ['FAILED', expect.any(String)]],
      ]),
    );
    for (const item of report.nodes) expect(item.reason).toEqual(expect.stringMatching(/\w/));
    const failedItem = report.nodes.find((i: any) => i.customerId === failing);
    expect(failedItem.paymentId).not.toBeNull();
    expect(failedItem.reason).toMatch(/declined/i);
    expect((await invoiceState(failingInvoice)).status).toBe('OPEN');
    // Skipped customers never reached the gateway.
    expect((await gatewayCharges([...noMethod, noConsent, owesNothing, expired])).size).toBe(0);

    const succeeded = await items(created.id, ['SUCCEEDED']);
    expect(succeeded.totalCount).toBe(14);
    const first = succeeded.nodes.find((i: any) => i.customerId === paying[0]!.id);
    expect(first).toMatchObject({ amount: { amount: '5500' }, invoiceIds: [older, paying[0]!.invoiceId] });
    for (const p of paying) {
      expect(await invoiceState(p.invoiceId)).toEqual({ status: 'PAID', amountDue: { amount: '0' } });
    }
    expect(await invoiceState(older)).toMatchObject({ status: 'PAID' });
    const ids = [...paying.map((p) => p.id), failing];
    expect(await gatewayCharges(ids)).toEqual(once(ids));
    expect(await payments(ids)).toEqual(once(ids));

    // The creator is told when it is done.
    await t.drainOutbox();
    const notes = (await manager.client.ok(`{ myNotifications { nodes { title body } } }`)).myNotifications.nodes;
    expect(notes).toContainEqual({ title: 'Mass charge completed with failures', body: expect.stringMatching(/^14 of 20 customers charged \(.+\), 1 failed, 5 skipped\.$/) });
  });

  it('a mass charge killed halfway, twice, and resumed charges nobody twice', async () => {
    const paying: { id: string; invoiceId: string }[] = [];
    for (let i = 0; i < 12; i++) paying.push(await payer());
    const ids = paying.map((p) => p.id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    expect(created.status).toBe('QUEUED');

    // Killed after the 4th customer's charge went through the gateway and before its item recorded it.
    await expect(
      runner.run(owner.organizationId, created.id, {
        afterCharge: (n) => {
          if (n === 4) throw new Error('worker killed after the gateway call');
        },
      }),
    ).rejects.toThrow('worker killed after the gateway call');
    // Restarted, then killed after claiming its 3rd customer and before asking the gateway.
    await expect(
      runner.run(owner.organizationId, created.id, {
        chunkSize: 2,
        afterClaim: (n) => {
          if (n === 3) throw new Error('worker killed after the claim');
        },
      }),
    ).rejects.toThrow('worker killed after the claim');

    expect(await massCharge(created.id)).toMatchObject({ status: 'RUNNING', total: 12, succeeded: 5, done: 5, pending: 7, finishedAt: null });
    const charging = await items(created.id, ['CHARGING']);
    expect(charging.nodes.map((i: any) => i.customerId)).toEqual([ids[3], ids[6]]);
    expect(charging.nodes[0].amount).toEqual({ amount: '4500' });
    // The 4th was charged once already; the 7th not at all.
    expect((await gatewayCharges([ids[3]!, ids[6]!])).get(ids[3]!)).toBe(1);
    expect((await gatewayCharges([ids[6]!])).size).toBe(0);

    // The job was lost with the worker: staff resume it, and a new job does the rest.
    await queue.empty();
    await queue.resume(true);
    const resumed = (await manager.client.ok(`mutation($id: ID!) { resumeMassCharge(id: $id) { status pending } }`, { id: created.id })).resumeMassCharge;
    expect(resumed).toEqual({ status: 'RUNNING', pending: 7 });
    await waitForQueueIdle(queue, 60_000);

    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', total: 12, succeeded: 12, failed: 0, skipped: 0, done: 12, pending: 0 });
    expect(await gatewayCharges(ids)).toEqual(once(ids));
    expect(await payments(ids)).toEqual(once(ids));
    for (const p of paying) expect((await invoiceState(p.invoiceId)).status).toBe('PAID');
    const list = await items(created.id);
    expect(new Set(list.nodes.map((i: any) => i.paymentId)).size).toBe(12);

    // Running it again changes nothing; a finished batch cannot be resumed.
    expect(await runner.run(owner.organizationId, created.id)).toMatchObject({ succeeded: 0, status: null });
    expect(await gatewayCharges(ids)).toEqual(once(ids));
    const again = await manager.client.request(`mutation($id: ID!) { resumeMassCharge(id: $id) { id } }`, { id: created.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MASS_CHARGE_FINISHED' });
  });

  it('two workers racing on the same batch (plus the queued job) charge each customer once', async () => {
    const paying: { id: string; invoiceId: string }[] = [];
    for (let i = 0; i < 12; i++) paying.push(await payer());
    const ids = paying.map((p) => p.id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    const race = Promise.all([
      runner.run(owner.organizationId, created.id, { chunkSize: 3 }),
      runner.run(owner.organizationId, created.id, { chunkSize: 3 }),
    ]);
    await queue.resume(true);
    const runs = await race;
    await waitForQueueIdle(queue, 60_000);

    expect(runs.reduce((sum, r) => sum + r.succeeded, 0)).toBeLessThanOrEqual(12);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', total: 12, succeeded: 12, done: 12 });
    expect(await gatewayCharges(ids)).toEqual(once(ids));
    expect(await payments(ids)).toEqual(once(ids));
  });

  it('charges a FIXED amount to everyone with a consented method, on account, and refuses bad input with nothing written', async () => {
    const withInvoice = await payer();
    const { id: noInvoice } = await createCustomer(owner.client);
    await saveMethod(noInvoice);
    const ids = [withInvoice.id, noInvoice];

    const before = { batches: await countRows('mass_charge_batch'), items: await countRows('mass_charge_item') };
    const jobs = await queue.getJobCounts();
    const refused = async (input: Record<string, unknown>, code = 'BAD_USER_INPUT') => {
      const res = await manager.client.request(CREATE, { i: { customerIds: ids, amountMode: 'FIXED', amount: '2500', ...input } });
      expect(res.data).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe(code);
      return res.errors![0]!;
    };
    expect((await refused({ amount: null })).extensions!.fields).toEqual([{ field: 'amount', message: 'give the amount to charge each customer (FIXED)' }]);
    expect((await refused({ amount: '0' })).message).toMatch(/amount: must be more than zero/);
    expect((await refused({ amountMode: 'OPEN_BALANCE' })).message).toMatch(/amount: only with amountMode FIXED/);
    expect((await refused({ customerIds: null })).message).toMatch(/either a filter or customerIds/);
    expect((await refused({ customerIds: null, filter: { tags: ['nobody-has-this-tag'] } })).message).toMatch(/filter: matches no customers/);
    const theirs = await createCustomer(other.client);
    expect((await refused({ customerIds: [ids[0], theirs.id] }, 'NOT_FOUND')).extensions!.fields).toEqual([
      { field: 'customerIds.1', message: `no customer ${theirs.id} in this organization` },
    ]);
    expect({ batches: await countRows('mass_charge_batch'), items: await countRows('mass_charge_item') }).toEqual(before);
    expect(await queue.getJobCounts()).toEqual(jobs);

    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'FIXED', amount: '2500', note: 'Late fee' } })).createMassCharge;
    expect(created).toMatchObject({ amountMode: 'FIXED', amount: { amount: '2500' }, total: 2 });
    await waitForQueueIdle(queue, 60_000);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', succeeded: 2, amountSucceeded: { amount: '5000' } });
    const rows = await orm.em.fork().execute<{ customer_id: string; amount: string; purpose: string; purpose_ref_id: string; status: string }[]>(
      `select customer_id, amount::text, purpose, purpose_ref_id, status from payment where customer_id = any(?::uuid[])`,
      [`{${ids.join(',')}}`],
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toMatchObject({ amount: '2500', purpose: 'MASS_CHARGE', purpose_ref_id: created.id, status: 'SUCCEEDED' });
    // On account: the invoice is not paid by it (it waits in the reconciliation list).
    expect((await invoiceState(withInvoice.invoiceId)).status).toBe('OPEN');
    expect((await items(created.id)).nodes.map((i: any) => i.invoiceIds)).toEqual([[], []]);
  });

  it('a bank debit is PROCESSING (done, not a failure) until the bank answers; then its item follows the payment', async () => {
    const { id } = await createCustomer(owner.client);
    await saveMethod(id, await sandboxBankToken(t.url));
    const invoiceId = await invoice(id, '6000');
    const created = (await manager.client.ok(CREATE, { i: { customerIds: [id], amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    await waitForQueueIdle(queue, 60_000);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', succeeded: 0, processing: 1, done: 1, pending: 0 });
    const [item] = (await items(created.id)).nodes;
    expect(item).toMatchObject({ status: 'PROCESSING', amount: { amount: '6000' }, invoiceIds: [invoiceId] });
    expect((await invoiceState(invoiceId)).status).toBe('OPEN');

    // The bank's answer arrives days later as PaymentSucceeded (a redelivery changes nothing).
    const event = {
      id: 'evt-1',
      occurredAt: new Date(),
      type: 'PaymentSucceeded',
      organizationId: owner.organizationId,
      payload: { paymentId: item.paymentId, customerId: id, amount: { amount: '6000', currency: 'USD' }, purpose: 'MASS_CHARGE', purposeRefId: created.id, invoiceIds: [invoiceId], attempt: 1, methodLabel: 'x' },
    };
    const handler = t.app.get(MassChargePaymentSettled);
    await handler.handle(event as never);
    await handler.handle(event as never);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', succeeded: 1, processing: 0, amountSucceeded: { amount: '6000' } });
    expect((await items(created.id)).nodes[0].status).toBe('SUCCEEDED');
  });

  it('the pacer holds a burst to the budget: never more than GATEWAY_CHARGES_PER_SECOND grants in a second', async () => {
    const pacer = t.app.get(ChargePacer);
    expect(pacer.budget).toBe(BUDGET);
    const grants = await Promise.all(Array.from({ length: 2 * BUDGET + 5 }, () => pacer.acquire()));
    const perSecond = new Map<number, number>();
    for (const g of grants) perSecond.set(g.second, (perSecond.get(g.second) ?? 0) + 1);
    expect([...perSecond.values()].every((n) => n <= BUDGET)).toBe(true);
    expect(perSecond.size).toBeGreaterThanOrEqual(3);
    // Most of the burst waited for its slot.
    expect(grants.filter((g) => g.waitedMs > 0).length).toBeGreaterThanOrEqual(2 * BUDGET);
    // The pacer's own accounting in Redis agrees (and holds at least these grants: the other tests' charges too).
    const recorded = await pacer.grantsPerSecond([...perSecond.keys()]);
    for (const [second, n] of perSecond) {
      expect(recorded.get(second)).toBeGreaterThanOrEqual(n);
      expect(recorded.get(second)).toBeLessThanOrEqual(BUDGET);
    }
  });

  it('pushes progress over a subscription: the current counters, each change, and the end', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await payer()).id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;

    const events: any[] = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    let gotFirst!: () => void;
    const first = new Promise<void>((resolve) => (gotFirst = resolve));
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${manager.token}` },
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe(
      { query: `subscription($id: ID!) { massChargeProgress(batchId: $id) { batchId status total done succeeded processing failed skipped pending } }`, variables: { id: created.id } },
      {
        next: (value) => {
          events.push(value);
          gotFirst();
        },
        error: (error) => {
          events.push({ error });
          ended();
        },
        complete: () => ended(),
      },
    );
    await first;
    expect(events[0].data.massChargeProgress).toEqual({ batchId: created.id, status: 'QUEUED', total: 5, done: 0, succeeded: 0, processing: 0, failed: 0, skipped: 0, pending: 5 });
    expect(t.app.get(MassChargeProgressPubSub).listenerCount(created.id)).toBe(1);

    await queue.resume(true);
    await waitForQueueIdle(queue, 60_000);
    await end;
    const progress = events.map((e) => e.data.massChargeProgress);
    expect(progress.at(-1)).toEqual({ batchId: created.id, status: 'COMPLETED', total: 5, done: 5, succeeded: 5, processing: 0, failed: 0, skipped: 0, pending: 0 });
    expect(progress.length).toBeGreaterThanOrEqual(5);
    const done = progress.map((p) => p.done);
    expect(done).toEqual([...done].sort((x, y) => x - y));
    expect(t.app.get(MassChargeProgressPubSub).listenerCount(created.id)).toBe(0);
  });

  it("is for the roles that take payments; another organization's batch is NOT_FOUND; a cancelled one charges nobody", async () => {
    const { id: a } = await payer();
    const denied = await staff.client.request(CREATE, { i: { customerIds: [a], amountMode: 'OPEN_BALANCE' } });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await queue.pause(true);
    const created = (await owner.client.ok(CREATE, { i: { customerIds: [a], amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    expect((await staff.client.request(`query($id: ID!) { massCharge(id: $id) { id } }`, { id: created.id })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const admin = await addUser(owner.client, 'ADMIN');
    expect((await massCharge(created.id, admin.client)).id).toBe(created.id);

    for (const op of [
      `query($id: ID!) { massCharge(id: $id) { id } }`,
      `mutation($id: ID!) { resumeMassCharge(id: $id) { id } }`,
      `mutation($id: ID!) { cancelMassCharge(id: $id) { id } }`,
    ]) {
      const res = await other.client.request(op, { id: created.id });
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await other.client.request(`query { massCharge(id: "nope") { id } }`)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await other.client.ok(`{ massCharges { totalCount } }`)).massCharges.totalCount).toBe(0);
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${other.token}` },
      retryAttempts: 0,
    });
    clients.push(client);
    const result = await new Promise<any>((resolve) =>
      client.subscribe(
        { query: `subscription($id: ID!) { massChargeProgress(batchId: $id) { done } }`, variables: { id: created.id } },
        { next: resolve, error: (error) => resolve({ error }), complete: () => resolve({ complete: true }) },
      ),
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // Cancelled before its job ran: nobody is charged, and the job finds nothing to do.
    const cancelled = (await manager.client.ok(`mutation($id: ID!) { cancelMassCharge(id: $id) { status skipped done pending finishedAt } }`, { id: created.id }))
      .cancelMassCharge;
    expect(cancelled).toMatchObject({ status: 'CANCELLED', skipped: 1, done: 1, pending: 0 });
    await queue.resume(true);
    await waitForQueueIdle(queue);
    expect((await gatewayCharges([a])).size).toBe(0);
    expect((await items(created.id, ['SKIPPED'])).nodes[0]).toMatchObject({ reasonCode: 'CANCELLED' });
    const again = await manager.client.request(`mutation($id: ID!) { cancelMassCharge(id: $id) { id } }`, { id: created.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MASS_CHARGE_FINISHED' });
    expect((await manager.client.ok(`{ massCharges(first: 100) { totalCount nodes { id } } }`)).massCharges.nodes[0].id).toBe(created.id);
  });
});
