import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { GatewayError, GatewayErrorCode, StripeGateway, type StripeGatewayOptions } from '../src/infra/payment-gateway/index.js';
import { StripeTestServer } from './support/stripe-test-server.js';

/**
 * What only the Stripe adapter does: the wire protocol it speaks (idempotency keys, SetupIntent and Checkout
 * parameters, mandates), how it behaves when Stripe fails or does not answer, and how it is configured. The real
 * `stripe` SDK talks to the local Stripe test server.
 */

const ADDRESS = { line1: '12 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' };

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError, but the call succeeded');
}

describe('StripeGateway against the local Stripe test server', () => {
  let server: StripeTestServer;
  let gateway: StripeGateway;
  const make = (options: Partial<StripeGatewayOptions> = {}) => new StripeGateway({ ...server.gatewayOptions, ...options });
  const customerInput = (idempotencyKey = `cust-${randomUUID()}`) => ({
    organizationId: 'org-1',
    customerId: 'customer-1',
    name: 'Jenny Rosen',
    email: 'jenny@example.com',
    phone: '+15145550123',
    address: ADDRESS,
    idempotencyKey,
  });
  const customers = () => [...server.objects.values()].filter((o) => o.object === 'customer');

  beforeAll(async () => {
    // The adapter warns on every failure it reports; here the failures are the point.
    Logger.overrideLogger(false);
    server = await new StripeTestServer().start();
    gateway = make();
  });
  afterAll(() => server.stop());

  describe('what it sends', () => {
    it('creates customers with our ids in metadata and the caller idempotency key', async () => {
      const { id } = await gateway.createCustomer(customerInput('customer-key-1'));
      const [sent] = server.requestsTo('POST', '/v1/customers').filter((r) => r.idempotencyKey === 'customer-key-1');
      expect(sent).toBeDefined();
      expect(sent!.body).toMatchObject({
        name: 'Jenny Rosen',
        email: 'jenny@example.com',
        metadata: { organizationId: 'org-1', customerId: 'customer-1' },
        address: { line1: '12 Main St', city: 'Springfield', state: 'IL', postal_code: '62701', country: 'US' },
      });
      expect(sent!.stripeVersion).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(server.object(id)).toMatchObject({ object: 'customer', name: 'Jenny Rosen' });
    });

    it('saves a card with a confirmed off-session SetupIntent under the caller key, then records the billing address', async () => {
      const { id: customer } = await gateway.createCustomer(customerInput());
      const saved = await gateway.savePaymentMethod({
        gatewayCustomerId: customer,
        paymentMethodId: 'pm_card_visa',
        billingAddress: ADDRESS,
        mandate: { type: 'offline', acceptedAt: new Date() },
        idempotencyKey: 'save-key-1',
      });
      const [intent] = server.requestsTo('POST', '/v1/setup_intents').filter((r) => r.idempotencyKey === 'save-key-1');
      expect(intent!.body).toMatchObject({ customer, payment_method: 'pm_card_visa', confirm: 'true', usage: 'off_session', allowed_payment_method_types: ['card'] });
      expect(intent!.body.mandate_data).toBeUndefined();
      const [update] = server.requestsTo('POST', `/v1/payment_methods/${saved.id}`);
      expect(update!.idempotencyKey).toBe('save-key-1:billing-address');
      expect(server.object(saved.id)).toMatchObject({ customer, billing_details: { address: { line1: '12 Main St', postal_code: '62701' } } });
    });

    it("sends the bank-account mandate: online with the customer's address and browser, or offline", async () => {
      const { id: customer } = await gateway.createCustomer(customerInput());
      const acceptedAt = new Date('2026-03-01T10:00:00Z');
      await gateway.savePaymentMethod({
        gatewayCustomerId: customer,
        paymentMethodId: 'pm_usBankAccount_success',
        billingAddress: ADDRESS,
        mandate: { type: 'online', acceptedAt, ipAddress: '203.0.113.7', userAgent: 'Mozilla/5.0 (test)' },
        idempotencyKey: 'bank-online',
      });
      await gateway.savePaymentMethod({
        gatewayCustomerId: customer,
        paymentMethodId: 'pm_usBankAccount_success',
        billingAddress: ADDRESS,
        mandate: { type: 'offline', acceptedAt },
        idempotencyKey: 'bank-offline',
      });
      const sent = (k: string) => server.requestsTo('POST', '/v1/setup_intents').find((r) => r.idempotencyKey === k)!.body;
      expect(sent('bank-online')).toMatchObject({
        allowed_payment_method_types: ['us_bank_account'],
        mandate_data: { customer_acceptance: { type: 'online', accepted_at: String(acceptedAt.getTime() / 1000), online: { ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0 (test)' } } },
      });
      expect(sent('bank-offline')).toMatchObject({ mandate_data: { customer_acceptance: { type: 'offline', accepted_at: String(acceptedAt.getTime() / 1000) } } });
    });

    it('creates Checkout sessions in setup mode with our reference and Stripe\'s session placeholder', async () => {
      const { id: customer } = await gateway.createCustomer(customerInput());
      const session = await gateway.createSetupSession({
        gatewayCustomerId: customer,
        kinds: ['CARD', 'BANK_ACCOUNT'],
        successUrl: 'https://app.example.com/done?session={SESSION_ID}',
        cancelUrl: 'https://app.example.com/cancel',
        reference: 'profile-request-7',
        idempotencyKey: 'session-key-1',
      });
      const [sent] = server.requestsTo('POST', '/v1/checkout/sessions').filter((r) => r.idempotencyKey === 'session-key-1');
      expect(sent!.body).toMatchObject({
        mode: 'setup',
        customer,
        success_url: 'https://app.example.com/done?session={CHECKOUT_SESSION_ID}',
        cancel_url: 'https://app.example.com/cancel',
        allowed_payment_method_types: ['card', 'us_bank_account'],
        metadata: { reference: 'profile-request-7' },
        setup_intent_data: { metadata: { reference: 'profile-request-7' } },
      });
      expect(session.url).toBe(`${server.url}/c/pay/${session.id}`);

      server.completeCheckoutSession(session.id, 'pm_usBankAccount_success');
      const done = await gateway.getSetupSession(session.id);
      const [read] = server.requestsTo('GET', `/v1/checkout/sessions/${session.id}`);
      expect(read!.query).toEqual({ expand: ['setup_intent'] });
      expect(done.status).toBe('complete');
      expect((await gateway.describePaymentMethod(done.paymentMethodId!)).kind).toBe('BANK_ACCOUNT');
      const intent = server.object(server.object(session.id)!.setup_intent as string)!;
      expect(intent.metadata).toEqual({ reference: 'profile-request-7' });
    });

    it('reports an expired Checkout session as expired', async () => {
      const { id: customer } = await gateway.createCustomer(customerInput());
      const session = await gateway.createSetupSession({
        gatewayCustomerId: customer,
        kinds: ['CARD'],
        successUrl: 'https://app.example.com/done',
        cancelUrl: 'https://app.example.com/cancel',
        reference: 'r',
        idempotencyKey: randomUUID(),
      });
      server.object(session.id)!.status = 'expired';
      expect((await gateway.getSetupSession(session.id)).status).toBe('expired');
    });
  });

  describe('when Stripe fails or does not answer', () => {
    it('retries a 500 with the same idempotency key, and the customer is created once', async () => {
      const before = customers().length;
      server.failNext(500);
      const key = `retry-${randomUUID()}`;
      const { id } = await gateway.createCustomer(customerInput(key));
      const attempts = server.requestsTo('POST', '/v1/customers').filter((r) => r.idempotencyKey === key);
      expect(attempts.map((a) => a.status)).toEqual([500, 200]);
      expect(customers().length).toBe(before + 1);
      expect(server.object(id)).toBeDefined();
    });

    it('does not create a second customer when the answer to the first attempt was lost', async () => {
      const before = customers().length;
      server.failNext('lost_response');
      const key = `lost-${randomUUID()}`;
      const { id } = await gateway.createCustomer(customerInput(key));
      const attempts = server.requestsTo('POST', '/v1/customers').filter((r) => r.idempotencyKey === key);
      expect(attempts).toHaveLength(2);
      expect(attempts[1]!.replayed).toBe(true);
      expect(customers().length).toBe(before + 1);
      expect(server.object(id)).toBeDefined();
    });

    it('gives UNAVAILABLE (retryable) when Stripe keeps answering 500', async () => {
      server.failNext(500, 3);
      const error = await refusal(gateway.createCustomer(customerInput()));
      expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
      expect(error.retryable).toBe(true);
    });

    it('gives UNAVAILABLE when Stripe rate-limits (429)', async () => {
      const noRetry = make({ maxNetworkRetries: 0 });
      server.failNext(429);
      const error = await refusal(noRetry.describePaymentMethod('pm_card_visa'));
      expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
      expect(error.gatewayCode).toBe('rate_limit');
    });

    it('gives UNAVAILABLE when the connection is reset', async () => {
      const noRetry = make({ maxNetworkRetries: 0 });
      // The SDK retries a closed connection once even with retries off.
      server.failNext('network', 2);
      const error = await refusal(noRetry.createCustomer(customerInput()));
      expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
      expect(error.retryable).toBe(true);
    });

    it('gives UNAVAILABLE when Stripe does not answer in time', async () => {
      const impatient = make({ maxNetworkRetries: 0, timeoutMs: 200 });
      server.failNext('timeout');
      const error = await refusal(impatient.describePaymentMethod('pm_card_visa'));
      expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
      expect(error.message).toMatch(/did not answer/);
    });

    it('says the key is wrong (not retryable) when Stripe refuses the API key', async () => {
      const wrongKey = make({ secretKey: 'sk_test_not_the_right_key' });
      const error = await refusal(wrongKey.describePaymentMethod('pm_card_visa'));
      expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/STRIPE_SECRET_KEY/);
    });
  });

  it('turns a legacy card token (tok_visa) into a payment method', async () => {
    const pm = await gateway.describePaymentMethod('tok_visa');
    expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242' });
    expect(server.requestsTo('POST', '/v1/payment_methods').some((r) => (r.body.card as { token?: string })?.token === 'tok_visa')).toBe(true);
  });
});

describe('payment gateway configuration', () => {
  const configError = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
  };
  const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgres://db/settle', REDIS_URL: 'redis://cache:6379' };

  it('uses the sandbox without a Stripe key, and Stripe with one', () => {
    expect(loadConfig({}).paymentGateway).toEqual({ name: 'sandbox', stripe: undefined });
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abcdefgh123' }).paymentGateway).toEqual({
      name: 'stripe',
      stripe: { secretKey: 'sk_test_abcdefgh123', apiUrl: 'https://api.stripe.com', host: 'api.stripe.com', port: 443, protocol: 'https' },
    });
  });

  it('points the SDK at STRIPE_API_URL', () => {
    const config = loadConfig({ STRIPE_SECRET_KEY: 'rk_test_abcdefgh123', STRIPE_API_URL: 'http://127.0.0.1:12111/' });
    expect(config.paymentGateway.stripe).toMatchObject({ host: '127.0.0.1', port: 12111, protocol: 'http', apiUrl: 'http://127.0.0.1:12111' });
  });

  it('lets PAYMENT_GATEWAY=sandbox win over a key, and requires a key for PAYMENT_GATEWAY=stripe', () => {
    expect(loadConfig({ PAYMENT_GATEWAY: 'sandbox', STRIPE_SECRET_KEY: 'sk_test_abcdefgh123' }).paymentGateway.name).toBe('sandbox');
    expect(configError({ PAYMENT_GATEWAY: 'stripe' }).message).toContain('STRIPE_SECRET_KEY: is required when PAYMENT_GATEWAY=stripe');
  });

  it('refuses a key that is not a Stripe secret or restricted key', () => {
    expect(configError({ STRIPE_SECRET_KEY: 'pk_test_abcdefgh123' }).message).toContain('STRIPE_SECRET_KEY: must be a Stripe secret or restricted key, starting with sk_ or rk_');
    expect(configError({ PAYMENT_GATEWAY: 'paypal' }).message).toContain('PAYMENT_GATEWAY: must be one of stripe, sandbox');
  });

  it('in production, never falls back to the sandbox silently', () => {
    const error = configError(production);
    expect(error.message).toContain('STRIPE_SECRET_KEY: is required when NODE_ENV=production');
    expect(error.message).toContain('PAYMENT_GATEWAY=sandbox');
    expect(loadConfig({ ...production, PAYMENT_GATEWAY: 'sandbox' }).paymentGateway.name).toBe('sandbox');
    // Stripe in production also needs the webhook signing secret: without it no webhook could be verified.
    expect(configError({ ...production, STRIPE_SECRET_KEY: 'sk_live_abcdefgh123' }).message).toContain('STRIPE_WEBHOOK_SECRET');
    expect(
      loadConfig({ ...production, STRIPE_SECRET_KEY: 'sk_live_abcdefgh123', STRIPE_WEBHOOK_SECRET: 'whsec_abcdefgh123' }).paymentGateway.name,
    ).toBe('stripe');
  });
});

