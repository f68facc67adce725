import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../src/config/index.js';
import {
  type CreateCharge,
  type GatewayCharge,
  GatewayError,
  GatewayErrorCode,
  type MandateAcceptance,
  PaymentGateway,
  type SetupSession,
  StripeGateway,
} from '../src/infra/payment-gateway/index.js';
import { SandboxGateway } from '../src/infra/payment-gateway/sandbox/sandbox-gateway.js';
import { ChargePacer } from '../src/modules/payments/infrastructure/charge-pacer.js';
import { StripeTestServer } from './support/stripe-test-server.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * The PaymentGateway contract, run against both adapters: the sandbox (inside the whole app, on PostgreSQL) and the
 * Stripe adapter (the real `stripe` SDK, configured through STRIPE_SECRET_KEY / STRIPE_API_URL, talking to the local
 * Stripe test server). Whatever passes here behaves the same for the wallet whichever gateway is configured.
 *
 * Bank accounts: the sandbox gets them through its tokenization endpoint (routing and account numbers, as its hosted
 * page does); Stripe through its test tokens (pm_usBankAccount_success, ...), as Stripe's own docs suggest.
 *
 * Charges: a bank debit is `processing` until the bank answers — in the sandbox when its clock passes
 * SANDBOX_DEBIT_SETTLE_SECONDS, at the Stripe test server when the test settles it (`settle` below).
 */

type BankOutcome = 'success' | 'accountClosed' | 'noAccount' | 'insufficientFunds' | 'debitNotAuthorized';

interface Harness {
  t: TestApp;
  gateway: PaymentGateway;
  /** A token for a test bank account, made the way this gateway's own collection makes them. */
  bankToken(outcome: BankOutcome): Promise<string>;
  /** What the customer does on the hosted page: enters a Visa test card. Returns where the page redirected. */
  completeWithVisa(session: SetupSession): Promise<string>;
  /** Lets the bank answer a processing debit (the sandbox: its clock passes the settle time), then reads the charge. */
  settle(chargeId: string): Promise<GatewayCharge>;
  close(): Promise<void>;
}

