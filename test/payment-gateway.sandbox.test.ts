import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { MikroORM } from '@mikro-orm/postgresql';
import { pino } from 'pino';
import { REDACT_PATHS } from '../src/infra/logging.js';
import { AppConfig } from '../src/config/index.js';
import { type CreateCharge, GatewayError, GatewayErrorCode, PaymentGateway, SANDBOX_TEST_CARDS } from '../src/infra/payment-gateway/index.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * What only the sandbox does: its Stripe-like tokenization endpoint, which refuses anything but Stripe's published test
 * numbers, and its hosted setup page, used over plain HTTP as a browser would (form posts, redirects). The number a
 * customer types is never stored.
 */

const YEAR = new Date().getUTCFullYear() + 2;

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError, but the call succeeded');
}

describe('sandbox gateway', () => {
  let t: TestApp;
  let gateway: PaymentGateway;
  beforeAll(async () => {
    t = await startTestApp();
    gateway = t.app.get(PaymentGateway);
  });
  afterAll(() => t.close());

  const query = (sql: string) => t.app.get(MikroORM).em.fork().execute<Record<string, unknown>[]>(sql);
  const rows = async (type?: string) => {
    const [row] = await query(`select count(*)::int as n from sandbox_gateway_object${type ? ` where type = '${type}'` : ''}`);
    return row!.n as number;
  };

  const tokenize = (body: Record<string, string> | object, json = false) =>
    fetch(`${t.url}/sandbox-gateway/v1/payment_methods`, {
      method: 'POST',
      headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
      body: json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>),
    });
  const card = (number: string, extra: Record<string, string> = {}) => ({
    type: 'card',
    'card[number]': number,
    'card[exp_month]': '12',
    'card[exp_year]': String(YEAR),
    'card[cvc]': '123',
    ...extra,
  });

  async function newSession(kinds: ('CARD' | 'BANK_ACCOUNT')[] = ['CARD']) {
    const customer = await gateway.createCustomer({
      organizationId: randomUUID(),
      customerId: randomUUID(),
      name: 'Jenny Rosen',
      email: null,
      phone: null,
      address: null,
      idempotencyKey: randomUUID(),
    });
    const session = await gateway.createSetupSession({
      gatewayCustomerId: customer.id,
      kinds,
      successUrl: 'https://app.example.com/profile/done?session={SESSION_ID}',
      cancelUrl: 'https://app.example.com/profile/cancelled',
      reference: randomUUID(),
      idempotencyKey: randomUUID(),
    });
    return { customer, session, page: `${t.url}${new URL(session.url!).pathname}` };
  }
  const submit = (page: string, fields: Record<string, string>) =>
    fetch(page, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'SandboxTest/1.0' }, body: new URLSearchParams(fields) });
  const visa = { number: '4242424242424242', exp_month: '12', exp_year: String(YEAR), cvc: '123', name: 'Jenny Rosen' };

  describe('tokenization endpoint (like Stripe\'s POST /v1/payment_methods)', () => {
    it('turns a test card into a payment method, form-encoded or JSON, and stores no number', async () => {
      const res = await tokenize(card('4242 4242 4242 4242', { 'billing_details[name]': 'Jenny Rosen', 'billing_details[address][line1]': '1 Main St', 'billing_details[address][city]': 'Springfield', 'billing_details[address][postal_code]': '62701', 'billing_details[address][country]': 'us' }));
      expect(res.status).toBe(200);
      const pm = (await res.json()) as { id: string; object: string; card: Record<string, unknown>; billing_details: { address: Record<string, unknown> } };
      expect(pm).toMatchObject({ object: 'payment_method', type: 'card', customer: null, card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: YEAR } });
      expect(pm.billing_details.address).toMatchObject({ line1: '1 Main St', country: 'US' });
      expect((await gateway.describePaymentMethod(pm.id)).card!.fingerprint).toBe((await gateway.describePaymentMethod('pm_card_visa')).card!.fingerprint);

      const json = await tokenize({ type: 'card', card: { number: '5555555555554444', exp_month: 1, exp_year: YEAR, cvc: '999' } }, true);
      expect(((await json.json()) as { card: unknown }).card).toMatchObject({ brand: 'mastercard', last4: '4444' });

      const stored = await query(`select count(*)::int as n from sandbox_gateway_object where data::text like '%4242424242424242%' or data::text like '%5555555555554444%' or data::text like '%"123"%'`);
      expect(stored[0]!.n).toBe(0);
    });

    it('refuses a real card number (Luhn-valid, not a Stripe test number) with NOT_A_TEST_NUMBER and stores nothing', async () => {
      const before = await rows();
      const res = await tokenize(card('4012 8888 8888 1881'));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_a_test_number' });
      expect(body.error.message).toMatch(/only Stripe's published test cards/);
      expect(body.error.message).not.toContain('1881');
      expect(await rows()).toBe(before);
    });

    it('answers like Stripe for a mistyped number, a past expiry and a short Amex CVC', async () => {
      const wrong = await tokenize(card('4242424242424241'));
      expect(wrong.status).toBe(402);
      expect(((await wrong.json()) as { error: unknown }).error).toMatchObject({ type: 'card_error', code: 'incorrect_number', param: 'card[number]' });

      const past = await tokenize(card('4242424242424242', { 'card[exp_year]': String(new Date().getUTCFullYear() - 1) }));
      expect(((await past.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_expiry_year', message: "Your card's expiration year is in the past." });

      const month = await tokenize(card('4242424242424242', { 'card[exp_month]': '13' }));
      expect(((await month.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_expiry_month' });

      const amex = await tokenize(card('378282246310005', { 'card[cvc]': '123' }));
      expect(((await amex.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'invalid_cvc', message: expect.stringMatching(/4 digits/) });
    });

    it('checks expiry against the injected clock', async () => {
      const thisYear = new Date().getUTCFullYear();
      const ok = await tokenize(card('4242424242424242', { 'card[exp_month]': '1', 'card[exp_year]': String(thisYear + 4) }));
      expect(ok.status).toBe(200);
      t.clock.set(new Date(Date.UTC(thisYear + 4, 1, 1)));
      try {
        const expired = await tokenize(card('4242424242424242', { 'card[exp_month]': '1', 'card[exp_year]': String(thisYear + 4) }));
        expect(((await expired.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_expiry_month', message: "Your card's expiration date is in the past." });
      } finally {
        t.clock.set(new Date());
      }
    });

    it('accepts the test bank accounts and refuses other routing or account numbers', async () => {
      const bank = (routing: string, account: string) =>
        tokenize({ type: 'us_bank_account', 'us_bank_account[routing_number]': routing, 'us_bank_account[account_number]': account, 'us_bank_account[account_type]': 'savings' });
      const ok = await bank('110000000', '000123456789');
      expect(((await ok.json()) as { us_bank_account: unknown }).us_bank_account).toMatchObject({ bank_name: 'STRIPE TEST BANK', last4: '6789', account_type: 'savings', routing_number: '110000000' });
      for (const [routing, account] of [['021000021', '000123456789'], ['110000000', '123456789012']]) {
        const res = await bank(routing!, account!);
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_a_test_number');
      }
      const stored = await query(`select count(*)::int as n from sandbox_gateway_object where data::text like '%000123456789%'`);
      expect(stored[0]!.n).toBe(0);
    });

    it('keeps each test card\'s behaviour for later charges (4000 0000 0000 0341 saves, then fails when charged)', async () => {
      const res = await tokenize(card('4000000000000341'));
      const { id } = (await res.json()) as { id: string };
      const [row] = await query(`select data->>'behavior' as behavior from sandbox_gateway_object where id = '${id}'`);
      expect(row!.behavior).toBe('charge_fails');
    });

    it('refuses the same card as a declined token when the method is saved, with Stripe\'s decline code', async () => {
      const customer = await gateway.createCustomer({ organizationId: randomUUID(), customerId: randomUUID(), name: 'A', email: null, phone: null, address: null, idempotencyKey: randomUUID() });
      const { id } = (await (await tokenize(card('4000000000009995'))).json()) as { id: string };
      const error = await gateway
        .savePaymentMethod({ gatewayCustomerId: customer.id, paymentMethodId: id, billingAddress: { line1: '1 Main', city: 'X', postalCode: '1', country: 'US' }, mandate: { type: 'offline', acceptedAt: new Date() }, idempotencyKey: randomUUID() })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ code: GatewayErrorCode.INSUFFICIENT_FUNDS, gatewayCode: 'insufficient_funds' });
    });
  });

  describe('hosted setup page', () => {
    it('renders a form labelled as the sandbox, with the test numbers and the fields a browser fills', async () => {
      const { page } = await newSession(['CARD', 'BANK_ACCOUNT']);
      const res = await fetch(page);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toContain('Sandbox — test numbers only');
      expect(html).toContain('name="viewport"');
      for (const name of ['number', 'exp_month', 'exp_year', 'cvc', 'name', 'routing_number', 'account_number', 'account_holder_name', 'account_type']) {
        expect(html).toContain(`name="${name}"`);
      }
      expect(html).toMatch(/<input type="radio"[^>]*name="kind" value="CARD"[^>]*checked/);
      expect(html).toContain('value="BANK_ACCOUNT"');
      expect(html).toContain('>Save payment method</button>');
      expect(html).toContain('4242 4242 4242 4242');
      expect(html).toContain('000123456789');
      expect(html).not.toMatch(/<script|src="http/);
    });

    it('saves a test card, attaches it to the customer and redirects to the success URL', async () => {
      const { customer, session, page } = await newSession();
      const res = await submit(page, visa);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`https://app.example.com/profile/done?session=${session.id}`);
      const done = await gateway.getSetupSession(session.id);
      expect(done.status).toBe('complete');
      expect(await gateway.describePaymentMethod(done.paymentMethodId!)).toMatchObject({ customerId: customer.id, card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: YEAR } });

      const again = await fetch(page);
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('already been used');
      expect((await submit(page, visa)).status).toBe(409);
    });

    it('re-renders with the decline reason and stores nothing when the card is declined', async () => {
      const { session, page } = await newSession();
      const before = await rows('payment_method');
      const res = await submit(page, { ...visa, number: '4000 0000 0000 0002' });
      expect(res.status).toBe(402);
      const html = await res.text();
      expect(html).toContain('Your card was declined.');
      expect(html).toContain('role="alert"');
      expect(html).not.toContain('4000 0000 0000 0002"');
      expect(html).toContain('value="Jenny Rosen"');
      expect(await rows('payment_method')).toBe(before);
      expect((await gateway.getSetupSession(session.id)).status).toBe('open');
    });

    it('refuses a real card number with a message saying only test numbers work', async () => {
      const { page } = await newSession();
      const before = await rows('payment_method');
      const res = await submit(page, { ...visa, number: '4012888888881881' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('not one of Stripe&#39;s test numbers');
      expect(await rows('payment_method')).toBe(before);
    });

    it.each([
      ['4000000000009995', 'insufficient funds'],
      ['4000000000000069', 'expired'],
      ['4000000000000127', 'security code is incorrect'],
    ])('shows why %s was refused', async (number, reason) => {
      const { page } = await newSession();
      const res = await submit(page, { ...visa, number });
      expect(res.status).toBe(402);
      expect(await res.text()).toContain(reason);
    });

    it('asks for the CVC, which the page requires', async () => {
      const { page } = await newSession();
      const res = await submit(page, { ...visa, cvc: '' });
      expect(res.status).toBe(402);
      expect(await res.text()).toContain('security code is invalid');
    });

    it('saves a test bank account with an online mandate from the customer\'s browser', async () => {
      const { customer, session, page } = await newSession(['CARD', 'BANK_ACCOUNT']);
      const res = await submit(page, { kind: 'BANK_ACCOUNT', routing_number: '110000000', account_number: '000123456789', account_holder_name: 'Jenny Rosen', account_type: 'checking' });
      expect(res.status).toBe(303);
      const done = await gateway.getSetupSession(session.id);
      expect(await gateway.describePaymentMethod(done.paymentMethodId!)).toMatchObject({ kind: 'BANK_ACCOUNT', customerId: customer.id, bankAccount: { last4: '6789' } });
      const [row] = await query(`select data->'mandate' as mandate from sandbox_gateway_object where id = '${done.paymentMethodId}'`);
      expect(row!.mandate).toMatchObject({ type: 'online', userAgent: 'SandboxTest/1.0', ipAddress: expect.any(String) });
    });

    it('refuses a closed test bank account on the page', async () => {
      const { page } = await newSession(['BANK_ACCOUNT']);
      const res = await submit(page, { routing_number: '110000000', account_number: '000111111113', account_holder_name: 'Jenny Rosen' });
      expect(res.status).toBe(402);
      expect(await res.text()).toContain('The bank account is closed.');
    });

    it('refuses a kind the session does not allow', async () => {
      const { page } = await newSession(['CARD']);
      const res = await submit(page, { kind: 'BANK_ACCOUNT', routing_number: '110000000', account_number: '000123456789', account_holder_name: 'J' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('This link accepts cards only.');
    });

    it('asks for 3-D Secure on the card that needs it; completing saves it, failing saves nothing', async () => {
      const { session, page } = await newSession();
      const before = await rows('payment_method');
      const challenge = await submit(page, { ...visa, number: '4000002760003184' });
      expect(challenge.status).toBe(200);
      const html = await challenge.text();
      expect(html).toContain('Complete authentication');
      expect(html).toContain('Fail authentication');

      const failed = await submit(`${page}/authenticate`, { action: 'fail' });
      expect(failed.status).toBe(402);
      expect(await failed.text()).toContain('Authentication failed');
      expect((await gateway.getSetupSession(session.id)).status).toBe('open');
      expect(await rows('payment_method')).toBe(before);

      await submit(page, { ...visa, number: '4000002760003184' });
      const completed = await submit(`${page}/authenticate`, { action: 'complete' });
      expect(completed.status).toBe(303);
      const done = await gateway.getSetupSession(session.id);
      expect(done.status).toBe('complete');
      expect((await gateway.describePaymentMethod(done.paymentMethodId!)).card!.last4).toBe('3184');
    });

    it('shows a clear page for an expired or unknown link, and the session reads as expired', async () => {
      const { session, page } = await newSession();
      t.clock.advance(25 * 3_600_000);
      try {
        const res = await fetch(page);
        expect(res.status).toBe(410);
        expect(await res.text()).toContain('This setup link has expired');
        expect((await submit(page, visa)).status).toBe(410);
        expect((await gateway.getSetupSession(session.id)).status).toBe('expired');
      } finally {
        t.clock.set(new Date());
      }
      const unknown = await fetch(`${t.url}/sandbox-gateway/checkout/cs_test_nope`);
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toContain('does not exist');
    });

    it('lists every test card on the page', async () => {
      const { page } = await newSession();
      const html = await (await fetch(page)).text();
      for (const c of SANDBOX_TEST_CARDS) expect(html).toContain(c.number.replace(/(\d{4})(?=\d)/g, '$1 '));
    });
  });

  describe('charges', () => {
    const ADDRESS = { line1: '12 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' };
    const settleMs = () => t.app.get(AppConfig).sandboxGateway.debitSettleSeconds * 1000;
    async function saved(token: string) {
      const customer = await gateway.createCustomer({ organizationId: randomUUID(), customerId: randomUUID(), name: 'Jenny Rosen', email: null, phone: null, address: null, idempotencyKey: randomUUID() });
      const pm = await gateway.savePaymentMethod({
        gatewayCustomerId: customer.id,
        paymentMethodId: token,
        billingAddress: ADDRESS,
        mandate: { type: 'offline', acceptedAt: new Date() },
        idempotencyKey: randomUUID(),
      });
      return { gatewayCustomerId: customer.id, paymentMethodId: pm.id };
    }
    const charge = (m: { gatewayCustomerId: string | null; paymentMethodId: string }, over: Partial<CreateCharge> = {}) =>
      gateway.createCharge({ ...m, amount: 10_000n, currency: 'USD', description: 'Installment 1 of 2', metadata: { invoiceId: 'inv-1' }, offSession: true, idempotencyKey: randomUUID(), ...over });
    afterEach(() => t.clock.set(new Date()));

    it('settles a bank debit by the injected clock, three days later by default, and keeps the result', async () => {
      expect(settleMs()).toBe(3 * 24 * 3_600_000);
      const debit = await charge(await saved('pm_usBankAccount_success'));
      expect(debit.status).toBe('processing');

      t.clock.advance(settleMs() - 1_000);
      expect((await gateway.getCharge(debit.id)).status).toBe('processing');
      t.clock.advance(1_000);
      expect(await gateway.getCharge(debit.id)).toMatchObject({ status: 'succeeded', failure: null });

      // Persisted: it stays settled when the clock goes back, as a settled payment does.
      t.clock.set(new Date());
      expect((await gateway.getCharge(debit.id)).status).toBe('succeeded');
      const [row] = await query(`select data->>'status' as status, data->>'settledAt' as "settledAt" from sandbox_gateway_object where id = '${debit.id}' and type = 'payment_intent'`);
      expect(row).toMatchObject({ status: 'succeeded' });
      expect(row!.settledAt).toBeTruthy();
    });

    it('keeps the charge in its table with our references, and no number', async () => {
      const card = await saved('pm_card_visa');
      const result = await charge(card, { metadata: { organizationId: 'org-9', installmentId: 'inst-9' } });
      const [row] = await query(`select data from sandbox_gateway_object where id = '${result.id}'`);
      expect(row!.data).toMatchObject({
        customerId: card.gatewayCustomerId,
        paymentMethodId: card.paymentMethodId,
        amount: '10000',
        currency: 'USD',
        status: 'succeeded',
        offSession: true,
        metadata: { organizationId: 'org-9', installmentId: 'inst-9' },
      });
      expect(JSON.stringify(row!.data)).not.toContain('4242424242424242');
    });

    it('does not remember a malformed request under its key, as Stripe saves no result for it', async () => {
      const card = await saved('pm_card_visa');
      const idempotencyKey = randomUUID();
      expect((await refusal(charge(card, { idempotencyKey, amount: 0n }))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect((await charge(card, { idempotencyKey })).status).toBe('succeeded');
    });

    it("refuses more than Stripe's largest charge (8 digits of minor units)", async () => {
      const error = await refusal(charge(await saved('pm_card_visa'), { amount: 100_000_000n }));
      expect(error).toMatchObject({ code: GatewayErrorCode.INVALID_REQUEST, gatewayCode: 'amount_too_large' });
    });

    it('refuses to debit a bank account that has no mandate (never saved for a customer)', async () => {
      const { id } = (await (await tokenize({ type: 'us_bank_account', 'us_bank_account[routing_number]': '110000000', 'us_bank_account[account_number]': '000123456789' })).json()) as { id: string };
      const error = await refusal(charge({ gatewayCustomerId: null, paymentMethodId: id }));
      expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(error.message).toMatch(/mandate/);
    });

    it('charges a one-off test token for nobody, with the token\'s behaviour', async () => {
      expect((await charge({ gatewayCustomerId: null, paymentMethodId: 'pm_card_visa' })).status).toBe('succeeded');
      expect(await charge({ gatewayCustomerId: null, paymentMethodId: 'pm_card_chargeDeclinedInsufficientFunds' })).toMatchObject({
        status: 'failed',
        failure: { code: GatewayErrorCode.INSUFFICIENT_FUNDS, gatewayCode: 'insufficient_funds' },
      });
    });
  });

  it('never logs card or account numbers, even when an object holding them is logged by mistake', () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[Redacted]' } }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
    log.info({ params: { card: { number: '4242424242424242', cvc: '123' }, account_number: '000123456789', number: '4242424242424242' } }, 'oops');
    expect(lines.join('')).not.toMatch(/4242424242424242|000123456789|"123"/);
  });
});
