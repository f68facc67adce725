import { randomUUID } from 'node:crypto';
import {
  GatewayError,
  GatewayErrorCode,
  type MandateAcceptance,
  PaymentGateway,
  type SetupSession,
  StripeGateway,
} from '../src/infra/payment-gateway/index.js';
import { SandboxGateway } from '../src/infra/payment-gateway/sandbox/sandbox-gateway.js';
import { StripeTestServer } from './support/stripe-test-server.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * The PaymentGateway contract, run against both adapters: the sandbox (inside the whole app, on PostgreSQL) and the
 * Stripe adapter (the real `stripe` SDK, configured through STRIPE_SECRET_KEY / STRIPE_API_URL, talking to the local
 * Stripe test server). Whatever passes here behaves the same for the wallet whichever gateway is configured.
 *
 * Bank accounts: the sandbox gets them through its tokenization endpoint (routing and account numbers, as its hosted
 * page does); Stripe through its test tokens (pm_usBankAccount_success, ...), as Stripe's own docs suggest.
 */

type BankOutcome = 'success' | 'accountClosed' | 'noAccount';

interface Harness {
  t: TestApp;
  gateway: PaymentGateway;
  /** A token for a test bank account, made the way this gateway's own collection makes them. */
  bankToken(outcome: BankOutcome): Promise<string>;
  /** What the customer does on the hosted page: enters a Visa test card. Returns where the page redirected. */
  completeWithVisa(session: SetupSession): Promise<string>;
  close(): Promise<void>;
}

const BANK_NUMBERS: Record<BankOutcome, string> = { success: '000123456789', accountClosed: '000111111113', noAccount: '000111111116' };