const BANK_NUMBERS: Record<BankOutcome, string> = {
  success: '000123456789',
  accountClosed: '000111111113',
  noAccount: '000111111116',
  insufficientFunds: '000222222227',
  debitNotAuthorized: '000333333335',
};

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
    async settle(chargeId) {
      const now = t.clock.now();
      t.clock.advance((t.app.get(AppConfig).sandboxGateway.debitSettleSeconds + 1) * 1000);
      try {
        return await t.app.get(PaymentGateway).getCharge(chargeId);
      } finally {
        t.clock.set(now);
      }
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
    async settle(chargeId) {
      server.settlePaymentIntent(chargeId);
      return t.app.get(PaymentGateway).getCharge(chargeId);
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

  describe('charges', () => {
    const charge = (over: Partial<CreateCharge> & { paymentMethodId: string; gatewayCustomerId: string | null }) =>
      gateway.createCharge({
        amount: 12_345n,
        currency: 'USD',
        description: 'Invoice INV-0001, installment 1 of 3',
        metadata: { organizationId: 'org-1', invoiceId: 'inv-1', installmentId: 'inst-1' },
        offSession: true,
        idempotencyKey: key(),
        ...over,
      });

    it('charges a saved Visa at once', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      const result = await charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id });
      expect(result).toMatchObject({ status: 'succeeded', amount: 12_345n, currency: 'USD', paymentMethodId: saved.id, failure: null });
      expect(result.id).toMatch(/^pi_/);
      expect(Math.abs(result.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      expect(await gateway.getCharge(result.id)).toEqual(result);
    });

    it("charges a saved method named by its kind (the wallet's), and refuses a kind that is not the method's", async () => {
      const customer = await newCustomer();
      const card = await save(customer.id, 'pm_card_visa');
      expect(await charge({ gatewayCustomerId: customer.id, paymentMethodId: card.id, methodKind: 'CARD' })).toMatchObject({ status: 'succeeded', paymentMethodId: card.id });
      const bank = await save(customer.id, await h.bankToken('success'), online());
      expect(await charge({ gatewayCustomerId: customer.id, paymentMethodId: bank.id, methodKind: 'BANK_ACCOUNT' })).toMatchObject({ status: 'processing', paymentMethodId: bank.id });
      const wrong = await refusal(charge({ gatewayCustomerId: customer.id, paymentMethodId: card.id, methodKind: 'BANK_ACCOUNT' }));
      expect(wrong.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(wrong.message).toMatch(/not allowed/i);
      expect(wrong.retryable).toBe(false);
    });

    it('replays a charge asked again under its key with its kind named, as the same charge', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      const input = { gatewayCustomerId: customer.id, paymentMethodId: saved.id, idempotencyKey: key() };
      const first = await charge(input);
      expect((await charge({ ...input, methodKind: 'CARD' })).id).toBe(first.id);
    });

    it('charges in the currency asked for, in any case (eur is EUR)', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_mastercard');
      expect(await charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id, currency: 'eur', amount: 500n })).toMatchObject({ status: 'succeeded', currency: 'EUR', amount: 500n });
    });

    it('gives a failed charge with a reason a person understands for the card whose charges fail (4000 0000 0000 0341)', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_chargeCustomerFail');
      const result = await charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id });
      expect(result.status).toBe('failed');
      expect(result.id).toMatch(/^pi_/);
      expect(result.paymentMethodId).toBe(saved.id);
      expect(result.failure).toMatchObject({ code: GatewayErrorCode.CARD_DECLINED, gatewayCode: 'generic_decline' });
      expect(result.failure!.message).toMatch(/card was declined/i);
      expect(await gateway.getCharge(result.id)).toMatchObject({ status: 'failed', failure: { code: GatewayErrorCode.CARD_DECLINED } });
    });

    it('replays the same charge for the same idempotency key, and refuses the key with another amount', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      const input = { gatewayCustomerId: customer.id, paymentMethodId: saved.id, idempotencyKey: key() };
      const first = await charge(input);
      const again = await charge(input);
      expect(again.id).toBe(first.id);
      expect(again.status).toBe('succeeded');
      const other = await charge({ ...input, idempotencyKey: key() });
      expect(other.id).not.toBe(first.id);
      const error = await refusal(charge({ ...input, amount: 99n }));
      expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(error.gatewayCode).toBe('idempotency_error');
      expect(error.retryable).toBe(false);
    });

    it('replays a declined charge as the same failed charge', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_chargeCustomerFail');
      const input = { gatewayCustomerId: customer.id, paymentMethodId: saved.id, idempotencyKey: key() };
      const first = await charge(input);
      const again = await charge(input);
      expect(again).toMatchObject({ id: first.id, status: 'failed', failure: { code: GatewayErrorCode.CARD_DECLINED } });
    });

    it('debits a bank account: processing, then succeeded once the bank answers', async () => {
      const customer = await newCustomer();
      const saved = await save(customer.id, await h.bankToken('success'), online());
      const result = await charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id, amount: 250_000n });
      expect(result).toMatchObject({ status: 'processing', amount: 250_000n, currency: 'USD', paymentMethodId: saved.id, failure: null });
      expect((await gateway.getCharge(result.id)).status).toBe('processing');
      expect(await h.settle(result.id)).toMatchObject({ id: result.id, status: 'succeeded', failure: null });
      expect((await gateway.getCharge(result.id)).status).toBe('succeeded');
    });

    it.each([
      ['insufficientFunds', GatewayErrorCode.INSUFFICIENT_FUNDS, 'insufficient_funds', /insufficient funds/i],
      ['debitNotAuthorized', GatewayErrorCode.BANK_ACCOUNT_REJECTED, 'debit_not_authorized', /not authorized/i],
    ] as const)('debits the %s test account: processing, then failed with the bank\'s reason', async (outcome, code, gatewayCode, message) => {
      const customer = await newCustomer();
      const saved = await save(customer.id, await h.bankToken(outcome), offline());
      const result = await charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id });
      expect(result.status).toBe('processing');
      const settled = await h.settle(result.id);
      expect(settled).toMatchObject({ id: result.id, status: 'failed', paymentMethodId: saved.id, failure: { code, gatewayCode } });
      expect(settled.failure!.message).toMatch(message);
      expect(await gateway.getCharge(result.id)).toMatchObject({ status: 'failed', failure: { code } });
    });

    it('asks for authentication on a card that needs 3-D Secure: refused off-session, requires_action with the customer present', async () => {
      const offSession = await charge({ gatewayCustomerId: null, paymentMethodId: 'pm_card_authenticationRequired' });
      expect(offSession).toMatchObject({ status: 'failed', failure: { code: GatewayErrorCode.AUTHENTICATION_REQUIRED } });
      const present = await charge({ gatewayCustomerId: null, paymentMethodId: 'pm_card_authenticationRequired', offSession: false });
      expect(present).toMatchObject({ status: 'requires_action', failure: null });
    });

    it('answers NOT_FOUND for an unknown or detached method, an unknown customer or charge', async () => {
      const customer = await newCustomer();
      expect((await refusal(charge({ gatewayCustomerId: customer.id, paymentMethodId: 'pm_doesnotexist123' }))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(charge({ gatewayCustomerId: 'cus_doesnotexist', paymentMethodId: 'pm_card_visa' }))).code).toBe(GatewayErrorCode.NOT_FOUND);
      expect((await refusal(gateway.getCharge('pi_doesnotexist123'))).code).toBe(GatewayErrorCode.NOT_FOUND);
      const saved = await save(customer.id, 'pm_card_visa');
      await gateway.detachPaymentMethod(saved.id);
      const detached = await refusal(charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id }));
      expect(detached.code).toBe(GatewayErrorCode.NOT_FOUND);
      expect(detached.message).toMatch(/detached/i);
    });

    it("refuses a method attached to another customer, or charged without naming its customer", async () => {
      const owner = await newCustomer();
      const other = await newCustomer();
      const saved = await save(owner.id, 'pm_card_visa');
      expect((await refusal(charge({ gatewayCustomerId: other.id, paymentMethodId: saved.id }))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect((await refusal(charge({ gatewayCustomerId: null, paymentMethodId: saved.id }))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect((await charge({ gatewayCustomerId: owner.id, paymentMethodId: saved.id })).status).toBe('succeeded');
    });

    it.each([
      ['an amount of 0', { amount: 0n }],
      ['a negative amount', { amount: -100n }],
      ['a currency that is not an ISO code', { currency: 'XX' }],
      ['an unknown currency', { currency: 'ABC' }],
    ])('refuses %s', async (_what, over) => {
      const customer = await newCustomer();
      const saved = await save(customer.id, 'pm_card_visa');
      const error = await refusal(charge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id, ...over }));
      expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
      expect(error.message).toMatch(Object.keys(over)[0]!);
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

/**
 * What only the Stripe adapter's charges do on the wire (the suite above checks what they answer): the
 * PaymentIntent's parameters, the caller's idempotency key, and retries of failures with that same key.
 */
const CREATE_INTENT = { method: 'POST', path: '/v1/payment_intents' };

describe('StripeGateway charges on the wire', () => {
  let server: StripeTestServer;
  let gateway: StripeGateway;
  beforeAll(async () => {
    // The adapter warns on every failure it reports; here the failures are the point.
    Logger.overrideLogger(false);
    server = await new StripeTestServer().start();
    gateway = new StripeGateway({ ...server.gatewayOptions, maxNetworkRetries: 2, timeoutMs: 2_000 });
  });
  afterAll(() => server.stop());

  async function savedMethod(token: string) {
    const { id: customerId } = await gateway.createCustomer({ organizationId: 'org-1', customerId: 'c-1', name: 'Jenny Rosen', email: null, phone: null, address: null, idempotencyKey: randomUUID() });
    const pm = await gateway.savePaymentMethod({ gatewayCustomerId: customerId, paymentMethodId: token, billingAddress: ADDRESS, mandate: offline(), idempotencyKey: randomUUID() });
    return { customerId, paymentMethodId: pm.id };
  }
  const input = (m: { customerId: string; paymentMethodId: string }, over: Partial<CreateCharge> = {}): CreateCharge => ({
    gatewayCustomerId: m.customerId,
    paymentMethodId: m.paymentMethodId,
    amount: 4_200n,
    currency: 'USD',
    description: 'Invoice INV-0007',
    metadata: { organizationId: 'org-1', invoiceId: 'inv-7' },
    offSession: true,
    idempotencyKey: `charge-${randomUUID()}`,
    ...over,
  });
  const sent = (key: string) => server.requestsTo('POST', '/v1/payment_intents').filter((r) => r.idempotencyKey === key);
  const intents = () => [...server.objects.values()].filter((o) => o.object === 'payment_intent');

  it('creates a confirmed off-session PaymentIntent naming the method and its type, under the caller key', async () => {
    const m = await savedMethod('pm_card_visa');
    const charge = await gateway.createCharge(input(m, { idempotencyKey: 'installment:i-1:attempt:1' }));
    const [request] = sent('installment:i-1:attempt:1');
    expect(request!.body).toEqual({
      amount: '4200',
      currency: 'usd',
      customer: m.customerId,
      payment_method: m.paymentMethodId,
      confirm: 'true',
      off_session: 'true',
      allowed_payment_method_types: ['card'],
      description: 'Invoice INV-0007',
      metadata: { organizationId: 'org-1', invoiceId: 'inv-7' },
    });
    expect(server.object(charge.id)).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 4200, currency: 'usd' });
  });

  it('sends no off_session when the customer is present, and us_bank_account for a bank account', async () => {
    const card = await savedMethod('pm_card_visa');
    const onSession = input(card, { offSession: false });
    await gateway.createCharge(onSession);
    expect(sent(onSession.idempotencyKey)[0]!.body.off_session).toBeUndefined();
    const bank = input(await savedMethod('pm_usBankAccount_success'));
    expect((await gateway.createCharge(bank)).status).toBe('processing');
    expect(sent(bank.idempotencyKey)[0]!.body.allowed_payment_method_types).toEqual(['us_bank_account']);
  });

  it("charges a saved card whose kind it is given without reading the card first: one request", async () => {
    const m = await savedMethod('pm_card_visa');
    const before = server.requests.length;
    const charge = input(m, { methodKind: 'CARD' });
    expect((await gateway.createCharge(charge)).status).toBe('succeeded');
    expect(server.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/payment_intents']);
    expect(sent(charge.idempotencyKey)[0]!.body.allowed_payment_method_types).toEqual(['card']);
    const bank = input(await savedMethod('pm_usBankAccount_success'), { methodKind: 'BANK_ACCOUNT' });
    const beforeBank = server.requests.length;
    expect((await gateway.createCharge(bank)).status).toBe('processing');
    expect(server.requests.slice(beforeBank).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/payment_intents']);
    expect(sent(bank.idempotencyKey)[0]!.body.allowed_payment_method_types).toEqual(['us_bank_account']);
  });

  it('reads the method first when its kind is not given', async () => {
    const m = await savedMethod('pm_card_visa');
    const before = server.requests.length;
    expect((await gateway.createCharge(input(m))).status).toBe('succeeded');
    expect(server.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/payment_methods/${m.paymentMethodId}`, 'POST /v1/payment_intents']);
  });

  it('retries a rate-limited charge (429) in a pacer slot of its own, under the same key, and charges once', async () => {
    const paced = new StripeGateway({ ...server.gatewayOptions, maxNetworkRetries: 2, timeoutMs: 2_000, rateLimitBaseDelayMs: 60_000 });
    const slots: number[] = [];
    paced.paceRateLimitRetries(async () => {
      slots.push(server.requestsTo('POST', '/v1/payment_intents').length);
    });
    const m = await savedMethod('pm_card_visa');
    const before = intents().length;
    const charge = input(m, { methodKind: 'CARD' });
    server.failNext(429, 3, CREATE_INTENT);
    // A timer of its own would wait the 60 s base delay: the retries wait only for their slots.
    expect((await paced.createCharge(charge)).status).toBe('succeeded');
    expect(sent(charge.idempotencyKey).map((r) => r.status)).toEqual([429, 429, 429, 200]);
    expect(slots).toHaveLength(3);
    expect(intents().length).toBe(before + 1);
  });

  it('gives UNAVAILABLE for a charge still rate-limited after its paced retries, which a later ask under the key charges once', async () => {
    const paced = new StripeGateway({ ...server.gatewayOptions, maxNetworkRetries: 2, timeoutMs: 2_000, pacedRateLimitRetries: 2 });
    let slots = 0;
    paced.paceRateLimitRetries(async () => {
      slots += 1;
    });
    const m = await savedMethod('pm_card_visa');
    const charge = input(m, { methodKind: 'CARD' });
    server.failNext(429, 3, CREATE_INTENT);
    const error = await refusal(paced.createCharge(charge));
    expect(error).toMatchObject({ code: GatewayErrorCode.UNAVAILABLE, retryable: true });
    expect(slots).toBe(2);
    expect((await paced.createCharge(charge)).status).toBe('succeeded');
    expect(sent(charge.idempotencyKey).filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('retries a 500 with the same idempotency key and charges once', async () => {
    const m = await savedMethod('pm_card_visa');
    const before = intents().length;
    const charge = input(m);
    server.failNext(500, 1, CREATE_INTENT);
    expect((await gateway.createCharge(charge)).status).toBe('succeeded');
    expect(sent(charge.idempotencyKey)).toHaveLength(2);
    expect(intents().length).toBe(before + 1);
  });

  it('charges once when the answer to the first attempt was lost', async () => {
    const m = await savedMethod('pm_card_visa');
    const before = intents().length;
    const charge = input(m);
    server.failNext('lost_response', 1, CREATE_INTENT);
    const result = await gateway.createCharge(charge);
    expect(result.status).toBe('succeeded');
    const attempts = sent(charge.idempotencyKey);
    expect(attempts.map((r) => r.replayed)).toEqual([false, true]);
    expect(intents().length).toBe(before + 1);
  });

  it('gives UNAVAILABLE (retryable: the outcome is unknown) when Stripe keeps failing', async () => {
    const m = await savedMethod('pm_card_visa');
    const charge = input(m);
    server.failNext(503, 3, CREATE_INTENT);
    const error = await refusal(gateway.createCharge(charge));
    expect(error.code).toBe(GatewayErrorCode.UNAVAILABLE);
    expect(error.retryable).toBe(true);
    expect(sent(charge.idempotencyKey)).toHaveLength(3);
    // Resolved later under the same key, never by charging again under a new one.
    expect((await gateway.createCharge(charge)).status).toBe('succeeded');
  });

  it('refuses an amount beyond what a JavaScript number holds exactly, before asking Stripe', async () => {
    const m = await savedMethod('pm_card_visa');
    const charge = input(m, { amount: BigInt(Number.MAX_SAFE_INTEGER) + 1n });
    const error = await refusal(gateway.createCharge(charge));
    expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
    expect(sent(charge.idempotencyKey)).toHaveLength(0);
  });
});

/**
 * Refunds and cancellation, against both adapters. Stripe cancels a PaymentIntent in `processing` only in rare cases
 * (https://docs.stripe.com/api/payment_intents/cancel), so a processing ACH debit is refused there with a message
 * saying to refund it once it settles; the sandbox cancels it (it stands for the case Stripe allows).
 */
describe.each([
  ['sandbox', sandboxHarness],
  ['stripe', stripeHarness],
] as const)('PaymentGateway contract, refunds and cancellation: %s', (name, makeHarness) => {
  let h: Harness;
  let gateway: PaymentGateway;
  beforeAll(async () => {
    h = await makeHarness();
    gateway = h.gateway;
  });
  afterAll(() => h.close());

  const key = () => `test-${randomUUID()}`;
  async function charged(token: string, amount = 10_000n, mandate: MandateAcceptance = offline()): Promise<GatewayCharge> {
    const customer = await gateway.createCustomer({ organizationId: randomUUID(), customerId: randomUUID(), name: 'Jenny Rosen', email: null, phone: null, address: ADDRESS, idempotencyKey: key() });
    const saved = await gateway.savePaymentMethod({ gatewayCustomerId: customer.id, paymentMethodId: token, billingAddress: ADDRESS, mandate, idempotencyKey: key() });
    return gateway.createCharge({ gatewayCustomerId: customer.id, paymentMethodId: saved.id, amount, currency: 'USD', description: 'INV-0001', metadata: {}, offSession: true, idempotencyKey: key() });
  }
  const refund = (chargeId: string, amount: bigint, idempotencyKey = key()) => gateway.createRefund({ chargeId, amount, reason: 'Customer asked', idempotencyKey });

  it('refunds part of a succeeded charge, then the rest, and refuses anything more', async () => {
    const charge = await charged('pm_card_visa');
    const first = await refund(charge.id, 6_000n);
    expect(first).toMatchObject({ chargeId: charge.id, amount: 6_000n, currency: 'USD', status: 'succeeded', failure: null });
    expect(first.id).toMatch(/^re_/);
    expect(await gateway.getRefund(first.id)).toEqual(first);

    const tooMuch = await refusal(refund(charge.id, 4_001n));
    expect(tooMuch).toMatchObject({ code: GatewayErrorCode.INVALID_REQUEST, gatewayCode: 'amount_too_large', retryable: false });

    expect((await refund(charge.id, 4_000n)).status).toBe('succeeded');
    const nothingLeft = await refusal(refund(charge.id, 1n));
    expect(nothingLeft).toMatchObject({ code: GatewayErrorCode.INVALID_REQUEST, gatewayCode: 'charge_already_refunded' });
  });

  it('replays a refund for the same idempotency key, and refuses the key with another amount', async () => {
    const charge = await charged('pm_card_visa');
    const k = key();
    const first = await refund(charge.id, 2_500n, k);
    const again = await refund(charge.id, 2_500n, k);
    expect(again.id).toBe(first.id);
    // The replay took nothing more: the rest is still 7,500.
    expect((await refund(charge.id, 7_500n)).status).toBe('succeeded');
    expect((await refusal(refund(charge.id, 100n, k))).gatewayCode).toBe('idempotency_error');
  });

  it('refuses to refund a declined charge or a bank debit that has not settled', async () => {
    const declined = await charged('pm_card_chargeCustomerFail');
    expect(declined.status).toBe('failed');
    expect((await refusal(refund(declined.id, 100n))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
    const debit = await charged(await h.bankToken('success'), 10_000n, online());
    expect(debit.status).toBe('processing');
    expect((await refusal(refund(debit.id, 100n))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
    expect((await h.settle(debit.id)).status).toBe('succeeded');
    expect((await refund(debit.id, 10_000n)).status).toBe('succeeded');
  });

  it('refuses to cancel a succeeded card charge (refund it instead)', async () => {
    const charge = await charged('pm_card_visa');
    const error = await refusal(gateway.cancelCharge(charge.id, key()));
    expect(error.code).toBe(GatewayErrorCode.INVALID_REQUEST);
    expect(error.message).toMatch(/refund/i);
    expect((await gateway.getCharge(charge.id)).status).toBe('succeeded');
  });

  if (name === 'sandbox') {
    it('cancels a processing bank debit: canceled, and it never settles', async () => {
      const debit = await charged(await h.bankToken('success'), 10_000n, online());
      const k = key();
      const canceled = await gateway.cancelCharge(debit.id, k);
      expect(canceled).toMatchObject({ id: debit.id, status: 'canceled', amount: 10_000n, failure: null });
      expect((await gateway.cancelCharge(debit.id, k)).status).toBe('canceled');
      expect((await h.settle(debit.id)).status).toBe('canceled');
      expect((await refusal(refund(debit.id, 100n))).code).toBe(GatewayErrorCode.INVALID_REQUEST);
    });
  } else {
    it('refuses to cancel a processing bank debit, as Stripe does, saying to refund it once it settles', async () => {
      const debit = await charged(await h.bankToken('success'), 10_000n, online());
      const error = await refusal(gateway.cancelCharge(debit.id, key()));
      expect(error).toMatchObject({ code: GatewayErrorCode.INVALID_REQUEST, gatewayCode: 'payment_intent_unexpected_state' });
      expect(error.message).toMatch(/already processing.*settles.*refund/i);
      expect((await gateway.getCharge(debit.id)).status).toBe('processing');
    });
  }

  it('answers NOT_FOUND for an unknown charge or refund', async () => {
    expect((await refusal(refund('pi_doesnotexist123', 100n))).code).toBe(GatewayErrorCode.NOT_FOUND);
    expect((await refusal(gateway.getRefund('re_doesnotexist123'))).code).toBe(GatewayErrorCode.NOT_FOUND);
    expect((await refusal(gateway.cancelCharge('pi_doesnotexist123', key()))).code).toBe(GatewayErrorCode.NOT_FOUND);
  });
});

describe('in the app with Stripe, a rate-limited charge is retried in a ChargePacer slot', () => {
  let server: StripeTestServer;
  let t: TestApp;
  beforeAll(async () => {
    server = await new StripeTestServer().start();
    t = await startTestApp({ env: { PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: server.secretKey, STRIPE_API_URL: server.url } });
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  it('each 429 retry waits for a slot of the shared pacer (the same key, one PaymentIntent)', async () => {
    const gateway = t.app.get(PaymentGateway);
    const pacer = t.app.get(ChargePacer);
    const acquire = pacer.acquire.bind(pacer);
    let slots = 0;
    pacer.acquire = async () => {
      slots += 1;
      return acquire();
    };
    try {
      const idempotencyKey = `charge-${randomUUID()}`;
      server.failNext(429, 2, CREATE_INTENT);
      const charge = await gateway.createCharge({
        gatewayCustomerId: null,
        paymentMethodId: 'pm_card_visa',
        methodKind: 'CARD',
        amount: 1_500n,
        currency: 'USD',
        description: 'Invoice INV-0042',
        metadata: { organizationId: 'org-1' },
        offSession: true,
        idempotencyKey,
      });
      expect(charge.status).toBe('succeeded');
      expect(slots).toBe(2);
      const sent = server.requestsTo('POST', '/v1/payment_intents').filter((r) => r.idempotencyKey === idempotencyKey);
      expect(sent.map((r) => r.status)).toEqual([429, 429, 200]);
    } finally {
      pacer.acquire = acquire;
    }
  });
});
