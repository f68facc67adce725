import { createClient, type Client } from 'graphql-ws';
import { jest } from '@jest/globals';
import WebSocket from 'ws';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { MassChargeRunner } from '../src/modules/payments/application/mass-charge-runner.js';
import { ChargePacer, type PaceGrant } from '../src/modules/payments/infrastructure/charge-pacer.js';
import { PaymentGateway } from '../src/infra/payment-gateway/index.js';
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
  /** Every idempotency key the gateway is asked to charge under, in order (spy.mockRestore() to stop). */
  function watchGatewayKeys() {
    const gateway = t.app.get(PaymentGateway);
    const createCharges = gateway.createCharges.bind(gateway);
    const keys: string[] = [];
    const spy = jest.spyOn(gateway, 'createCharges').mockImplementation(async (inputs) => {
      keys.push(...inputs.map((i) => i.idempotencyKey));
      return createCharges(inputs);
    });
    return { keys, spy };
  }

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

  it('a mass charge killed mid-chunk, twice (after the gateway answered, then after a claim), and resumed charges nobody twice', async () => {
    const paying: { id: string; invoiceId: string }[] = [];
    for (let i = 0; i < 12; i++) paying.push(await payer());
    const ids = paying.map((p) => p.id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    expect(created.status).toBe('QUEUED');

    // Chunks of 4: killed after the gateway charged the second chunk and before its answers were recorded.
    await expect(
      runner.run(owner.organizationId, created.id, {
        chunkSize: 4,
        afterCharge: (n) => {
          if (n === 8) throw new Error('worker killed after the gateway call');
        },
      }),
    ).rejects.toThrow('worker killed after the gateway call');
    expect(await massCharge(created.id)).toMatchObject({ status: 'RUNNING', succeeded: 4, done: 4, pending: 8 });
    expect((await items(created.id, ['CHARGING'])).nodes.map((i: any) => i.customerId)).toEqual(ids.slice(4, 8));
    // Charged at the gateway, not known here yet.
    expect(await gatewayCharges(ids.slice(0, 8))).toEqual(once(ids.slice(0, 8)));
    const pendingHere = await orm.em.fork().execute<{ n: number }[]>(
      `select count(*)::int as n from payment where status = 'PENDING' and customer_id = any(?::uuid[])`,
      [`{${ids.slice(4, 8).join(',')}}`],
    );
    expect(pendingHere[0]!.n).toBe(4);

    // Restarted with chunks of 2: it finishes the 4 left CHARGING (sent again under their keys), then is killed after
    // claiming the next chunk and before asking the gateway.
    await expect(
      runner.run(owner.organizationId, created.id, {
        chunkSize: 2,
        afterClaim: (n) => {
          if (n === 6) throw new Error('worker killed after the claim');
        },
      }),
    ).rejects.toThrow('worker killed after the claim');

    expect(await massCharge(created.id)).toMatchObject({ status: 'RUNNING', total: 12, succeeded: 8, done: 8, pending: 4, finishedAt: null });
    const charging = await items(created.id, ['CHARGING']);
    expect(charging.nodes.map((i: any) => i.customerId)).toEqual([ids[8], ids[9]]);
    expect(charging.nodes[0].amount).toEqual({ amount: '4500' });
    expect(charging.nodes[0].paymentId).not.toBeNull();
    // The first 8 were charged once (the resend got the first charge back); the 9th and 10th not at all.
    expect(await gatewayCharges(ids.slice(0, 8))).toEqual(once(ids.slice(0, 8)));
    expect((await gatewayCharges([ids[8]!, ids[9]!])).size).toBe(0);
    expect(await payments(ids.slice(0, 10))).toEqual(once(ids.slice(0, 10)));
    for (const p of paying.slice(0, 8)) expect((await invoiceState(p.invoiceId)).status).toBe('PAID');

    // The job was lost with the worker: staff resume it, and a new job does the rest.
    await queue.empty();
    await queue.resume(true);
    const resumed = (await manager.client.ok(`mutation($id: ID!) { resumeMassCharge(id: $id) { status pending } }`, { id: created.id })).resumeMassCharge;
    expect(resumed).toEqual({ status: 'RUNNING', pending: 4 });
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

  it("an item claimed without its payment (an older runner killed there) is charged as claimed; one whose consent went meanwhile fails with the reason", async () => {
    const a = await payer([], '4700');
    const b = await payer([], '4800');
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: [a.id, b.id], amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    // Claimed (4,000 of what they owe, method and invoice fixed) and never charged; then b's consent is revoked.
    await orm.em.fork().execute(
      `update mass_charge_item i set status = 'CHARGING', amount = 4000,
              payment_method_id = (select m.id from payment_method m where m.customer_id = i.customer_id and m.is_default),
              allocations = jsonb_build_array(jsonb_build_object('invoiceId', (select v.id from invoice v where v.customer_id = i.customer_id)::text, 'amount', '4000'))
        where i.batch_id = ?`,
      [created.id],
    );
    await orm.em.fork().execute(`update payment_method set consent_granted = false where customer_id = ?`, [b.id]);

    const run = await runner.run(owner.organizationId, created.id);
    expect(run).toMatchObject({ succeeded: 1, failed: 1, status: 'COMPLETED_WITH_FAILURES' });
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', succeeded: 1, failed: 1, done: 2, amountSucceeded: { amount: '4000' } });
    const byCustomer = new Map((await items(created.id)).nodes.map((i: any) => [i.customerId, i]));
    expect(byCustomer.get(a.id)).toMatchObject({ status: 'SUCCEEDED', amount: { amount: '4000' }, invoiceIds: [a.invoiceId] });
    expect(byCustomer.get(b.id)).toMatchObject({ status: 'FAILED', reasonCode: 'CONSENT_REQUIRED', paymentId: null });
    expect(await gatewayCharges([a.id, b.id])).toEqual(once([a.id]));
    // What the claim fixed was charged (not the 4,700 owed): a resumed claim asks for exactly the same.
    expect(await invoiceState(a.invoiceId)).toEqual({ status: 'PARTIALLY_PAID', amountDue: { amount: '700' } });
    expect((await invoiceState(b.invoiceId)).status).toBe('OPEN');
    await queue.resume(true);
  });

  it('two workers racing on the same batch (plus the queued job) charge each customer once', async () => {
    const paying: { id: string; invoiceId: string }[] = [];
    for (let i = 0; i < 12; i++) paying.push(await payer());
    const ids = paying.map((p) => p.id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    const { keys, spy } = watchGatewayKeys();
    let runs: Awaited<ReturnType<MassChargeRunner['run']>>[];
    try {
      const race = Promise.all([
        runner.run(owner.organizationId, created.id, { chunkSize: 3 }),
        runner.run(owner.organizationId, created.id, { chunkSize: 3 }),
      ]);
      await queue.resume(true);
      runs = await race;
      await waitForQueueIdle(queue, 60_000);
    } finally {
      spy.mockRestore();
    }
    // One run holds the batch at a time: no charge was even asked for twice.
    expect(keys).toHaveLength(12);
    expect(new Set(keys).size).toBe(12);

    expect(runs.reduce((sum, r) => sum + r.succeeded, 0)).toBeLessThanOrEqual(12);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', total: 12, succeeded: 12, done: 12 });
    expect(await gatewayCharges(ids)).toEqual(once(ids));
    expect(await payments(ids)).toEqual(once(ids));
  });

  it('a second run started while the first is between its claim and the gateway waits for it: nothing is sent twice', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await payer()).id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: ids, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    const { keys, spy } = watchGatewayKeys();
    let second: Promise<Awaited<ReturnType<MassChargeRunner['run']>>> | undefined;
    let first: Awaited<ReturnType<MassChargeRunner['run']>>;
    let late: Awaited<ReturnType<MassChargeRunner['run']>>;
    try {
      first = await runner.run(owner.organizationId, created.id, {
        chunkSize: 3,
        afterClaim: async (n) => {
          if (n !== 3) return;
          // The first chunk is CHARGING with its payments PENDING: what a killed run would leave, but this one is alive.
          second = runner.run(owner.organizationId, created.id, { chunkSize: 3 });
          await new Promise((resolve) => setTimeout(resolve, 500));
        },
      });
      late = (await second)!;
    } finally {
      spy.mockRestore();
      await queue.resume(true);
    }
    // The second run waited for the first to let go of the batch, then found nothing left to do.
    expect(first).toMatchObject({ succeeded: 6, status: 'COMPLETED' });
    expect(late).toMatchObject({ succeeded: 0, failed: 0, skipped: 0 });
    expect(keys).toHaveLength(6);
    expect(new Set(keys).size).toBe(6);
    expect(await massCharge(created.id)).toMatchObject({ status: 'COMPLETED', succeeded: 6, done: 6 });
    expect(await gatewayCharges(ids)).toEqual(once(ids));
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

  it('through a one-by-one gateway (Stripe), every charge of a chunk waits for its own pacer slot, within the budget', async () => {
    const gateway = t.app.get(PaymentGateway);
    const pacer = t.app.get(ChargePacer);
    const paying: string[] = [];
    for (let i = 0; i < 15; i++) paying.push((await payer()).id);
    await queue.pause(true);
    const created = (await manager.client.ok(CREATE, { i: { customerIds: paying, amountMode: 'OPEN_BALANCE' } })).createMassCharge;
    const requests: number[] = [];
    const grants: PaceGrant[] = [];
    const createCharges = gateway.createCharges.bind(gateway);
    const acquire = pacer.acquire.bind(pacer);
    Object.defineProperty(gateway, 'batchesCharges', { value: false, configurable: true });
    const spies = [
      jest.spyOn(gateway, 'createCharges').mockImplementation(async (inputs) => {
        requests.push(inputs.length);
        return createCharges(inputs);
      }),
      jest.spyOn(pacer, 'acquire').mockImplementation(async () => {
        const grant = await acquire();
        grants.push(grant);
        return grant;
      }),
    ];
    try {
      expect(await runner.run(owner.organizationId, created.id, { chunkSize: 15 })).toMatchObject({ succeeded: 15, status: 'COMPLETED' });
    } finally {
      for (const spy of spies) spy.mockRestore();
      Object.defineProperty(gateway, 'batchesCharges', { value: true, configurable: true });
      await queue.resume(true);
    }
    // One request per charge, each after a slot of its own: never more than the budget in a second.
    expect(requests).toEqual(Array.from({ length: 15 }, () => 1));
    expect(grants).toHaveLength(15);
    const perSecond = new Map<number, number>();
    for (const g of grants) perSecond.set(g.second, (perSecond.get(g.second) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(BUDGET);
    expect(await gatewayCharges(paying)).toEqual(once(paying));
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