async function sandboxHarness(): Promise<Harness> {
  const t = await startTestApp();
  return {
    t,
    gateway: t.app.get(PaymentGateway),
    async bankToken(outcome) {
      const res = await fetch(`${t.url}/sandbox-gateway/v1/payment_methods`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          type: 'us_bank_account',
          'us_bank_account[routing_number]': '110000000',
          'us_bank_account[account_number]': BANK_NUMBERS[outcome],
          'us_bank_account[account_holder_type]': 'individual',
          'billing_details[name]': 'Jenny Rosen',
        }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { id: string }).id;
    },
    async completeWithVisa(session) {
      const res = await fetch(`${t.url}${new URL(session.url!).pathname}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ kind: 'CARD', number: '4242 4242 4242 4242', exp_month: '12', exp_year: String(new Date().getUTCFullYear() + 2), cvc: '123', name: 'Jenny Rosen' }),
      });
      expect(res.status).toBe(303);
      return res.headers.get('location')!;
    },
    close: () => t.close(),
  };
}

async function stripeHarness(): Promise<Harness> {
  const server = await new StripeTestServer().start();
  const t = await startTestApp({ env: { PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: server.secretKey, STRIPE_API_URL: server.url } });
  return {
    t,
    gateway: t.app.get(PaymentGateway),
    bankToken: async (outcome) => `pm_usBankAccount_${outcome}`,
    async completeWithVisa(session) {
      return server.completeCheckoutSession(session.id, 'pm_card_visa').redirectUrl;
    },
    async close() {
      await t.close();
      await server.stop();
    },
  };
}

const ADDRESS = { line1: '12 Main St', line2: null, city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' };
const offline = (): MandateAcceptance => ({ type: 'offline', acceptedAt: new Date() });
const online = (): MandateAcceptance => ({ type: 'online', acceptedAt: new Date(), ipAddress: '203.0.113.7', userAgent: 'Mozilla/5.0 (test)' });

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError, but the call succeeded');
}

describe.each([
  ['sandbox', sandboxHarness, SandboxGateway],
  ['stripe', stripeHarness, StripeGateway],
] as const)('PaymentGateway contract: %s', (name, makeHarness, adapter) => {
  let h: Harness;
  let gateway: PaymentGateway;
  beforeAll(async () => {
    h = await makeHarness();
    gateway = h.gateway;
  });
  afterAll(() => h.close());

  const key = () => `test-${randomUUID()}`;
  const newCustomer = () =>
    gateway.createCustomer({
      organizationId: randomUUID(),
      customerId: randomUUID(),
      name: 'Jenny Rosen',
      email: 'jenny@example.com',
      phone: null,
      address: ADDRESS,
      idempotencyKey: key(),
    });
  const save = (gatewayCustomerId: string, paymentMethodId: string, mandate = offline()) =>
    gateway.savePaymentMethod({ gatewayCustomerId, paymentMethodId, billingAddress: ADDRESS, mandate, idempotencyKey: key() });

  it(`is the ${name} adapter, chosen by the configuration`, () => {
    expect(gateway).toBeInstanceOf(adapter);
    expect(gateway.name).toBe(name);
  });

  describe('customers', () => {
    it('creates a customer and gives back its id', async () => {
      const { id } = await newCustomer();
      expect(id).toMatch(/^cus_/);
    });

    it('creates a customer once per idempotency key', async () => {
      const input = { organizationId: randomUUID(), customerId: randomUUID(), name: 'Ann', email: null, phone: null, address: null, idempotencyKey: key() };
      const first = await gateway.createCustomer(input);
      const again = await gateway.createCustomer(input);
      const other = await gateway.createCustomer({ ...input, idempotencyKey: key() });
      expect(again.id).toBe(first.id);
      expect(other.id).not.toBe(first.id);
    });

    it('refuses an idempotency key reused for a different request', async () => {
      const input = { organizationId: randomUUID(), customerId: randomUUID(), name: 'Ann', email: null, phone: null, address: null, idempotencyKey: key() };
      await gateway.createCustomer(input);
      const error = await refusal(gateway.createCustomer({ ...input, name: 'Someone else' }));
      expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(error.gatewayCode).toBe('idempotency_error');
    });
  });

  describe('cards', () => {
    it('describes a test token without attaching it', async () => {
      const pm = await gateway.describePaymentMethod('pm_card_visa');
      expect(pm.id).toMatch(/^pm_/);
      expect(pm.kind).toBe('CARD');
      expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242', funding: 'credit' });
      expect(pm.card!.expYear).toBeGreaterThanOrEqual(new Date().getUTCFullYear());
      expect(pm.customerId).toBeNull();
      expect((await gateway.describePaymentMethod('pm_card_visa_debit')).card).toMatchObject({ brand: 'visa', funding: 'debit', last4: '5556' });
      expect((await gateway.describePaymentMethod('pm_card_amex')).card).toMatchObject({ brand: 'amex', last4: '0005' });
      expect((await gateway.describePaymentMethod('tok_mastercard')).card).toMatchObject({ brand: 'mastercard', last4: '4444' });
    });

    it('gives the same card the same fingerprint across tokens, and another card another', async () => {
      const a = await gateway.describePaymentMethod('pm_card_visa');
      const b = await gateway.describePaymentMethod('pm_card_visa');
      const other = await gateway.describePaymentMethod('pm_card_mastercard');
      expect(b.id).not.toBe(a.id);
      expect(b.card!.fingerprint).toBe(a.card!.fingerprint);
      expect(other.card!.fingerprint).not.toBe(a.card!.fingerprint);
    });

    it('saves a Visa: attached to the customer, with its details and the billing address', async () => {
      const customer = await newCustomer();
      const described = await gateway.describePaymentMethod('pm_card_visa');
      const saved = await save(customer.id, described.id);
      expect(saved).toMatchObject({
        id: described.id,
        kind: 'CARD',
        customerId: customer.id,
        card: { brand: 'visa', last4: '4242', fingerprint: described.card!.fingerprint },
        billingAddress: { line1: '12 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' },
        bankAccount: null,
      });
      expect((await gateway.describePaymentMethod(saved.id)).customerId).toBe(customer.id);
    });

    it('saves straight from a test token (a new payment method each time)', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_mastercard');
      expect(saved.id).toMatch(/^pm_/);
      expect(saved.id).not.toBe('pm_card_mastercard');
      expect(saved).toMatchObject({ customerId: customer.id, card: { brand: 'mastercard', last4: '4444' } });
    });

    it('saves from a legacy card token (tok_visa)', async () => {
      const customer = await newCustomer();
      expect(await save(customer.id, 'tok_visa')).toMatchObject({ customerId: customer.id, card: { brand: 'visa', last4: '4242' } });
    });

    it('returns the first outcome when a save is retried with the same idempotency key', async () => {
      const customer = await newCustomer();
      const input = { gatewayCustomerId: customer.id, paymentMethodId: 'pm_card_visa', billingAddress: ADDRESS, mandate: offline(), idempotencyKey: key() };
      const first = await gateway.savePaymentMethod(input);
      const again = await gateway.savePaymentMethod(input);
      expect(again.id).toBe(first.id);
    });

    it.each([
      ['pm_card_chargeDeclined', GatewayErrorCode.CARD_DECLINED, 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', GatewayErrorCode.INSUFFICIENT_FUNDS, 'insufficient_funds'],
      ['pm_card_chargeDeclinedExpiredCard', GatewayErrorCode.EXPIRED_CARD, 'expired_card'],
      ['pm_card_chargeDeclinedIncorrectCvc', GatewayErrorCode.INCORRECT_CVC, 'incorrect_cvc'],
    ])('refuses %s with %s and leaves it unattached', async (token, code, gatewayCode) => {
      const customer = await newCustomer();
      const described = await gateway.describePaymentMethod(token);
      const error = await refusal(save(customer.id, described.id));
      expect(error.code).toBe(code);
      expect(error.gatewayCode).toBe(gatewayCode);
      expect(error.retryable).toBe(false);
      expect(error.message.length).toBeGreaterThan(10);
      expect((await gateway.describePaymentMethod(described.id)).customerId).toBeNull();
    });

    it('asks for authentication when the bank requires 3-D Secure, and attaches nothing', async () => {
      const customer = await newCustomer();
      const described = await gateway.describePaymentMethod('pm_card_authenticationRequired');
      const error = await refusal(save(customer.id, described.id));
      expect(error.code).toBe(GatewayErrorCode.AUTHENTICATION_REQUIRED);
      expect(error.message).toMatch(/authenticat/i);
      expect((await gateway.describePaymentMethod(described.id)).customerId).toBeNull();
    });

    it('saves the card whose later charges fail (4000 0000 0000 0341)', async () => {
      const customer = await newCustomer();
      expect((await save(customer.id, 'pm_card_chargeCustomerFail')).customerId).toBe(customer.id);
    });

    it("updates a saved card's expiry, and refuses one in the past", async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      const year = new Date().getUTCFullYear() + 5;
      const updated = await gateway.updateCardExpiry(saved.id, 11, year);
      expect(updated.card).toMatchObject({ expMonth: 11, expYear: year, last4: '4242', fingerprint: saved.card!.fingerprint });
      expect((await gateway.describePaymentMethod(saved.id)).card).toMatchObject({ expMonth: 11, expYear: year });
      const error = await refusal(gateway.updateCardExpiry(saved.id, 1, new Date().getUTCFullYear() - 1));
      expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(error.message).toMatch(/past/);
    });

    it('detaches a method, and detaching it again is not an error', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      await gateway.detachPaymentMethod(saved.id);
      expect((await gateway.describePaymentMethod(saved.id)).customerId).toBeNull();
      await expect(gateway.detachPaymentMethod(saved.id)).resolves.toBeUndefined();
    });
  });

  describe('bank accounts', () => {
    it('saves a test bank account with an online mandate', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, await h.bankToken('success'), online());
      expect(saved).toMatchObject({
        kind: 'BANK_ACCOUNT',
        customerId: customer.id,
        card: null,
        bankAccount: { bankName: 'STRIPE TEST BANK', last4: '6789', routingNumber: '110000000', accountType: 'checking' },
      });
      expect(saved.bankAccount!.fingerprint).toBe((await gateway.describePaymentMethod(await h.bankToken('success'))).bankAccount!.fingerprint);
    });

    it('saves one with an offline mandate (consent recorded by staff)', async () => {
      const customer = await newCustomer();
      expect((await save(customer.id, await h.bankToken('success'), offline())).customerId).toBe(customer.id);
    });

    it.each([
      ['accountClosed', 'account_closed'],
      ['noAccount', 'no_account'],
    ] as const)('refuses the %s test account as BANK_ACCOUNT_REJECTED', async (outcome, gatewayCode) => {
      const customer = await newCustomer();
      const token = await h.bankToken(outcome);
      const error = await refusal(save(customer.id, token, online()));
      expect(error.code).toBe(GatewayErrorCode.BANK_ACCOUNT_REJECTED);
      expect(error.gatewayCode).toBe(gatewayCode);
    });
  });

  describe('setup sessions (hosted page)', () => {
    it('creates a session, the customer completes it, and reading it gives the saved method', async () => {
      const customer = await newCustomer();
      const reference = randomUUID();
      const session = await gateway.createSetupSession({
        gatewayCustomerId: customer.id,
        kinds: ['CARD'],
        successUrl: 'https://app.example.com/profile/done?session={SESSION_ID}',
        cancelUrl: 'https://app.example.com/profile/cancelled',
        reference,
        idempotencyKey: key(),
      });
      expect(session).toMatchObject({ status: 'open', gatewayCustomerId: customer.id, paymentMethodId: null, reference });
      expect(session.url).toMatch(/^https?:\/\//);
      const hours = (session.expiresAt!.getTime() - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(23);
      expect(hours).toBeLessThanOrEqual(24.01);

      const redirect = await h.completeWithVisa(session);
      expect(redirect).toBe(`https://app.example.com/profile/done?session=${session.id}`);

      const done = await gateway.getSetupSession(session.id);
      expect(done).toMatchObject({ id: session.id, status: 'complete', reference, gatewayCustomerId: customer.id });
      expect(done.paymentMethodId).toMatch(/^pm_/);
      const pm = await gateway.describePaymentMethod(done.paymentMethodId!);
      expect(pm).toMatchObject({ customerId: customer.id, card: { brand: 'visa', last4: '4242' } });
    });

    it('creates one session per idempotency key', async () => {
      const customer = await newCustomer();
      const input = {
        gatewayCustomerId: customer.id,
        kinds: ['CARD', 'BANK_ACCOUNT'] as const,
        successUrl: 'https://app.example.com/done/{SESSION_ID}',
        cancelUrl: 'https://app.example.com/cancel',
        reference: randomUUID(),
        idempotencyKey: key(),
      };
      const first = await gateway.createSetupSession({ ...input, kinds: [...input.kinds] });
      const again = await gateway.createSetupSession({ ...input, kinds: [...input.kinds] });
      expect(again.id).toBe(first.id);
    });
  });

  describe('unknown ids', () => {
    it('answers NOT_FOUND for an unknown payment method, customer or session', async () => {
      const customer = await newCustomer();
      expect((await refusal(gateway.describePaymentMethod('pm_doesnotexist123'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(gateway.describePaymentMethod('pm_card_nosuchcard'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(save('cus_doesnotexist', 'pm_card_visa'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(save(customer.id, 'pm_doesnotexist123'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(gateway.updateCardExpiry('pm_doesnotexist123', 1, 2099))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(gateway.detachPaymentMethod('pm_doesnotexist123'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(gateway.getSetupSession('cs_test_doesnotexist'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      const session = refusal(
        gateway.createSetupSession({
          gatewayCustomerId: 'cus_doesnotexist',
          kinds: ['CARD'],
          successUrl: 'https://app.example.com/done',
          cancelUrl: 'https://app.example.com/cancel',
          reference: 'r',
          idempotencyKey: key(),
        }),
      );
      expect((await session).code).toBe(GatewayErrorCode.NOT_FOUND);
    });
  });
});