describe('StripeGateway when Stripe rate-limits (429)', () => {
  let server: StripeTestServer;
  const CREATE_INTENT = { method: 'POST', path: '/v1/payment_intents' };
  // Short pauses so the test is quick; the production defaults are 500 ms doubling, within 30 s.
  const make = (options: Partial<StripeGatewayOptions> = {}) =>
    new StripeGateway({ ...server.gatewayOptions, maxNetworkRetries: 2, rateLimitBaseDelayMs: 20, ...options });
  const charge = (idempotencyKey = `charge-${randomUUID()}`) => ({
    gatewayCustomerId: null,
    paymentMethodId: 'pm_card_visa',
    amount: 1_500n,
    currency: 'USD',
    description: 'Invoice INV-0042',
    metadata: { organizationId: 'org-1' },
    offSession: false,
    idempotencyKey,
  });
  const sent = (key: string) => server.requestsTo('POST', '/v1/payment_intents').filter((r) => r.idempotencyKey === key);
  const intents = () => [...server.objects.values()].filter((o) => o.object === 'payment_intent');

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = await new StripeTestServer().start();
  });
  afterAll(() => server.stop());

  it('retries a 429 after a pause with the same idempotency key, and charges once', async () => {
    const before = intents().length;
    const input = charge();
    server.failNext(429, 2, CREATE_INTENT);
    expect((await make().createCharge(input)).status).toBe('succeeded');
    expect(sent(input.idempotencyKey).map((r) => r.status)).toEqual([429, 429, 200]);
    expect(intents().length).toBe(before + 1);
  });

  it('retries reads too (a rate-limited payment method lookup)', async () => {
    server.failNext(429, 1, { method: 'GET', path: '/v1/payment_methods/pm_card_visa' });
    const pm = await make().describePaymentMethod('pm_card_visa');
    expect(pm.card).toMatchObject({ last4: '4242' });
  });

  it('gives up after its retries: UNAVAILABLE, retryable, and nothing was charged', async () => {
    const before = intents().length;
    const input = charge();
    server.failNext(429, 3, CREATE_INTENT);
    const error = await refusal(make().createCharge(input));
    expect(error).toMatchObject({ code: GatewayErrorCode.UNAVAILABLE, gatewayCode: 'rate_limit', retryable: true });
    expect(sent(input.idempotencyKey)).toHaveLength(3);
    expect(intents().length).toBe(before);
    // The caller's later try under the same key charges once.
    expect((await make().createCharge(input)).status).toBe('succeeded');
    expect(intents().length).toBe(before + 1);
  });

  it('does not wait beyond its time budget', async () => {
    const input = charge();
    server.failNext(429, 1, CREATE_INTENT);
    const error = await refusal(make({ rateLimitBaseDelayMs: 60_000, rateLimitBudgetMs: 1_000 }).createCharge(input));
    expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
    expect(sent(input.idempotencyKey)).toHaveLength(1);
  });
});
