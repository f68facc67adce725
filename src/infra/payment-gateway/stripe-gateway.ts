import { Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { normalizeAddress, type PostalAddress } from '#libs/ddd/index.js';
import {
  type CreateCharge,
  type CreateGatewayCustomer,
  type CreateRefund,
  type CreateSetupSession,
  type GatewayCharge,
  GatewayError,
  type GatewayRefund,
  GatewayErrorCode,
  type GatewayMethodKind,
  type GatewayPaymentMethod,
  type GatewayWebhookEvent,
  type MandateAcceptance,
  PaymentGateway,
  type SavePaymentMethod,
  type SetupSession,
  WebhookSignatureError,
} from './payment-gateway.js';
import { gatewayErrorFromStripe } from './stripe-error-mapping.js';

export interface StripeGatewayOptions {
  secretKey: string;
  /** Where the API is: api.stripe.com in production, a local test server in tests. */
  host: string;
  port: number;
  protocol: 'http' | 'https';
  /** Automatic retries of connection errors, 409 and 5xx, with the same idempotency key. */
  maxNetworkRetries?: number;
  /** Per request, in milliseconds. */
  timeoutMs?: number;
  /**
   * Retries of a 429 (rate limited), which the SDK does not retry: with exponential backoff and jitter and the same
   * request (so the same idempotency key). Defaults to maxNetworkRetries; all of them within rateLimitBudgetMs.
   */
  rateLimitRetries?: number;
  /** The first 429 backoff, doubled on each retry (with jitter: 50–100 % of it); default 500 ms. */
  rateLimitBaseDelayMs?: number;
  /** No 429 retry starts later than this after the first try; default 30 s. */
  rateLimitBudgetMs?: number;
  /**
   * Retries of a refused charge once `paceRateLimitRetries` gave the ChargePacer: each waits for a pacer slot (no
   * timer of its own), so more of them fit in the budget; default 6.
   */
  pacedRateLimitRetries?: number;
  /** The webhook endpoint's signing secret (whsec_…); without it verifyWebhook refuses every delivery. */
  webhookSecret?: string;
  /** Settle's clock: a webhook signed more than 300 s before it is stale (tests move the clock). */
  now?: () => Date;
}

const KIND_TO_STRIPE: Record<GatewayMethodKind, 'card' | 'us_bank_account'> = { CARD: 'card', BANK_ACCOUNT: 'us_bank_account' };

/**
 * The PaymentGateway over Stripe's API with the official SDK. Cards and bank accounts are collected by Stripe
 * (Stripe.js, Checkout in setup mode) and arrive as PaymentMethod ids; saving one is a confirmed off-session
 * SetupIntent, so the bank verifies it before we keep it. Every create carries the caller's idempotency key, and the
 * SDK retries connection failures and 5xx answers with that same key, so a retry never creates a second object.
 */
export class StripeGateway extends PaymentGateway {
  readonly name = 'stripe' as const;
  private readonly stripe: Stripe;
  private readonly logger = new Logger(StripeGateway.name);
  private readonly rateLimit: { retries: number; pacedRetries: number; baseDelayMs: number; budgetMs: number };
  /** The ChargePacer's acquire, once given (paceRateLimitRetries): a 429'd charge waits for a slot, not a timer. */
  private chargeSlot: (() => Promise<unknown>) | null = null;
  private readonly webhookSecret: string | undefined;
  private readonly now: () => Date;

  constructor(options: StripeGatewayOptions) {
    super();
    this.webhookSecret = options.webhookSecret;
    this.now = options.now ?? (() => new Date());
    this.rateLimit = {
      retries: options.rateLimitRetries ?? options.maxNetworkRetries ?? 2,
      pacedRetries: options.pacedRateLimitRetries ?? 6,
      baseDelayMs: options.rateLimitBaseDelayMs ?? 500,
      budgetMs: options.rateLimitBudgetMs ?? 30_000,
    };
    this.stripe = new Stripe(options.secretKey, {
      host: options.host,
      port: options.port,
      protocol: options.protocol,
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      timeout: options.timeoutMs ?? 20_000,
      telemetry: false,
      appInfo: { name: 'Settle' },
    });
  }

  async createCustomer(input: CreateGatewayCustomer): Promise<{ id: string }> {
    const a = input.address ? normalizeAddress(input.address) : null;
    const customer = await this.call('create a customer', () =>
      this.stripe.customers.create(
        {
          name: input.name,
          email: input.email ?? undefined,
          phone: input.phone ?? undefined,
          address: a ? toStripeAddress(a) : undefined,
          metadata: { organizationId: input.organizationId, customerId: input.customerId },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return { id: customer.id };
  }

  override paceRateLimitRetries(acquire: (() => Promise<unknown>) | null): void {
    this.chargeSlot = acquire;
  }

  async describePaymentMethod(paymentMethodId: string): Promise<GatewayPaymentMethod> {
    const pm = await this.retrieve(paymentMethodId);
    return toGatewayPaymentMethod(pm);
  }

  async savePaymentMethod(input: SavePaymentMethod): Promise<GatewayPaymentMethod> {
    // The type decides the SetupIntent's parameters (a bank account needs a mandate). The SetupIntent itself names
    // the token as given, so a retried call sends the same body under the same idempotency key even for a test token
    // such as pm_card_visa, which Stripe turns into a new pm_ on every use.
    const described = await this.retrieve(input.paymentMethodId);
    const type = described.type === 'us_bank_account' ? 'us_bank_account' : 'card';
    // A legacy token is single-use and was just turned into a PaymentMethod: confirm that one.
    const paymentMethod = input.paymentMethodId.trim().startsWith('tok_') ? described.id : input.paymentMethodId.trim();
    const intent = await this.call('verify the payment method', () =>
      this.stripe.setupIntents.create(
        {
          customer: input.gatewayCustomerId,
          payment_method: paymentMethod,
          confirm: true,
          usage: 'off_session',
          allowed_payment_method_types: [type],
          ...(type === 'us_bank_account' ? { mandate_data: { customer_acceptance: customerAcceptance(input.mandate) } } : {}),
          expand: ['payment_method'],
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    if (intent.status === 'requires_action') {
      const microdeposits = intent.next_action?.type === 'verify_with_microdeposits';
      throw new GatewayError(
        GatewayErrorCode.AUTHENTICATION_REQUIRED,
        microdeposits
          ? 'The bank account must be verified with micro-deposits: the customer must save it themselves on the hosted page'
          : "The card's bank requires the customer to authenticate it (3-D Secure): they must save it themselves on the hosted page",
        microdeposits ? 'verify_with_microdeposits' : 'authentication_required',
      );
    }
    if (intent.status !== 'succeeded' || !intent.payment_method) {
      const error = intent.last_setup_error;
      if (error) throw gatewayErrorFromStripe({ ...error, statusCode: 402 });
      throw new GatewayError(GatewayErrorCode.CARD_DECLINED, `The payment method was not verified (SetupIntent ${intent.id} is ${intent.status})`, intent.status);
    }
    let pm = typeof intent.payment_method === 'string' ? await this.retrieve(intent.payment_method) : intent.payment_method;
    const wanted = toStripeAddress(normalizeAddress(input.billingAddress));
    if (!sameAddress(pm.billing_details?.address ?? null, wanted)) {
      // Stripe only lets a method's details change once it is attached, i.e. after the SetupIntent.
      const id = pm.id;
      pm = await this.call('record the billing address', () =>
        this.stripe.paymentMethods.update(id, { billing_details: { address: wanted } }, { idempotencyKey: `${input.idempotencyKey}:billing-address` }),
      );
    }
    return toGatewayPaymentMethod(pm);
  }

  async updateCardExpiry(paymentMethodId: string, expMonth: number, expYear: number): Promise<GatewayPaymentMethod> {
    const pm = await this.call('update the card expiry', () =>
      this.stripe.paymentMethods.update(paymentMethodId, { card: { exp_month: expMonth, exp_year: expYear } }),
    );
    return toGatewayPaymentMethod(pm);
  }

  async detachPaymentMethod(paymentMethodId: string): Promise<void> {
    try {
      await this.call('detach the payment method', () => this.stripe.paymentMethods.detach(paymentMethodId));
    } catch (error) {
      // Stripe refuses to detach a method that is not attached; for us that is already done.
      if (error instanceof GatewayError && error.gatewayCode === 'payment_method_unexpected_state') {
        const pm = await this.retrieve(paymentMethodId);
        if (!pm.customer) return;
      }
      throw error;
    }
  }

  async createSetupSession(input: CreateSetupSession): Promise<SetupSession> {
    const session = await this.call('create a setup session', () =>
      this.stripe.checkout.sessions.create(
        {
          mode: 'setup',
          customer: input.gatewayCustomerId,
          // Checkout fills in its own placeholder; ours is spelled {SESSION_ID} so callers do not depend on Stripe's.
          success_url: input.successUrl.replaceAll('{SESSION_ID}', '{CHECKOUT_SESSION_ID}'),
          cancel_url: input.cancelUrl,
          allowed_payment_method_types: [...new Set(input.kinds)].map((k) => KIND_TO_STRIPE[k]),
          metadata: { reference: input.reference },
          setup_intent_data: { metadata: { reference: input.reference } },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toSetupSession(session);
  }

  async getSetupSession(sessionId: string): Promise<SetupSession> {
    const session = await this.call('read the setup session', () =>
      this.stripe.checkout.sessions.retrieve(sessionId, { expand: ['setup_intent'] }),
    );
    return toSetupSession(session);
  }

  /**
   * A PaymentIntent created and confirmed at once, under the caller's idempotency key (the SDK's retries reuse it).
   * The request names the method's type in `allowed_payment_method_types` (API 2026-10-28's name; without it Stripe
   * would turn on automatic payment methods, which need a return_url): the caller's `methodKind`, or else the method
   * is read first to learn it (a legacy tok_ token always is: it must become a PaymentMethod). A decline is Stripe's 402 card error
   * with the PaymentIntent embedded: it comes back as a `failed` charge with the reason, not as an exception.
   */
  async createCharge(input: CreateCharge): Promise<GatewayCharge> {
    if (typeof input.amount !== 'bigint' || input.amount <= 0n) {
      throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `amount: must be a whole number of minor units more than zero, got ${String(input.amount)}`, 'parameter_invalid_integer');
    }
    if (input.amount > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `amount: ${input.amount} minor units is more than can be sent to Stripe`, 'amount_too_large');
    }
    const currency = String(input.currency ?? '').trim();
    if (!/^[A-Za-z]{3}$/.test(currency)) {
      throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `currency: '${currency}' is not an ISO 4217 currency code such as USD`, 'parameter_invalid_string');
    }
    let paymentMethod = input.paymentMethodId.trim();
    let type: 'card' | 'us_bank_account';
    if (input.methodKind && input.methodKind in KIND_TO_STRIPE && !paymentMethod.startsWith('tok_')) {
      // The wallet knows the type: no read first (a charge is one request, not two, under Stripe's rate limit).
      type = KIND_TO_STRIPE[input.methodKind];
    } else {
      const described = await this.retrieve(paymentMethod);
      type = described.type === 'us_bank_account' ? 'us_bank_account' : 'card';
      // A legacy token was just turned into a PaymentMethod by retrieve(): charge that one.
      if (paymentMethod.startsWith('tok_')) paymentMethod = described.id;
    }
    const requested = input.paymentMethodId.trim();
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.rateLimited(
        () =>
          this.stripe.paymentIntents.create(
            {
              amount: Number(input.amount),
              currency: currency.toLowerCase(),
              ...(input.gatewayCustomerId ? { customer: input.gatewayCustomerId } : {}),
              payment_method: paymentMethod,
              confirm: true,
              ...(input.offSession ? { off_session: true } : {}),
              allowed_payment_method_types: [type],
              description: input.description,
              metadata: input.metadata,
            },
            { idempotencyKey: input.idempotencyKey },
          ),
        this.chargeSlot,
      );
    } catch (error) {
      if (error instanceof Stripe.errors.StripeError && error.payment_intent && (error.rawType === 'card_error' || error.statusCode === 402)) {
        const mapped = this.translate('charge the payment method', error);
        return toGatewayCharge(error.payment_intent, { code: mapped.code, gatewayCode: mapped.gatewayCode, message: mapped.message }, requested);
      }
      const mapped = this.translate('charge the payment method', error);
      // Stripe refuses a method that was detached from its customer ("... may not be used again"): it is gone.
      if (mapped.code === GatewayErrorCode.INVALID_REQUEST && /detached from a Customer|may not be used again/i.test(mapped.message)) {
        throw new GatewayError(GatewayErrorCode.NOT_FOUND, mapped.message, mapped.gatewayCode);
      }
      throw mapped;
    }
    return toGatewayCharge(intent, null, requested);
  }

  async getCharge(chargeId: string): Promise<GatewayCharge> {
    const intent = await this.call('read the charge', () => this.stripe.paymentIntents.retrieve(chargeId.trim()));
    return toGatewayCharge(intent, null, null);
  }

  /**
   * A Refund of the PaymentIntent (Stripe refunds its charge), under the caller's idempotency key. Stripe itself
   * refuses more than is left (`amount_too_large`, `charge_already_refunded`): those come back as INVALID_REQUEST.
   */
  async createRefund(input: CreateRefund): Promise<GatewayRefund> {
    if (typeof input.amount !== 'bigint' || input.amount <= 0n || input.amount > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `amount: must be a whole number of minor units more than zero, got ${String(input.amount)}`, 'parameter_invalid_integer');
    }
    const refund = await this.call('refund the charge', () =>
      this.stripe.refunds.create(
        {
          payment_intent: input.chargeId.trim(),
          amount: Number(input.amount),
          // Stripe's `reason` is an enum (duplicate, fraudulent, requested_by_customer); ours is words, kept in metadata.
          metadata: { reason: (input.reason ?? '').slice(0, 500) },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toGatewayRefund(refund, input.chargeId.trim());
  }

  async getRefund(refundId: string): Promise<GatewayRefund> {
    const refund = await this.call('read the refund', () => this.stripe.refunds.retrieve(refundId.trim()));
    return toGatewayRefund(refund, null);
  }

  /**
   * Stripe cancels a PaymentIntent in `processing` only in rare cases (https://docs.stripe.com/api/payment_intents/cancel):
   * an ACH debit already sent to the bank is refused with payment_intent_unexpected_state. That refusal is answered
   * in words: the debit must settle, then be refunded. A succeeded or failed intent is refused the same way.
   */
  async cancelCharge(chargeId: string, idempotencyKey: string): Promise<GatewayCharge> {
    const id = chargeId.trim();
    try {
      const intent = await this.call('cancel the bank debit', () =>
        this.stripe.paymentIntents.cancel(id, { cancellation_reason: 'requested_by_customer' }, { idempotencyKey }),
      );
      return toGatewayCharge(intent, null, null);
    } catch (error) {
      if (error instanceof GatewayError && error.gatewayCode === 'payment_intent_unexpected_state') {
        const current = await this.getCharge(id);
        if (current.status === 'canceled') return current;
        throw new GatewayError(
          GatewayErrorCode.INVALID_REQUEST,
          current.status === 'processing'
            ? `Stripe can no longer cancel this bank debit: the bank is already processing it. Wait until it settles, then refund it (${error.message})`
            : `Only a processing bank debit can be cancelled; this charge is ${current.status}${current.status === 'succeeded' ? ': refund it instead' : ''}`,
          'payment_intent_unexpected_state',
        );
      }
      throw error;
    }
  }

  verifyWebhook(rawBody: Buffer, signatureHeader: string | undefined): GatewayWebhookEvent {
    if (!this.webhookSecret) {
      this.logger.warn('a webhook arrived but STRIPE_WEBHOOK_SECRET is not set: it cannot be verified and is refused');
      throw new WebhookSignatureError('Webhooks are not configured: set STRIPE_WEBHOOK_SECRET to the endpoint signing secret');
    }
    if (!signatureHeader) throw new WebhookSignatureError('The Stripe-Signature header is missing');
    let event: Stripe.Event;
    try {
      // The SDK's default tolerance (300 s), measured against Settle's clock.
      event = this.stripe.webhooks.constructEvent(rawBody, signatureHeader, this.webhookSecret, undefined, undefined, this.now().getTime());
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) throw new WebhookSignatureError(error.message);
      // Signed, but not an event we can read (not JSON): refused like a bad signature, never handled.
      throw new WebhookSignatureError(`The webhook body is not a Stripe event: ${error instanceof Error ? error.message : String(error)}`);
    }
    return webhookEventOf(event as unknown as StripeEventLike);
  }

  private retrieve(paymentMethodId: string): Promise<Stripe.PaymentMethod> {
    const id = paymentMethodId.trim();
    // A legacy card token (tok_visa, or one from Stripe.js v2) becomes a PaymentMethod the way Stripe documents.
    if (id.startsWith('tok_')) {
      return this.call('read the payment method', () => this.stripe.paymentMethods.create({ type: 'card', card: { token: id } }));
    }
    return this.call('read the payment method', () => this.stripe.paymentMethods.retrieve(id));
  }

  /** Runs one SDK call and turns whatever Stripe (or the network) answered into a GatewayError. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.rateLimited(fn);
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  /**
   * The SDK retries connection errors, 409 and 5xx (and whatever Stripe marks Stripe-Should-Retry) with backoff, but
   * not a plain 429. Stripe did no work on a 429, so the same request is sent again — the same closure, so the same
   * idempotency key — after an exponential, jittered pause (Retry-After if Stripe gave one), a bounded number of
   * times within a time budget; then the 429 surfaces as UNAVAILABLE (retryable). With `slot` (a charge, once the
   * ChargePacer was given) the retry instead waits for the pacer's next slot, like every other charge: it takes its
   * turn in the paced stream rather than landing on top of it, and a few more retries fit in the same budget.
   */
  private async rateLimited<T>(fn: () => Promise<T>, slot: (() => Promise<unknown>) | null = null): Promise<T> {
    const started = Date.now();
    const retries = slot ? this.rateLimit.pacedRetries : this.rateLimit.retries;
    for (let retry = 1; ; retry++) {
      try {
        return await fn();
      } catch (error) {
        const limited = error instanceof Stripe.errors.StripeError && (error.statusCode === 429 || error instanceof Stripe.errors.StripeRateLimitError);
        if (!limited || retry > retries) throw error;
        const retryAfter = Number((error.headers as Record<string, string> | undefined)?.['retry-after']);
        if (slot && !(Number.isFinite(retryAfter) && retryAfter > 0)) {
          if (Date.now() - started > this.rateLimit.budgetMs) throw error;
          this.logger.warn(`Stripe rate-limited a charge (429); retry ${retry} of ${retries} in the next pacer slot`);
          await slot();
          continue;
        }
        const backoff = this.rateLimit.baseDelayMs * 2 ** (retry - 1);
        const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff * (0.5 + Math.random() / 2);
        if (Date.now() - started + delay > this.rateLimit.budgetMs) throw error;
        this.logger.warn(`Stripe rate-limited a request (429); retry ${retry} of ${retries} in ${Math.round(delay)} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private translate(what: string, error: unknown): GatewayError {
    if (error instanceof GatewayError) return error;
    if (error instanceof Stripe.errors.StripeConnectionError) {
      this.logger.warn(`Stripe did not answer while trying to ${what}: ${error.message}`);
      return new GatewayError(GatewayErrorCode.UNAVAILABLE, `Stripe did not answer while trying to ${what}: ${error.message}`, 'connection_error', true);
    }
    if (error instanceof Stripe.errors.StripeError) {
      const mapped = gatewayErrorFromStripe({
        type: error.rawType ?? null,
        code: error.code ?? null,
        decline_code: error.decline_code ?? null,
        message: error.message,
        param: error.param ?? null,
        statusCode: error.statusCode ?? null,
      });
      if (mapped.code === GatewayErrorCode.UNAVAILABLE) {
        this.logger.warn(`Stripe failed to ${what}: ${error.statusCode ?? ''} ${error.rawType ?? error.type} ${error.message} (request ${error.requestId ?? '?'})`);
      }
      return mapped;
    }
    // Not Stripe's: a bug of ours. Let it surface as it is.
    throw error;
  }
}

export function toGatewayPaymentMethod(pm: Stripe.PaymentMethod): GatewayPaymentMethod {
  const customer = typeof pm.customer === 'string' ? pm.customer : (pm.customer?.id ?? null);
  const billingAddress = fromStripeAddress(pm.billing_details?.address ?? null);
  if (pm.type === 'us_bank_account' && pm.us_bank_account) {
    const b = pm.us_bank_account;
    return {
      id: pm.id,
      kind: 'BANK_ACCOUNT',
      card: null,
      bankAccount: {
        bankName: b.bank_name,
        last4: b.last4 ?? '',
        accountType: b.account_type ?? 'checking',
        routingNumber: b.routing_number,
        fingerprint: b.fingerprint ?? pm.id,
      },
      billingAddress,
      customerId: customer,
    };
  }
  if (pm.type === 'card' && pm.card) {
    const c = pm.card;
    return {
      id: pm.id,
      kind: 'CARD',
      card: {
        brand: c.brand,
        last4: c.last4,
        expMonth: c.exp_month,
        expYear: c.exp_year,
        // Without a fingerprint (rare) the method is its own: no false duplicate.
        fingerprint: c.fingerprint ?? pm.id,
        funding: c.funding,
      },
      bankAccount: null,
      billingAddress,
      customerId: customer,
    };
  }
  throw new GatewayError(
    GatewayErrorCode.INVALID_REQUEST,
    `Payment method ${pm.id} is a ${pm.type}; Settle saves cards and US bank accounts only`,
    'payment_method_unsupported_type',
  );
}

/**
 * Our view of a PaymentIntent. `requires_payment_method` after a confirmation (and `canceled`) is a failed charge;
 * its reason is `failure` when the caller has it from the error, else the intent's `last_payment_error`. A declined
 * intent no longer names its method (Stripe clears it), so the method comes from the error or the request.
 */
export function toGatewayCharge(pi: Stripe.PaymentIntent, failure: GatewayCharge['failure'], requestedMethod: string | null): GatewayCharge {
  const lastError = pi.last_payment_error;
  const methodOf = (m: string | Stripe.PaymentMethod | null | undefined) => (typeof m === 'string' ? m : (m?.id ?? null));
  const paymentMethodId = methodOf(pi.payment_method) ?? methodOf(lastError?.payment_method) ?? requestedMethod ?? '';
  let status: GatewayCharge['status'];
  switch (pi.status) {
    case 'succeeded':
      status = 'succeeded';
      break;
    case 'processing':
    case 'requires_capture':
      // Not final yet: a bank debit on its way, or (not used by Settle) an authorization awaiting capture.
      status = 'processing';
      break;
    case 'requires_action':
    case 'requires_confirmation':
      status = 'requires_action';
      break;
    case 'canceled':
      // Settle cancels only processing bank debits (cancelCharge): nothing was taken, and it was not a decline.
      status = 'canceled';
      break;
    default:
      status = 'failed';
  }
  let reason = failure;
  if (status === 'failed' && !reason) {
    if (lastError) {
      const mapped = gatewayErrorFromStripe({ ...lastError, statusCode: 402 });
      reason = { code: mapped.code, gatewayCode: mapped.gatewayCode, message: mapped.message };
    } else {
      reason = {
        code: GatewayErrorCode.CARD_DECLINED,
        gatewayCode: pi.status,
        message: pi.status === 'canceled' ? 'The payment was canceled at the gateway' : `The payment did not go through (PaymentIntent ${pi.id} is ${pi.status})`,
      };
    }
  }
  return {
    id: pi.id,
    status,
    amount: BigInt(pi.amount),
    currency: pi.currency.toUpperCase(),
    paymentMethodId,
    failure: status === 'failed' ? reason : null,
    createdAt: new Date(pi.created * 1000),
  };
}

export function toGatewayRefund(r: Stripe.Refund, requestedCharge: string | null): GatewayRefund {
  const pi = typeof r.payment_intent === 'string' ? r.payment_intent : (r.payment_intent?.id ?? requestedCharge ?? '');
  // requires_action (rare: some bank refunds need the customer's details) counts as pending; canceled as failed.
  const status: GatewayRefund['status'] = r.status === 'succeeded' ? 'succeeded' : r.status === 'failed' || r.status === 'canceled' ? 'failed' : 'pending';
  return {
    id: r.id,
    chargeId: pi,
    amount: BigInt(r.amount),
    currency: r.currency.toUpperCase(),
    status,
    failure:
      status === 'failed'
        ? { code: GatewayErrorCode.INVALID_REQUEST, gatewayCode: r.failure_reason ?? r.status ?? null, message: `The refund failed at Stripe (${r.failure_reason ?? r.status})` }
        : null,
    createdAt: new Date(r.created * 1000),
  };
}

/** The parts of a Stripe Event Settle reads (the sandbox sends the same shape). */
export interface StripeEventLike {
  id?: unknown;
  type?: unknown;
  created?: unknown;
  data?: { object?: { object?: unknown; id?: unknown } & Record<string, unknown> };
}

/** A verified Stripe-shaped event as the port reports it; the charge only for payment_intent.* events. */
export function webhookEventOf(event: StripeEventLike): GatewayWebhookEvent {
  if (typeof event?.id !== 'string' || !event.id || typeof event.type !== 'string' || !event.type) {
    throw new WebhookSignatureError('The webhook body is not an event: it has no id or type');
  }
  const object = event.data?.object;
  const isIntent = event.type.startsWith('payment_intent.') && object?.object === 'payment_intent' && typeof object.id === 'string';
  return {
    id: event.id,
    type: event.type,
    created: new Date(Number(event.created ?? 0) * 1000),
    data: isIntent ? chargeOrNull(object as unknown as Stripe.PaymentIntent) : null,
  };
}

/** The event's copy of the charge is only a hint (handlers re-read it): one we cannot read is no charge. */
function chargeOrNull(pi: Stripe.PaymentIntent): GatewayCharge | null {
  try {
    return toGatewayCharge(pi, null, null);
  } catch {
    return null;
  }
}

function toSetupSession(s: Stripe.Checkout.Session): SetupSession {
  const intent = s.setup_intent;
  const pm = intent && typeof intent !== 'string' ? intent.payment_method : null;
  return {
    id: s.id,
    url: s.url,
    status: s.status === 'complete' ? 'complete' : s.status === 'expired' ? 'expired' : 'open',
    gatewayCustomerId: typeof s.customer === 'string' ? s.customer : (s.customer?.id ?? null),
    paymentMethodId: typeof pm === 'string' ? pm : (pm?.id ?? null),
    reference: s.metadata?.reference ?? null,
    expiresAt: s.expires_at ? new Date(s.expires_at * 1000) : null,
  };
}

function customerAcceptance(m: MandateAcceptance): Stripe.SetupIntentCreateParams.MandateData.CustomerAcceptance {
  const acceptedAt = Math.floor(m.acceptedAt.getTime() / 1000);
  return m.type === 'online'
    ? { type: 'online', accepted_at: acceptedAt, online: { ip_address: m.ipAddress, user_agent: m.userAgent } }
    : { type: 'offline', accepted_at: acceptedAt };
}

type StripeAddress = { line1: string; line2: string; city: string; state: string; postal_code: string; country: string };

function toStripeAddress(a: PostalAddress): StripeAddress {
  return { line1: a.line1, line2: a.line2 ?? '', city: a.city, state: a.region ?? '', postal_code: a.postalCode, country: a.country };
}

function fromStripeAddress(a: Stripe.Address | null): PostalAddress | null {
  if (!a?.line1 || !a.city || !a.postal_code || !a.country) return null;
  return normalizeAddress({ line1: a.line1, line2: a.line2, city: a.city, region: a.state, postalCode: a.postal_code, country: a.country });
}

function sameAddress(a: Stripe.Address | null, b: StripeAddress): boolean {
  if (!a) return false;
  return (['line1', 'line2', 'city', 'state', 'postal_code', 'country'] as const).every((k) => (a[k] ?? '') === b[k]);
}
