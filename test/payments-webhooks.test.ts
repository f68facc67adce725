import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { MikroORM } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import { Money } from '#libs/money/index.js';
import { AppConfig } from '../src/config/index.js';
import { PaymentGateway, SandboxGateway } from '../src/infra/payment-gateway/index.js';
import { Payments } from '../src/modules/payments/application/payments.facade.js';
import { PaymentPurpose } from '../src/modules/payments/index.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { StripeTestServer } from './support/stripe-test-server.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

/**
 * POST /webhooks/payments, against both gateways: the sandbox (its own signing secret, derived from JWT_SECRET) and
 * the Stripe adapter (the real SDK's constructEvent with STRIPE_WEBHOOK_SECRET; events signed with the SDK's
 * generateTestHeaderString; charges re-read from the local Stripe test server). Events are built the way Stripe
 * sends them: `{ id: evt_…, type, created, data: { object: <PaymentIntent> } }` with the Stripe-Signature header.
 */

interface Harness {
  t: TestApp;
  secret: string;
  /** A bank account saved with consent, as this gateway's own collection makes them. */
  bankToken(): Promise<string>;
  /** The bank answers the processing debit (sandbox: the clock passes the settle time). */
  settle(chargeId: string): Promise<void>;
  /** The next read of this charge fails as the gateway would (Stripe: 500s; sandbox: an error). */
  failNextRead(chargeId: string): void;
  close(): Promise<void>;
}

async function sandboxHarness(): Promise<Harness> {
  const t = await startTestApp();
  const gateway = t.app.get(PaymentGateway) as SandboxGateway;
  return {
    t,
    secret: gateway.webhookSecret(),
    bankToken: () => sandboxBankToken(t.url),
    async settle() {
      t.clock.advance((t.app.get(AppConfig).sandboxGateway.debitSettleSeconds + 1) * 1000);
    },
    failNextRead(_chargeId) {
      jest.spyOn(gateway, 'getCharge').mockRejectedValueOnce(new Error('the sandbox database went away'));
    },
    close: () => t.close(),
  };
}

async function stripeHarness(): Promise<Harness> {
  const server = await new StripeTestServer().start();
  const secret = `whsec_${randomBytes(24).toString('hex')}`;
  const t = await startTestApp({
    env: { PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: server.secretKey, STRIPE_API_URL: server.url, STRIPE_WEBHOOK_SECRET: secret },
  });
  return {
    t,
    secret,
    bankToken: async () => 'pm_usBankAccount_success',
    async settle(chargeId) {
      server.settlePaymentIntent(chargeId, 'succeeded');
    },
    failNextRead(chargeId) {
      // More 500s than the SDK's automatic retries.
      server.failNext(500, 3, { method: 'GET', path: `/v1/payment_intents/${chargeId}` });
    },
    async close() {
      await t.close();
      await server.stop();
    },
  };
}

