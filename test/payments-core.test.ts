import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { PaymentJanitor } from '../src/modules/payments/application/payment-janitor.js';
import { Payments } from '../src/modules/payments/application/payments.facade.js';
import { TakePayment } from '../src/modules/payments/application/take-payment.use-case.js';
import { PaymentPurpose, PaymentsError } from '../src/modules/payments/index.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { StripeTestServer } from './support/stripe-test-server.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const PAYMENT = `id customerId status amount { amount currency formatted } purpose allocations { invoiceId amount { amount } }
  methodType methodLabel brand last4 paymentMethodId attemptCount failureCode failureMessage resolution createdBy replayed`;
const TAKE = `mutation($i: TakePaymentInput!) { takePayment(input: $i) { ${PAYMENT} } }`;
const THREE_MINUTES = 3 * 60_000;

/** Issues an invoice of `unitPrice` minor units for the customer. */
async function issueInvoice(client: Owner['client'], customerId: string, unitPrice: number): Promise<{ id: string; number: string }> {
  const data = await client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number } }`, {
    i: { customerId, issue: true, lines: [{ description: 'Pool opening', quantity: '1', unitPrice: String(unitPrice) }] },
  });
  return data.createInvoice as { id: string; number: string };
}

async function saveMethod(client: Member['client'], customerId: string, token: string, consentGiven = true): Promise<string> {
  const data = await client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
    i: { customerId, token, consentGiven },
  });
  return data.savePaymentMethod.paymentMethod.id as string;
}

const usd = (amount: number) => ({ amount: String(amount), currency: 'USD' });

describe('payments core: taking a payment exactly once (sandbox gateway)', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let other: Owner;

  beforeAll(async () => {
    t = await startTestApp({ env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-payments-core-')) } });
    owner = await signUpOrganization(t.gql, 'Pinecrest Pools');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Other Pools');
  });
  afterAll(() => t.close());

  const db = () => t.app.get(MikroORM).em.fork();
  const charges = async (paymentId: string) =>
    Number(
      (
        await db().execute<{ n: string }[]>(
          `select count(*)::text as n from sandbox_gateway_object where type = 'payment_intent' and data->'metadata'->>'paymentId' = ?`,
          [paymentId],
        )
      )[0]!.n,
    );
  const outbox = async (type: string, paymentId: string) =>
    (await db().execute<{ payload: Record<string, any> }[]>(`select payload from outbox_message where type = ? and payload->>'paymentId' = ?`, [type, paymentId])).map(
      (r) => r.payload,
    );
  const paymentRows = async (customerId: string) =>
    Number((await db().execute<{ n: string }[]>(`select count(*)::text as n from payment where customer_id = ?`, [customerId]))[0]!.n);
  const invoice = async (id: string) =>
    (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status amountDue { amount } } }`, { id })).invoice as { status: string; amountDue: { amount: string } };
  const take = (client: Member['client'], input: Record<string, unknown>) => client.request(TAKE, { i: input });
  const takeOk = async (client: Member['client'], input: Record<string, unknown>) => {
    const res = await take(client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.takePayment as Record<string, any>;
  };

  it('a saved card pays two invoices: both PAID, a receipt follows, PaymentSucceeded is announced, the timeline tells it', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const a = await issueInvoice(owner.client, customer.id, 12_000);
    const b = await issueInvoice(owner.client, customer.id, 8_000);

    const paid = await takeOk(manager.client, {
      customerId: customer.id,
      paymentMethodId: card,
      amount: usd(20_000),
      invoices: [
        { invoiceId: a.id, amount: usd(12_000) },
        { invoiceId: b.id, amount: usd(8_000) },
      ],
    });
    expect(paid).toMatchObject({
      status: 'SUCCEEDED',
      amount: { amount: '20000', currency: 'USD', formatted: '$200.00' },
      purpose: 'INVOICES',
      methodType: 'CARD',
      methodLabel: 'Visa ending in 4242',
      paymentMethodId: card,
      attemptCount: 1,
      failureMessage: null,
      createdBy: manager.userId,
      replayed: false,
    });
    expect((await invoice(a.id)).status).toBe('PAID');
    expect((await invoice(b.id)).status).toBe('PAID');
    expect(await charges(paid.id)).toBe(1);
    expect(await outbox('PaymentSucceeded', paid.id)).toEqual([
      expect.objectContaining({ customerId: customer.id, purpose: 'INVOICES', invoiceIds: expect.arrayContaining([a.id, b.id]), attempt: 1 }),
    ]);

    await t.drainOutbox();
    const receipts = await owner.client.ok(`query($c: ID) { receipts(customerId: $c) { nodes { paymentId amount { amount } } } }`, { c: customer.id });
    expect(receipts.receipts.nodes).toEqual([{ paymentId: paid.id, amount: { amount: '20000' } }]);

    const detail = await owner.client.ok(
      `query($id: ID!) { payment(id: $id) { status timeline { type summary } attempts { number status gatewayChargeId finishedAt } } }`,
      { id: paid.id },
    );
    expect(detail.payment.timeline.map((e: { type: string }) => e.type)).toEqual(['CREATED', 'ATTEMPT_STARTED', 'SUCCEEDED', 'ALLOCATED']);
    expect(detail.payment.attempts).toEqual([{ number: 1, status: 'SUCCEEDED', gatewayChargeId: expect.stringMatching(/^pi_/), finishedAt: expect.any(String) }]);
  });

  it('a decline is a FAILED payment with the reason in words, not an error: PaymentFailed, an email, staff told, the invoice still open', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_chargeCustomerFail');
    const inv = await issueInvoice(owner.client, customer.id, 5_000);

    const res = await take(staff.client, { customerId: customer.id, paymentMethodId: card, amount: usd(5_000), invoices: [{ invoiceId: inv.id, amount: usd(5_000) }] });
    expect(res.errors).toBeUndefined();
    const failed = res.data!.takePayment;
    expect(failed).toMatchObject({ status: 'FAILED', failureCode: 'CARD_DECLINED', failureMessage: 'The card was declined by its bank.', resolution: 'OPEN' });
    expect((await invoice(inv.id)).status).toBe('OPEN');
    expect(await outbox('PaymentFailed', failed.id)).toEqual([
      expect.objectContaining({
        invoiceIds: [inv.id],
        failureCode: 'CARD_DECLINED',
        reason: 'The card was declined by its bank.',
        purpose: 'INVOICES',
        purposeRefId: null,
        paymentMethodId: card,
      }),
    ]);
    const messages = await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind channel } } }`, { c: customer.id });
    expect(messages.messages.nodes).toContainEqual({ kind: 'PAYMENT_FAILED', channel: 'EMAIL' });
    const inApp = await manager.client.ok(`query { myNotifications { nodes { title body } } }`);
    expect(inApp.myNotifications.nodes).toContainEqual({
      title: `Payment of $50.00 from ${customer.name} failed`,
      body: `Visa ending in 0341: The card was declined by its bank. (${inv.number})`,
    });
  });

  it('five identical requests at the same moment: one payment, one gateway charge, the others replayed; the same key for another amount is a CONFLICT', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const inv = await issueInvoice(owner.client, customer.id, 3_000);
    const input = { customerId: customer.id, paymentMethodId: card, amount: usd(3_000), invoices: [{ invoiceId: inv.id, amount: usd(3_000) }], idempotencyKey: 'tap-7781' };

    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => takeOk(manager.client, input)));
    const ids = new Set(answers.map((p) => p.id));
    expect(ids.size).toBe(1);
    expect(answers.every((p) => p.status === 'SUCCEEDED')).toBe(true);
    expect(answers.filter((p) => p.replayed)).toHaveLength(4);
    expect(await paymentRows(customer.id)).toBe(1);
    expect(await charges([...ids][0]!)).toBe(1);
    expect((await invoice(inv.id)).status).toBe('PAID');

    const again = await takeOk(manager.client, input);
    expect(again).toMatchObject({ id: [...ids][0], replayed: true, status: 'SUCCEEDED' });

    const misuse = await take(manager.client, { ...input, amount: usd(2_000), invoices: [] });
    expect(misuse.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await paymentRows(customer.id)).toBe(1);
  });

  it('without a client key, identical requests for the same invoices pay once (the key is derived from what they owe)', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const inv = await issueInvoice(owner.client, customer.id, 10_000);
    const input = { customerId: customer.id, paymentMethodId: card, amount: usd(4_000), invoices: [{ invoiceId: inv.id, amount: usd(4_000) }] };
    const [first, second] = await Promise.all([takeOk(manager.client, input), takeOk(manager.client, input)]);
    expect(first.id).toBe(second.id);
    expect(await charges(first.id)).toBe(1);
    // Later, a second legitimate payment of the same amount: the invoice owes less now, so it is a new payment.
    const later = await takeOk(manager.client, input);
    expect(later.id).not.toBe(first.id);
    expect(later.replayed).toBe(false);
    expect(await invoice(inv.id)).toEqual({ status: 'PARTIALLY_PAID', amountDue: { amount: '2000' } });
  });

  it('a crash after the gateway charged and before the local commit: the janitor settles it with exactly one charge', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const inv = await issueInvoice(owner.client, customer.id, 7_500);
    const hooks = t.app.get(TakePayment).hooks;
    hooks.afterGatewayCall = () => {
      throw new Error('simulated crash after the gateway call');
    };
    let res;
    try {
      res = await take(manager.client, { customerId: customer.id, paymentMethodId: card, amount: usd(7_500), invoices: [{ invoiceId: inv.id, amount: usd(7_500) }] });
    } finally {
      delete hooks.afterGatewayCall;
    }
    expect(res.errors).toBeDefined();
    const [row] = await db().execute<{ id: string; status: string }[]>(`select id, status from payment where customer_id = ?`, [customer.id]);
    expect(row!.status).toBe('PENDING');
    expect(await charges(row!.id)).toBe(1);
    expect((await invoice(inv.id)).status).toBe('OPEN');

    // Within the grace period the janitor leaves it alone (the charge may still be in flight).
    await t.app.get(PaymentJanitor).runOnce(t.clock.now());
    expect((await owner.client.ok(`query($id: ID!) { payment(id: $id) { status } }`, { id: row!.id })).payment.status).toBe('PENDING');

    t.clock.advance(THREE_MINUTES);
    const run = await t.app.get(PaymentJanitor).runOnce(t.clock.now());
    expect(run.settled).toBeGreaterThanOrEqual(1);
    const settled = await owner.client.ok(`query($id: ID!) { payment(id: $id) { status timeline { type } } }`, { id: row!.id });
    expect(settled.payment.status).toBe('SUCCEEDED');
    expect(await charges(row!.id)).toBe(1);
    expect((await invoice(inv.id)).status).toBe('PAID');
    // Running it again changes nothing.
    await t.app.get(PaymentJanitor).runOnce(t.clock.now());
    expect(await outbox('PaymentSucceeded', row!.id)).toHaveLength(1);
  });

  it('a one-off card with saveToWallet: charged, then in the wallet (with consent), and the customer is told', async () => {
    const customer = await createCustomer(owner.client);
    const paid = await takeOk(manager.client, { customerId: customer.id, token: 'pm_card_mastercard', saveToWallet: true, consentGiven: true, amount: usd(1_500) });
    expect(paid).toMatchObject({ status: 'SUCCEEDED', purpose: 'ON_ACCOUNT', methodLabel: 'Mastercard ending in 4444', brand: 'mastercard', last4: '4444' });
    const wallet = await owner.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id label consent { granted } } }`, { c: customer.id });
    expect(wallet.paymentMethods).toEqual([{ id: paid.paymentMethodId, label: 'Mastercard ending in 4444', consent: { granted: true } }]);
    const messages = await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind } } }`, { c: customer.id });
    expect(messages.messages.nodes).toContainEqual({ kind: 'PAYMENT_METHOD_SAVED' });
    // Nothing about the card number is stored: only the gateway's ids and brand/last 4.
    const [stored] = await db().execute<Record<string, unknown>[]>(`select * from payment where id = ?`, [paid.id]);
    expect(JSON.stringify(stored)).not.toMatch(/5555555555554444/);
  });

  it('a saved method without consent cannot be charged off-session (a job), but can be at the counter', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa', false);
    const payments = t.app.get(Payments);
    const refusal = await payments
      .charge(owner.organizationId, {
        customerId: customer.id,
        method: { paymentMethodId: card },
        amount: Money.of(1_000n, 'USD'),
        purpose: PaymentPurpose.INSTALLMENT,
        purposeRefId: null,
        idempotencyKey: `installment:test:${customer.id}`,
        offSession: true,
        createdBy: null,
      })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(PaymentsError);
    expect((refusal as PaymentsError).reason).toBe('METHOD_NOT_CHARGEABLE');
    expect((refusal as PaymentsError).message).toMatch(/not authorized charges/);
    expect(await paymentRows(customer.id)).toBe(0);

    const atCounter = await takeOk(staff.client, { customerId: customer.id, paymentMethodId: card, amount: usd(1_000) });
    expect(atCounter.status).toBe('SUCCEEDED');
  });

  it('refuses bad input naming the fields, and writes nothing', async () => {
    const customer = await createCustomer(owner.client);
    const someoneElse = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const inv = await issueInvoice(owner.client, customer.id, 2_000);
    const theirs = await issueInvoice(owner.client, someoneElse.id, 2_000);
    const fields = async (input: Record<string, unknown>) => {
      const res = await take(manager.client, { customerId: customer.id, paymentMethodId: card, ...input });
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      return ((res.errors![0]!.extensions!.fields ?? []) as { field: string; message: string }[]).map((f) => f.field);
    };
    expect(await fields({ amount: usd(5_000), invoices: [{ invoiceId: inv.id, amount: usd(2_500) }] })).toEqual(['invoices[0].amount']);
    expect(await fields({ amount: usd(2_000), invoices: [{ invoiceId: theirs.id, amount: usd(2_000) }] })).toEqual(['invoices[0].invoiceId']);
    expect(await fields({ amount: usd(0) })).toEqual(['amount']);
    expect(await fields({ amount: usd(1_000), invoices: [{ invoiceId: inv.id, amount: usd(2_000) }] })).toEqual(['invoices']);
    expect(await fields({ amount: { amount: '1000', currency: 'EUR' } })).toEqual(['amount.currency']);
    expect(await paymentRows(customer.id)).toBe(0);
    expect((await invoice(inv.id)).status).toBe('OPEN');
  });

  it('a bank debit is PROCESSING and the invoice is not paid until it clears', async () => {
    const customer = await createCustomer(owner.client);
    const bank = await saveMethod(manager.client, customer.id, await sandboxBankToken(t.url));
    const inv = await issueInvoice(owner.client, customer.id, 9_900);
    const debit = await takeOk(manager.client, { customerId: customer.id, paymentMethodId: bank, amount: usd(9_900), invoices: [{ invoiceId: inv.id, amount: usd(9_900) }] });
    expect(debit).toMatchObject({ status: 'PROCESSING', methodType: 'BANK_ACCOUNT' });
    expect(await invoice(inv.id)).toEqual({ status: 'OPEN', amountDue: { amount: '9900' } });
    expect(await outbox('PaymentProcessing', debit.id)).toHaveLength(1);
    expect(await outbox('PaymentSucceeded', debit.id)).toHaveLength(0);
  });

  it('roles: STAFF take payments and see their own; lists are for the office; another organization sees nothing', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_visa');
    const mine = await takeOk(staff.client, { customerId: customer.id, paymentMethodId: card, amount: usd(700), description: 'Job 4411' });
    const byManager = await takeOk(manager.client, { customerId: customer.id, paymentMethodId: card, amount: usd(800) });

    const list = `query($f: PaymentFilterInput) { payments(filter: $f) { totalCount nodes { id } } }`;
    expect((await staff.client.request(list)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const filtered = await manager.client.ok(list, { f: { customerId: customer.id, status: ['SUCCEEDED'], amountMin: '750' } });
    expect(filtered.payments.nodes).toEqual([{ id: byManager.id }]);

    const my = await staff.client.ok(`query($f: PaymentFilterInput) { myPayments(filter: $f) { nodes { id createdBy } } }`, { f: { customerId: customer.id } });
    expect(my.myPayments.nodes).toEqual([{ id: mine.id, createdBy: staff.userId }]);
    expect((await staff.client.ok(`query($id: ID!) { payment(id: $id) { id } }`, { id: mine.id })).payment.id).toBe(mine.id);
    expect((await staff.client.request(`query($id: ID!) { payment(id: $id) { id } }`, { id: byManager.id })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const foreign = await other.client.request(`query($id: ID!) { payment(id: $id) { id } }`, { id: mine.id });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await other.client.ok(list)).payments.totalCount).toBe(0);
    const foreignTake = await take(other.client, { customerId: customer.id, paymentMethodId: card, amount: usd(100) });
    expect(foreignTake.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await owner.client.request(`query { payment(id: "not-a-uuid") { id } }`)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('retry: a new attempt of a failed payment through the same pipeline', async () => {
    const customer = await createCustomer(owner.client);
    const card = await saveMethod(manager.client, customer.id, 'pm_card_chargeCustomerFail');
    const failed = await takeOk(manager.client, { customerId: customer.id, paymentMethodId: card, amount: usd(1_200) });
    expect(failed.status).toBe('FAILED');
    const payments = t.app.get(Payments);
    const retried = await payments.retry(owner.organizationId, failed.id, manager.userId);
    expect(retried).toMatchObject({ status: 'FAILED', attemptCount: 2 });
    const detail = await owner.client.ok(`query($id: ID!) { payment(id: $id) { attempts { number status } } }`, { id: failed.id });
    expect(detail.payment.attempts).toEqual([
      { number: 1, status: 'FAILED' },
      { number: 2, status: 'FAILED' },
    ]);
    expect(await outbox('PaymentFailed', failed.id)).toHaveLength(2);
  });
});

describe('payments core: a gateway that does not answer (Stripe adapter against the local test server)', () => {
  let server: StripeTestServer;
  let t: TestApp;
  let owner: Owner;

  beforeAll(async () => {
    server = await new StripeTestServer().start();
    t = await startTestApp({
      env: {
        PAYMENT_GATEWAY: 'stripe',
        STRIPE_SECRET_KEY: server.secretKey,
        STRIPE_API_URL: server.url,
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-payments-core-stripe-')),
      },
    });
    owner = await signUpOrganization(t.gql, 'Stripe Pools');
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  const intents = (paymentId: string) =>
    [...server.objects.values()].filter((o) => o.object === 'payment_intent' && (o as { metadata?: Record<string, string> }).metadata?.paymentId === paymentId);

  it('the charge happened but no answer got through: UNKNOWN, then the janitor asks again under the same key and it is SUCCEEDED with one charge', async () => {
    const customer = await createCustomer(owner.client);
    const data = await owner.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId: customer.id, token: 'pm_card_visa', consentGiven: true },
    });
    const card = data.savePaymentMethod.paymentMethod.id;
    const inv = await issueInvoice(owner.client, customer.id, 4_200);
    // Stripe did the work but its answer was lost; the SDK's retries (same key) never get through either.
    const only = { method: 'POST', path: '/v1/payment_intents' };
    server.failNext('lost_response', 1, only);
    server.failNext('network', 2, only);
    const res = await owner.client.ok(TAKE, {
      i: { customerId: customer.id, paymentMethodId: card, amount: usd(4_200), invoices: [{ invoiceId: inv.id, amount: usd(4_200) }] },
    });
    const payment = res.takePayment;
    const sent = server.requestsTo('POST', '/v1/payment_intents').filter((r) => r.idempotencyKey === `payment:${payment.id}:attempt:1`);
    expect(sent.map((r) => r.injected)).toEqual(['lost_response', 'network', 'network']);
    expect(payment.status).toBe('UNKNOWN');
    expect((await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status } }`, { id: inv.id })).invoice.status).toBe('OPEN');

    t.clock.advance(THREE_MINUTES);
    await t.app.get(PaymentJanitor).runOnce(t.clock.now());
    const settled = await owner.client.ok(`query($id: ID!) { payment(id: $id) { status timeline { type } attempts { status gatewayChargeId } } }`, { id: payment.id });
    expect(settled.payment.status).toBe('SUCCEEDED');
    expect(settled.payment.timeline.map((e: { type: string }) => e.type)).toEqual(['CREATED', 'ATTEMPT_STARTED', 'UNKNOWN', 'SUCCEEDED', 'ALLOCATED']);
    expect(intents(payment.id)).toHaveLength(1);
    expect((await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status } }`, { id: inv.id })).invoice.status).toBe('PAID');
  });
});