describe.each([
  ['sandbox', sandboxHarness],
  ['stripe', stripeHarness],
] as const)('payment webhooks: %s', (_name, makeHarness) => {
  let h: Harness;
  let t: TestApp;
  let owner: Awaited<ReturnType<typeof signUpOrganization>>;
  let manager: Awaited<ReturnType<typeof addUser>>;

  beforeAll(async () => {
    h = await makeHarness();
    t = h.t;
    owner = await signUpOrganization(t.gql, 'Lakeside Lawns');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
  });
  afterAll(() => h.close());
  afterEach(() => jest.restoreAllMocks());

  const db = () => t.app.get(MikroORM).em.fork();
  const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

  /** A PROCESSING bank debit paying a fresh invoice; returns the payment, its charge and the invoice. */
  async function processingDebit(amount = '12000') {
    const customer = await createCustomer(owner.client);
    const saved = await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId: customer.id, token: await h.bankToken(), consentGiven: true },
    });
    const invoiceId = (
      await owner.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId: customer.id, issue: true, lines: [{ description: 'Lawn care', unitPrice: amount, quantity: '1' }] },
      })
    ).createInvoice.id as string;
    const money = Money.of(BigInt(amount), 'USD');
    const payment = await t.app.get(Payments).charge(owner.organizationId, {
      customerId: customer.id,
      method: { paymentMethodId: saved.savePaymentMethod.paymentMethod.id },
      amount: money,
      purpose: PaymentPurpose.INVOICES,
      allocations: [{ invoiceId, amount: money }],
      offSession: false,
      createdBy: manager.userId,
    });
    expect(payment.status).toBe('PROCESSING');
    const chargeId = (await db().execute<{ gateway_charge_id: string }[]>(`select gateway_charge_id from payment where id = ?`, [payment.id]))[0]!.gateway_charge_id;
    return { paymentId: payment.id, chargeId, invoiceId, amount };
  }

  /** A Stripe event about a charge, with what the event saw then (which may be older than the truth). */
  function event(type: string, chargeId: string, status: string, amount = '12000', id = `evt_${randomBytes(12).toString('hex')}`): string {
    return JSON.stringify({
      id,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: seconds(t.clock.now()),
      livemode: false,
      type,
      data: { object: { id: chargeId, object: 'payment_intent', amount: Number(amount), currency: 'usd', status, payment_method: 'pm_whatever', created: seconds(t.clock.now()) } },
    });
  }

  const sign = (payload: string, at = t.clock.now()) => Stripe.webhooks.generateTestHeaderString({ payload, secret: h.secret, timestamp: seconds(at) });

  async function post(body: string, signature: string | null = sign(body)) {
    const res = await fetch(`${t.url}/webhooks/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
      body,
    });
    const text = await res.text();
    expect(text).not.toMatch(/\n\s+at /); // never a stack trace
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  const status = async (paymentId: string) =>
    (await db().execute<{ status: string }[]>(`select status from payment where id = ?`, [paymentId]))[0]!.status;
  const outbox = async (type: string, paymentId: string) =>
    Number(
      (await db().execute<{ n: string }[]>(`select count(*)::text as n from outbox_message where type = ? and payload->>'paymentId' = ?`, [type, paymentId]))[0]!.n,
    );
  const inbox = async (eventId: string) =>
    (await db().execute<{ outcome: string; attempts: number; payment_id: string | null }[]>(`select outcome, attempts, payment_id from webhook_event where event_id = ?`, [eventId]))[0];
  const invoiceStatus = async (id: string) => (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status } }`, { id })).invoice.status;

  it('a valid signature is accepted and the payment moves to what the gateway says now; the invoice is paid', async () => {
    const d = await processingDebit();
    await h.settle(d.chargeId);
    const body = event('payment_intent.succeeded', d.chargeId, 'succeeded');
    const res = await post(body);
    expect(res).toEqual({ status: 200, body: { received: true, outcome: 'PROCESSED', duplicate: false } });
    expect(await status(d.paymentId)).toBe('SUCCEEDED');
    await t.drainOutbox();
    expect(await invoiceStatus(d.invoiceId)).toBe('PAID');
    expect(await inbox(JSON.parse(body).id)).toEqual({ outcome: 'PROCESSED', attempts: 1, payment_id: d.paymentId });
  });

  it('a tampered body, a missing or wrong signature and a stale timestamp are refused with 400 and change nothing', async () => {
    const d = await processingDebit();
    await h.settle(d.chargeId);
    const body = event('payment_intent.succeeded', d.chargeId, 'succeeded');
    const signature = sign(body);

    const tampered = body.replace('"amount":12000', '"amount":1');
    expect(tampered).not.toBe(body);
    expect((await post(tampered, signature)).status).toBe(400);
    expect((await post(body, null)).status).toBe(400);
    expect((await post(body, signature.replace(/v1=[0-9a-f]{4}/, 'v1=0000'))).status).toBe(400);
    expect((await post(body, Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else', timestamp: seconds(t.clock.now()) }))).status).toBe(400);

    // Signed 301 s before the app's clock: stale.
    t.clock.advance(301_000);
    const stale = await post(body, signature);
    expect(stale.status).toBe(400);
    expect(stale.body).toMatchObject({ received: false, error: 'invalid_signature' });

    expect(await status(d.paymentId)).toBe('PROCESSING');
    expect(await inbox(JSON.parse(body).id)).toBeUndefined();
    // The same event signed now is fine.
    expect((await post(body)).status).toBe(200);
    expect(await status(d.paymentId)).toBe('SUCCEEDED');
  });

  it('the same event id delivered twice is handled once (one PaymentSucceeded)', async () => {
    const d = await processingDebit();
    await h.settle(d.chargeId);
    const body = event('payment_intent.succeeded', d.chargeId, 'succeeded');
    const [a, b] = await Promise.all([post(body), post(body)]);
    const again = await post(body);
    // Two copies at once: one handles it, the other is turned away (409, retried later) or sees it done.
    const handled = [a, b].filter((r) => r.status === 200 && r.body.duplicate === false);
    expect(handled).toHaveLength(1);
    const other = handled[0] === a ? b : a;
    expect(other.status === 409 || (other.status === 200 && other.body.duplicate === true)).toBe(true);
    expect(again).toEqual({ status: 200, body: { received: true, outcome: 'PROCESSED', duplicate: true } });
    await t.drainOutbox();
    expect(await outbox('PaymentSucceeded', d.paymentId)).toBe(1);
    expect((await inbox(JSON.parse(body).id))!.attempts).toBe(1);
  });

  it('events out of order cannot move a payment back: processing after succeeded leaves it SUCCEEDED', async () => {
    const d = await processingDebit();
    await h.settle(d.chargeId);
    expect((await post(event('payment_intent.succeeded', d.chargeId, 'succeeded'))).status).toBe(200);
    const late = await post(event('payment_intent.processing', d.chargeId, 'processing'));
    expect(late).toEqual({ status: 200, body: { received: true, outcome: 'PROCESSED', duplicate: false } });
    expect(await status(d.paymentId)).toBe('SUCCEEDED');
    await t.drainOutbox();
    expect(await outbox('PaymentSucceeded', d.paymentId)).toBe(1);
  });

  it('an event that arrives before the bank answered changes nothing; the gateway is believed, not the event', async () => {
    const d = await processingDebit();
    // The event claims success, but the gateway still says processing.
    expect((await post(event('payment_intent.succeeded', d.chargeId, 'succeeded'))).status).toBe(200);
    expect(await status(d.paymentId)).toBe('PROCESSING');
  });

  it('unknown event types are acknowledged and ignored; events about charges Settle did not make are UNMATCHED', async () => {
    const unknown = JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, object: 'event', type: 'customer.created', created: seconds(t.clock.now()), data: { object: { id: 'cus_1', object: 'customer' } } });
    expect(await post(unknown)).toEqual({ status: 200, body: { received: true, outcome: 'IGNORED', duplicate: false } });
    expect((await inbox(JSON.parse(unknown).id))!.outcome).toBe('IGNORED');

    const foreign = event('payment_intent.succeeded', 'pi_not_ours_123', 'succeeded');
    expect(await post(foreign)).toEqual({ status: 200, body: { received: true, outcome: 'UNMATCHED', duplicate: false } });
  });

  it('an error while handling answers 500 without details, and the next delivery of the same event handles it', async () => {
    const d = await processingDebit();
    await h.settle(d.chargeId);
    const body = event('payment_intent.succeeded', d.chargeId, 'succeeded');
    h.failNextRead(d.chargeId);
    const failed = await post(body);
    expect(failed).toEqual({ status: 500, body: { received: false, error: 'handling_failed', message: expect.any(String) } });
    expect(await status(d.paymentId)).toBe('PROCESSING');
    expect((await inbox(JSON.parse(body).id))!.outcome).toBe('PENDING');

    expect((await post(body)).body).toMatchObject({ outcome: 'PROCESSED', duplicate: false });
    expect(await status(d.paymentId)).toBe('SUCCEEDED');
  });
});
