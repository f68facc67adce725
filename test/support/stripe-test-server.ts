import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isCurrencyCode } from '#libs/money/index.js';
import {
  chargeOutcome,
  checkBankAccount,
  checkCard,
  checkExpiry,
  fingerprintOf,
  type SandboxBankOutcome,
  type SandboxCardOutcome,
  debitSettlement,
  GENERIC_DEBIT_RETURN,
  MAX_CHARGE_AMOUNT,
  setupRefusal,
  type StripeLikeError,
  testToken,
  type TestToken,
} from '../../src/infra/payment-gateway/sandbox/sandbox-test-numbers.js';

/**
 * A local stand-in for Stripe's API (https://docs.stripe.com/api), written by us, so the StripeGateway runs the real
 * `stripe` SDK in tests without reaching Stripe. It speaks the wire protocol the SDK speaks: Bearer auth, form-encoded
 * bodies in bracket notation (`card[exp_month]`, `expand[0]`), Stripe's error bodies and status codes, `Idempotency-Key`
 * (same key + same body replays the first answer; another body is refused), and Stripe's test tokens and card numbers
 * with their documented outcomes.
 *
 * Implemented: customers (create, retrieve), payment_methods (create, retrieve, update, attach, detach), setup_intents
 * (create with confirm, retrieve), checkout/sessions in setup mode (create, retrieve with expand, expire),
 * payment_intents (create with confirm, retrieve: cards succeed or are declined with a 402 card_error embedding the
 * intent; bank debits stay `processing` until the test settles them; cancel, refused for a processing debit as at
 * Stripe), refunds (create, retrieve: never more than the charge has left). New resources are added with `route()`
 * and the helpers below.
 *
 * Test controls: `completeCheckoutSession(id, token)` does what a customer does on Checkout's page;
 * `settlePaymentIntent(id, result?)` is the bank's later answer to a processing debit; `failNext(...)`
 * injects a 5xx, a 429, a timeout, a reset connection or a response lost after the work was done; `limitRate(n)`
 * answers 429 above n requests per second (reads and writes apart, like Stripe); `requests` logs what the SDK sent.
 */

export type Params = { [key: string]: string | Params | Params[] | string[] | undefined };
type StripeObject = Record<string, unknown> & { id: string; object: string };

export interface StripeRequest {
  method: string;
  path: string;
  /** Captures of the route pattern (`:id`). */
  params: Record<string, string>;
  query: Params;
  body: Params;
  headers: IncomingMessage['headers'];
}

export interface StripeResponse {
  status: number;
  body: unknown;
}

export type Route = (req: StripeRequest) => StripeResponse;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Params;
  body: Params;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  /** 0 when no answer was sent (timeout, reset, lost response). */
  status: number;
  /** An idempotent replay of an earlier answer. */
  replayed: boolean;
  injected: Failure | null;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** A status code to answer with (500, 502, 503, 429), or a network failure. */
export type Failure = number | 'timeout' | 'network' | 'lost_response';

/** A refusal in Stripe's words: `{ error: { type, code, decline_code, message, param } }` with its HTTP status. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: { type: string; code?: string; decline_code?: string; message: string; param?: string } & Record<string, unknown>,
  ) {
    super(error.message);
  }
}

const FINGERPRINT_SALT = 'stripe-test-server';

export class StripeTestServer {
  readonly secretKey = `sk_test_settlelocal${randomBytes(8).toString('hex')}`;
  readonly requests: RecordedRequest[] = [];
  /** Every object the server holds, by id. */
  readonly objects = new Map<string, StripeObject>();
  private readonly routes: { method: string; pattern: RegExp; names: string[]; handler: Route }[] = [];
  private readonly failures: { failure: Failure; only?: { method: string; path: string } }[] = [];
  private readonly idempotency = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  private readonly sockets = new Set<Socket>();
  /** What each payment method does when set up or charged (Stripe keeps this behind the test number). */
  private readonly behaviour = new Map<string, TestToken>();
  /** Methods detached from their customer: Stripe never lets them be used again. */
  private readonly detached = new Set<string>();
  private server?: http.Server;
  private port = 0;
  /** limitRate: requests allowed per second and per kind (Stripe counts reads and writes apart), and when each was let through. */
  private rateLimit: number | null = null;
  private readonly admitted: Record<'read' | 'write', number[]> = { read: [], write: [] };
  /** Requests refused with 429 by limitRate (not the ones failNext injected). */
  rateLimited = 0;

  constructor(private readonly now: () => Date = () => new Date()) {
    this.route('POST', '/v1/customers', (r) => this.createCustomer(r));
    this.route('GET', '/v1/customers/:id', (r) => ok(this.expand(this.must(r.params.id!, 'customer'), r.query)));
    this.route('POST', '/v1/payment_methods', (r) => this.createPaymentMethod(r));
    this.route('GET', '/v1/payment_methods/:id', (r) => ok(this.expand(this.paymentMethod(r.params.id!), r.query)));
    this.route('POST', '/v1/payment_methods/:id', (r) => this.updatePaymentMethod(r));
    this.route('POST', '/v1/payment_methods/:id/attach', (r) => this.attachPaymentMethod(r));
    this.route('POST', '/v1/payment_methods/:id/detach', (r) => this.detachPaymentMethod(r));
    this.route('POST', '/v1/setup_intents', (r) => this.createSetupIntent(r));
    this.route('GET', '/v1/setup_intents/:id', (r) => ok(this.expand(this.must(r.params.id!, 'setup_intent'), r.query)));
    this.route('POST', '/v1/checkout/sessions', (r) => this.createCheckoutSession(r));
    this.route('GET', '/v1/checkout/sessions/:id', (r) => ok(this.expand(this.must(r.params.id!, 'checkout.session'), r.query)));
    this.route('POST', '/v1/checkout/sessions/:id/expire', (r) => this.expireCheckoutSession(r));
    this.route('POST', '/v1/payment_intents', (r) => this.createPaymentIntent(r));
    this.route('GET', '/v1/payment_intents/:id', (r) => ok(this.expand(this.must(r.params.id!, 'payment_intent'), r.query)));
    this.route('POST', '/v1/payment_intents/:id/cancel', (r) => this.cancelPaymentIntent(r));
    this.route('POST', '/v1/refunds', (r) => this.createRefund(r));
    this.route('GET', '/v1/refunds/:id', (r) => ok(this.expand(this.must(r.params.id!, 'refund'), r.query)));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What StripeGateway (or STRIPE_* variables) need to reach this server. */
  get gatewayOptions() {
    return { secretKey: this.secretKey, host: '127.0.0.1', port: this.port, protocol: 'http' as const };
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /** Adds an endpoint: `route('POST', '/v1/payment_intents/:id/confirm', handler)`. A handler throws StripeApiError to refuse. */
  route(method: string, path: string, handler: Route): void {
    const names: string[] = [];
    const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
    this.routes.push({ method, pattern, names, handler });
  }

  /**
   * The next `times` requests fail this way (before any work is done, except `lost_response`); with `only`, the next
   * requests to that method and path (`{ method: 'POST', path: '/v1/payment_intents' }`), letting others through.
   */
  failNext(failure: Failure, times = 1, only?: { method: string; path: string }): void {
    for (let i = 0; i < times; i++) this.failures.push({ failure, only });
  }

  /**
   * Answers 429 (Stripe's `rate_limit_error`, nothing done) to a request that would make more than `perSecond`
   * requests of its kind in the last second — reads (GET) and writes (POST, DELETE) counted apart, as Stripe's basic
   * limiter does (25 of each per second in test mode, 100 live). `null` turns it off. `rateLimited` counts the 429s.
   */
  limitRate(perSecond: number | null): void {
    this.rateLimit = perSecond;
    this.admitted.read = [];
    this.admitted.write = [];
  }

  /** Whether limitRate lets this request through now (and counts it if so). */
  private admit(method: string): boolean {
    if (this.rateLimit === null) return true;
    const now = performance.now();
    const window = this.admitted[method === 'GET' ? 'read' : 'write'];
    while (window.length && window[0]! <= now - 1000) window.shift();
    if (window.length >= this.rateLimit) return false;
    window.push(now);
    return true;
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  object<T extends StripeObject = StripeObject>(id: string): T | undefined {
    return this.objects.get(id) as T | undefined;
  }

  /**
   * What the customer does on Checkout's page: enters a test card or account (a token such as `pm_card_visa` or
   * `pm_usBankAccount_success`), which Stripe verifies and attaches. A decline throws (the session stays open, as on
   * Stripe's page); a card that asks for 3-D Secure counts as authenticated by the customer. Returns the URL Checkout
   * redirects to.
   */
  completeCheckoutSession(sessionId: string, token: string): { redirectUrl: string } {
    const session = this.must(sessionId, 'checkout.session');
    if (session.status !== 'open') throw new Error(`checkout session ${sessionId} is ${String(session.status)}, not open`);
    const pm = this.paymentMethod(token);
    const allowed = session.allowed_payment_method_types as string[];
    if (!allowed.includes(pm.type as string)) throw new Error(`checkout session ${sessionId} does not accept ${String(pm.type)}`);
    const refusal = setupRefusal(pm.type === 'card' ? 'card' : 'bank', this.behaviourOf(pm.id));
    if (refusal && refusal !== 'requires_action') throw new StripeApiError(refusal.status, { ...stripeError(refusal) });
    const mandate =
      pm.type === 'us_bank_account'
        ? this.createMandate(pm.id, { type: 'online', accepted_at: String(this.seconds()), online: { ip_address: '127.0.0.1', user_agent: 'Stripe Checkout' } })
        : null;
    const metadata = ((session.setup_intent_data as Params | undefined)?.metadata as Params | undefined) ?? {};
    const intent = this.store({
      ...this.newSetupIntent(session.customer as string, pm.id, allowed, metadata),
      status: 'succeeded',
      mandate,
    });
    pm.customer = session.customer;
    Object.assign(session, { status: 'complete', setup_intent: intent.id });
    return { redirectUrl: String(session.success_url).replaceAll('{CHECKOUT_SESSION_ID}', sessionId) };
  }

  /**
   * The bank's answer to a processing bank debit (what Stripe's test bank does on its own days later). Without a
   * result the test account decides: 000123456789 succeeds, 000222222227 fails with insufficient_funds, 000333333335
   * with debit_not_authorized. `failed` on an account that debits fine is a generic return (bank_account_declined).
   */
  settlePaymentIntent(id: string, result?: 'succeeded' | 'failed'): StripeObject {
    const intent = this.must(id, 'payment_intent');
    if (intent.status !== 'processing') throw new Error(`payment intent ${id} is ${String(intent.status)}, not processing`);
    const pmId = intent.payment_method as string;
    const token = this.behaviour.get(pmId);
    const natural = token?.kind === 'bank' ? debitSettlement(token.account.outcome) : { status: 'succeeded' as const };
    const outcome =
      result === 'succeeded' ? { status: 'succeeded' as const } : result === 'failed' && natural.status === 'succeeded' ? { status: 'failed' as const, error: GENERIC_DEBIT_RETURN } : natural;
    const charge = this.objects.get(intent.latest_charge as string);
    if (outcome.status === 'succeeded') {
      Object.assign(intent, { status: 'succeeded', amount_received: intent.amount });
      if (charge) Object.assign(charge, { status: 'succeeded', paid: true });
    } else {
      const error = { ...stripeError(outcome.error), payment_method: structuredClone(this.objects.get(pmId)) };
      Object.assign(intent, { status: 'requires_payment_method', payment_method: null, last_payment_error: error });
      if (charge) Object.assign(charge, { status: 'failed', failure_code: outcome.error.code, failure_message: outcome.error.message });
    }
    return intent;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', this.url);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: parseForm(url.search.slice(1)),
      body: parseForm(raw),
      idempotencyKey: header(req, 'idempotency-key'),
      stripeVersion: header(req, 'stripe-version'),
      status: 0,
      replayed: false,
      injected: null,
      at: Date.now(),
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': `req_${randomBytes(7).toString('hex')}`,
        'stripe-version': record.stripeVersion ?? '2026-10-28.endive',
        ...extra,
      });
      res.end(JSON.stringify(body));
    };

    const index = this.failures.findIndex((f) => !f.only || (f.only.method === record.method && f.only.path === record.path));
    const failure = index >= 0 ? this.failures.splice(index, 1)[0]!.failure : null;
    record.injected = failure;
    if (failure === 'timeout') return; // never answers; the client gives up
    if (failure === 'network') {
      req.socket.destroy();
      return;
    }
    if (typeof failure === 'number') {
      const type = failure === 429 ? 'rate_limit_error' : 'api_error';
      const message = failure === 429 ? 'Too many requests hit the API too quickly.' : 'An unknown error occurred on our side (injected by the test).';
      return send(failure, { error: { type, message, ...(failure === 429 ? { code: 'rate_limit' } : {}) } });
    }

    if (!this.admit(record.method)) {
      this.rateLimited += 1;
      return send(429, { error: { type: 'rate_limit_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.' } });
    }

    const auth = header(req, 'authorization');
    if (!auth?.startsWith('Bearer ')) {
      return send(401, { error: { type: 'invalid_request_error', message: 'You did not provide an API key. Provide it in the Authorization header (Bearer auth).' } });
    }
    if (auth.slice(7) !== this.secretKey) {
      const masked = `${auth.slice(7, 15)}****${auth.slice(-4)}`;
      return send(401, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` } });
    }

    // Idempotency: Stripe applies it to POSTs, per API key; the parameters must match the first request's.
    const key = record.method === 'POST' ? record.idempotencyKey : null;
    const fingerprint = createHash('sha256').update(`${record.method} ${record.path} ${canonical(record.body)}`).digest('hex');
    if (key) {
      const seen = this.idempotency.get(key);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          return send(400, {
            error: {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            },
          });
        }
        record.replayed = true;
        return send(seen.status, seen.body, { 'idempotent-replayed': 'true' });
      }
    }

    const { status, body } = this.dispatch({ method: record.method, path: record.path, params: {}, query: record.query, body: record.body, headers: req.headers });
    // Like Stripe: answers are remembered under their key, except 5xx, which a retry may turn into a success.
    if (key && status < 500) this.idempotency.set(key, { fingerprint, status, body });
    if (failure === 'lost_response') {
      record.status = 0;
      req.socket.destroy();
      return;
    }
    send(status, body);
  }

  private dispatch(req: StripeRequest): StripeResponse {
    for (const r of this.routes) {
      if (r.method !== req.method) continue;
      const m = r.pattern.exec(req.path);
      if (!m) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      try {
        return r.handler({ ...req, params });
      } catch (error) {
        if (error instanceof StripeApiError) return { status: error.status, body: { error: error.error } };
        return { status: 500, body: { error: { type: 'api_error', message: `stripe-test-server: ${error instanceof Error ? error.message : String(error)}` } } };
      }
    }
    return {
      status: 404,
      body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.path}). The local Stripe test server does not implement it.` } },
    };
  }

  // ---- resources ----

  private createCustomer(r: StripeRequest): StripeResponse {
    const b = r.body;
    return ok(
      this.store({
        id: this.newId('cus_', 14),
        object: 'customer',
        created: this.seconds(),
        livemode: false,
        name: str(b.name),
        email: str(b.email),
        phone: str(b.phone),
        description: str(b.description),
        address: b.address ? addressOf(b.address as Params) : null,
        metadata: (b.metadata as Params | undefined) ?? {},
        invoice_settings: { default_payment_method: null },
      }),
    );
  }

  private createPaymentMethod(r: StripeRequest): StripeResponse {
    const b = r.body;
    const billing = billingDetails(b.billing_details as Params | undefined);
    if (b.type === 'card') {
      const card = (b.card as Params | undefined) ?? {};
      if (card.token) {
        const token = testToken(String(card.token));
        if (!token || token.kind !== 'card') throw missing('token', String(card.token), 'card[token]');
        return ok(this.newPaymentMethod(token, billing));
      }
      const checked = checkCard({ number: str(card.number) ?? '', expMonth: str(card.exp_month) ?? '', expYear: str(card.exp_year) ?? '', cvc: str(card.cvc) }, this.now(), { requireCvc: false });
      if ('status' in checked) {
        if (checked.code === 'not_a_test_number') {
          // What Stripe's test mode answers for a real card number.
          throw new StripeApiError(402, {
            type: 'card_error',
            code: 'card_declined',
            decline_code: 'test_mode_live_card',
            message: 'Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
            param: 'card[number]',
          });
        }
        throw new StripeApiError(checked.status, stripeError(checked));
      }
      const pm = this.newPaymentMethod({ kind: 'card', card: checked.card }, billing);
      Object.assign(pm.card as Params, { exp_month: checked.expMonth, exp_year: checked.expYear });
      return ok(pm);
    }
    if (b.type === 'us_bank_account') {
      const bank = (b.us_bank_account as Params | undefined) ?? {};
      if (!billing.name) throw invalid('Missing required param: billing_details[name].', 'billing_details[name]', 'parameter_missing');
      const checked = checkBankAccount({
        routingNumber: str(bank.routing_number) ?? '',
        accountNumber: str(bank.account_number) ?? '',
        accountType: str(bank.account_type),
        accountHolderType: str(bank.account_holder_type),
      });
      if ('status' in checked) throw new StripeApiError(checked.status, stripeError(checked));
      const pm = this.newPaymentMethod({ kind: 'bank', account: checked.account }, billing);
      Object.assign(pm.us_bank_account as Params, { account_type: checked.accountType, account_holder_type: checked.accountHolderType });
      return ok(pm);
    }
    throw invalid(`Invalid type: must be one of card, us_bank_account (the local test server implements these).`, 'type', 'parameter_invalid_string');
  }

  private updatePaymentMethod(r: StripeRequest): StripeResponse {
    const pm = this.must(r.params.id!, 'payment_method');
    if (!pm.customer) {
      throw invalid('You must save this PaymentMethod to a customer before you can update it.', undefined, 'payment_method_unexpected_state');
    }
    const card = r.body.card as Params | undefined;
    if (card && (card.exp_month !== undefined || card.exp_year !== undefined)) {
      if (pm.type !== 'card') throw invalid('card: this PaymentMethod is not a card.', 'card', 'parameter_unknown');
      const current = pm.card as { exp_month: number; exp_year: number };
      const expiry = checkExpiry(str(card.exp_month) ?? current.exp_month, str(card.exp_year) ?? current.exp_year, this.now());
      if ('status' in expiry) throw new StripeApiError(400, { ...stripeError(expiry), type: 'invalid_request_error' });
      Object.assign(pm.card as Params, { exp_month: expiry.expMonth, exp_year: expiry.expYear });
    }
    if (r.body.billing_details) {
      const next = billingDetails(r.body.billing_details as Params);
      const current = pm.billing_details as Record<string, unknown>;
      pm.billing_details = {
        ...current,
        ...Object.fromEntries(Object.entries(next).filter(([k]) => (r.body.billing_details as Params)[k] !== undefined)),
      };
    }
    if (r.body.metadata) pm.metadata = { ...(pm.metadata as Params), ...(r.body.metadata as Params) };
    return ok(pm);
  }

  private attachPaymentMethod(r: StripeRequest): StripeResponse {
    const pm = this.paymentMethod(r.params.id!);
    const customer = str(r.body.customer);
    if (!customer) throw invalid('Missing required param: customer.', 'customer', 'parameter_missing');
    this.mustParam(customer, 'customer', 'customer');
    pm.customer = customer;
    return ok(pm);
  }

  private detachPaymentMethod(r: StripeRequest): StripeResponse {
    const pm = this.must(r.params.id!, 'payment_method');
    if (!pm.customer) {
      throw invalid('The payment method you provided is not attached to a customer so detachment is impossible.', undefined, 'payment_method_unexpected_state');
    }
    pm.customer = null;
    this.detached.add(pm.id);
    return ok(pm);
  }

  private createSetupIntent(r: StripeRequest): StripeResponse {
    const b = r.body;
    const customer = str(b.customer);
    if (customer) this.mustParam(customer, 'customer', 'customer');
    const types = (b.allowed_payment_method_types ?? b.payment_method_types ?? ['card']) as string[];
    const pmId = str(b.payment_method);
    const pm = pmId ? this.paymentMethodParam(pmId) : null;
    const intent = this.store(this.newSetupIntent(customer, pm?.id ?? null, types, (b.metadata as Params | undefined) ?? {}, str(b.usage) ?? 'off_session'));
    if (b.confirm !== 'true') return ok(this.expand(intent, b));

    if (!pm) throw invalid('You cannot confirm this SetupIntent because it\'s missing a payment method. Update it with a payment_method, then confirm it again.', 'payment_method', 'setup_intent_unexpected_state');
    if (!types.includes(pm.type as string)) {
      throw invalid(
        `The PaymentMethod provided (${String(pm.type)}) is not allowed for this SetupIntent. Please attach a PaymentMethod of one of the following types: ${types.join(', ')}.`,
        'payment_method',
        'payment_intent_incompatible_payment_method',
      );
    }
    if (pm.customer && pm.customer !== customer) {
      throw invalid('The payment method you provided is already attached to another customer.', 'payment_method', 'payment_method_unexpected_state');
    }
    let mandate: string | null = null;
    if (pm.type === 'us_bank_account') {
      const acceptance = (b.mandate_data as Params | undefined)?.customer_acceptance as Params | undefined;
      if (!acceptance?.type) {
        throw invalid('mandate_data[customer_acceptance] is required to confirm a SetupIntent with a us_bank_account PaymentMethod.', 'mandate_data', 'parameter_missing');
      }
      const online = acceptance.online as Params | undefined;
      if (acceptance.type === 'online' && (!online?.ip_address || !online.user_agent)) {
        throw invalid('mandate_data[customer_acceptance][online] needs ip_address and user_agent.', 'mandate_data[customer_acceptance][online]', 'parameter_missing');
      }
      if (acceptance.type !== 'online' && acceptance.type !== 'offline') {
        throw invalid('mandate_data[customer_acceptance][type] must be online or offline.', 'mandate_data[customer_acceptance][type]', 'parameter_invalid_string');
      }
      mandate = this.createMandate(pm.id, acceptance);
    }

    const refusal = setupRefusal(pm.type === 'card' ? 'card' : 'bank', this.behaviourOf(pm.id));
    if (refusal === 'requires_action') {
      Object.assign(intent, { status: 'requires_action', next_action: { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } } });
      return ok(this.expand(intent, b));
    }
    if (refusal) {
      const error = { ...stripeError(refusal), payment_method: pm };
      Object.assign(intent, { status: 'requires_payment_method', payment_method: null, last_setup_error: error });
      throw new StripeApiError(refusal.status, { ...error, setup_intent: intent, doc_url: `https://docs.stripe.com/error-codes/${refusal.code}` });
    }
    if (customer) pm.customer = customer;
    Object.assign(intent, { status: 'succeeded', mandate });
    return ok(this.expand(intent, b));
  }

  private createPaymentIntent(r: StripeRequest): StripeResponse {
    const b = r.body;
    const amountText = str(b.amount);
    if (!amountText) throw invalid('Missing required param: amount.', 'amount', 'parameter_missing');
    if (!/^-?\d+$/.test(amountText)) throw invalid('Invalid integer: ' + amountText, 'amount', 'parameter_invalid_integer');
    const amount = BigInt(amountText);
    if (amount < 1n) throw invalid('This value must be greater than or equal to 1.', 'amount', 'parameter_invalid_integer');
    if (amount > MAX_CHARGE_AMOUNT) throw invalid(`Amount must be no more than ${MAX_CHARGE_AMOUNT} in the currency's smallest unit.`, 'amount', 'amount_too_large');
    const currency = str(b.currency);
    if (!currency) throw invalid('Missing required param: currency.', 'currency', 'parameter_missing');
    if (currency !== currency.toLowerCase() || !isCurrencyCode(currency.toUpperCase())) {
      throw invalid(`Invalid currency: ${currency}. Stripe currently supports ISO 4217 currency codes, in lowercase.`, 'currency', 'parameter_invalid_string');
    }
    const customer = str(b.customer);
    if (customer) this.mustParam(customer, 'customer', 'customer');
    const explicit = (b.allowed_payment_method_types ?? b.payment_method_types) as string[] | undefined;
    const automatic = b.automatic_payment_methods as Params | undefined;
    if (explicit && automatic) throw invalid('You may only specify one of these parameters: automatic_payment_methods, allowed_payment_method_types.', 'automatic_payment_methods', 'parameters_exclusive');
    // Since 2023-08-16 automatic payment methods are on when no types are named; some of them redirect.
    const types = explicit ?? ['card', 'us_bank_account'];
    const confirm = b.confirm === 'true';
    if (confirm && !explicit && automatic?.allow_redirects !== 'never' && !str(b.return_url)) {
      throw invalid(
        'This PaymentIntent is configured to accept payment methods enabled in your Dashboard, some of which require a full page redirect to succeed. To confirm it, provide a return_url, or set automatic_payment_methods[allow_redirects] to never, or name allowed_payment_method_types.',
        'return_url',
        'parameter_missing',
      );
    }
    const pmId = str(b.payment_method);
    const pm = pmId ? this.paymentMethodParam(pmId) : null;
    const id = this.newId('pi_');
    const offSession = b.off_session === 'true';
    const intent: StripeObject = this.store<StripeObject>({
      id,
      object: 'payment_intent',
      amount: Number(amount),
      amount_received: 0,
      currency,
      customer,
      payment_method: pm?.id ?? null,
      allowed_payment_method_types: types,
      payment_method_types: pm ? [pm.type as string] : types,
      automatic_payment_methods: explicit ? null : { enabled: true, allow_redirects: automatic?.allow_redirects ?? 'always' },
      capture_method: 'automatic_async',
      confirmation_method: 'automatic',
      client_secret: `${id}_secret_${this.newId('', 24)}`,
      created: this.seconds(),
      livemode: false,
      description: str(b.description),
      metadata: (b.metadata as Params | undefined) ?? {},
      status: pm ? 'requires_confirmation' : 'requires_payment_method',
      last_payment_error: null,
      latest_charge: null,
      next_action: null,
      mandate: null,
      setup_future_usage: null,
      cancellation_reason: null,
      canceled_at: null,
    });
    if (!confirm) return ok(this.expand(intent, b));

    if (!pm) throw invalid("You cannot confirm this PaymentIntent because it's missing a payment method. Update it with a payment_method, then confirm it again.", 'payment_method', 'payment_intent_unexpected_state');
    if (!types.includes(pm.type as string)) {
      throw invalid(
        `The PaymentMethod provided (${String(pm.type)}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${types.join(', ')}.`,
        'payment_method',
        'payment_intent_incompatible_payment_method',
      );
    }
    if (this.detached.has(pm.id)) {
      throw invalid(
        'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.',
        'payment_method',
      );
    }
    if (pm.customer && pm.customer !== customer) {
      throw invalid(
        customer
          ? `The provided PaymentMethod ${pm.id} does not belong to the Customer ${customer}.`
          : `The provided PaymentMethod ${pm.id} is attached to a Customer: pass that customer as the customer parameter.`,
        'payment_method',
        'payment_method_unexpected_state',
      );
    }
    if (pm.type === 'us_bank_account') {
      const existing = [...this.objects.values()].find((o) => o.object === 'mandate' && o.payment_method === pm.id && o.status === 'active');
      const acceptance = (b.mandate_data as Params | undefined)?.customer_acceptance as Params | undefined;
      if (existing) intent.mandate = existing.id;
      else if (acceptance?.type) intent.mandate = this.createMandate(pm.id, acceptance);
      else throw invalid('A mandate is required to debit a us_bank_account: set it up for the customer first, or pass mandate_data.', 'mandate_data', 'parameter_missing');
    }

    const chargeId = this.newId('ch_');
    const charge = this.store({
      id: chargeId,
      object: 'charge',
      amount: Number(amount),
      currency,
      customer,
      payment_intent: id,
      payment_method: pm.id,
      status: 'pending',
      paid: false,
      created: this.seconds(),
      livemode: false,
      failure_code: null,
      failure_message: null,
    });
    intent.latest_charge = chargeId;
    const outcome = chargeOutcome(pm.type === 'card' ? 'card' : 'bank', this.behaviourOf(pm.id), offSession);
    switch (outcome.status) {
      case 'succeeded':
        Object.assign(intent, { status: 'succeeded', amount_received: intent.amount });
        Object.assign(charge, { status: 'succeeded', paid: true });
        return ok(this.expand(intent, b));
      case 'processing':
        intent.status = 'processing';
        return ok(this.expand(intent, b));
      case 'requires_action':
        Object.assign(intent, { status: 'requires_action', next_action: { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } } });
        this.objects.delete(chargeId);
        intent.latest_charge = null;
        return ok(this.expand(intent, b));
      case 'failed': {
        const error = { ...stripeError(outcome.error), payment_method: structuredClone(pm) };
        Object.assign(intent, { status: 'requires_payment_method', payment_method: null, last_payment_error: error });
        Object.assign(charge, { status: 'failed', failure_code: outcome.error.decline_code ?? outcome.error.code, failure_message: outcome.error.message });
        throw new StripeApiError(outcome.error.status, { ...error, charge: chargeId, payment_intent: structuredClone(intent), doc_url: `https://docs.stripe.com/error-codes/${outcome.error.code}` });
      }
    }
  }

  /**
   * Like Stripe: a PaymentIntent can be cancelled while it needs something (a method, a confirmation, an action, a
   * capture); Stripe allows `processing` only in rare cases, which this server does not model, so a processing bank
   * debit is refused as at Stripe. Cancelling a canceled or succeeded intent is refused too.
   */
  private cancelPaymentIntent(r: StripeRequest): StripeResponse {
    const intent = this.must(r.params.id!, 'payment_intent');
    const cancelable = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];
    if (!cancelable.includes(intent.status as string)) {
      throw invalid(
        `You cannot cancel this PaymentIntent because it has a status of ${String(intent.status)}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancelable.join(', ')}.`,
        undefined,
        'payment_intent_unexpected_state',
      );
    }
    const reason = str(r.body.cancellation_reason);
    if (reason && !['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'].includes(reason)) {
      throw invalid(`Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, abandoned`, 'cancellation_reason', 'parameter_invalid_string');
    }
    Object.assign(intent, { status: 'canceled', canceled_at: this.seconds(), cancellation_reason: reason ?? null, next_action: null });
    return ok(this.expand(intent, r.body));
  }

  /** `POST /v1/refunds` with a payment_intent (or charge): refunds its succeeded charge, never more than is left. */
  private createRefund(r: StripeRequest): StripeResponse {
    const b = r.body;
    const piId = str(b.payment_intent);
    const chargeParam = str(b.charge);
    if (!piId && !chargeParam) throw invalid('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
    let intent: StripeObject | undefined;
    if (piId) {
      intent = this.objects.get(piId);
      if (intent?.object !== 'payment_intent') throw missing('payment_intent', piId, 'payment_intent', 400);
    }
    const chargeId = chargeParam ?? (intent?.latest_charge as string | null);
    const charge = chargeId ? this.objects.get(chargeId) : undefined;
    if (!charge || charge.status !== 'succeeded') {
      throw invalid(
        `This PaymentIntent (${piId ?? chargeParam}) does not have a successful charge to refund.`,
        piId ? 'payment_intent' : 'charge',
        'charge_not_refundable',
      );
    }
    const refunded = Number(charge.amount_refunded ?? 0);
    const left = Number(charge.amount) - refunded;
    const amountParam = str(b.amount);
    if (amountParam !== null && !/^\d+$/.test(amountParam)) throw invalid('Invalid integer: ' + amountParam, 'amount', 'parameter_invalid_integer');
    const amount = amountParam === null ? left : Number(amountParam);
    if (left <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
    if (amount <= 0) throw invalid('Invalid positive integer', 'amount', 'parameter_invalid_integer');
    if (amount > left) {
      throw invalid(
        `Refund amount ($${(amount / 100).toFixed(2)}) is greater than unrefunded amount on charge ($${(left / 100).toFixed(2)})`,
        'amount',
        'amount_too_large',
      );
    }
    Object.assign(charge, { amount_refunded: refunded + amount, refunded: refunded + amount === Number(charge.amount) });
    return ok(
      this.store({
        id: this.newId('re_'),
        object: 'refund',
        amount,
        currency: charge.currency,
        charge: charge.id,
        payment_intent: charge.payment_intent ?? null,
        created: this.seconds(),
        metadata: (b.metadata as Params | undefined) ?? {},
        reason: str(b.reason),
        status: 'succeeded',
        failure_reason: null,
      }),
    );
  }

  private createCheckoutSession(r: StripeRequest): StripeResponse {
    const b = r.body;
    if (b.mode !== 'setup') throw invalid('The local Stripe test server implements mode=setup only.', 'mode', 'parameter_invalid_string');
    if (!str(b.success_url)) throw invalid('Missing required param: success_url.', 'success_url', 'parameter_missing');
    const types = (b.allowed_payment_method_types ?? b.payment_method_types) as string[] | undefined;
    if (!types?.length && !str(b.currency)) {
      throw invalid('currency is required in setup mode when allowed_payment_method_types is not set.', 'currency', 'parameter_missing');
    }
    const customer = str(b.customer);
    if (customer) this.mustParam(customer, 'customer', 'customer');
    const id = this.newId('cs_test_', 58);
    const created = this.seconds();
    return ok(
      this.store({
        id,
        object: 'checkout.session',
        mode: 'setup',
        status: 'open',
        livemode: false,
        created,
        expires_at: created + 24 * 3600,
        url: `${this.url}/c/pay/${id}`,
        customer: customer ?? null,
        success_url: str(b.success_url),
        cancel_url: str(b.cancel_url),
        currency: str(b.currency),
        allowed_payment_method_types: types ?? ['card'],
        payment_method_types: types ?? ['card'],
        metadata: (b.metadata as Params | undefined) ?? {},
        setup_intent: null,
        setup_intent_data: b.setup_intent_data ?? null,
      }),
    );
  }

  private expireCheckoutSession(r: StripeRequest): StripeResponse {
    const session = this.must(r.params.id!, 'checkout.session');
    if (session.status !== 'open') throw invalid(`Only Checkout Sessions with a status of open can be expired; this one is ${String(session.status)}.`, undefined, 'checkout_session_unexpected_state');
    session.status = 'expired';
    return ok(session);
  }

  // ---- helpers for resources (refunds can be built on these) ----

  store<T extends StripeObject>(obj: T): T {
    this.objects.set(obj.id, obj);
    return obj;
  }

  newId(prefix: string, length = 24): string {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    return prefix + [...randomBytes(length)].map((b) => alphabet[b % 62]).join('');
  }

  seconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  /** The object, or Stripe's 404 `resource_missing` for the path's id. */
  must(id: string, object: string): StripeObject {
    const found = this.objects.get(id);
    if (!found || found.object !== object) throw missing(object, id);
    return found;
  }

  /** A test token (pm_card_visa, pm_usBankAccount_success: a new object on each use, as Stripe does) or a stored one. */
  paymentMethod(id: string): StripeObject {
    const token = testToken(id);
    if (token && !id.startsWith('tok_')) return this.newPaymentMethod(token, billingDetails(undefined));
    return this.must(id, 'payment_method');
  }

  /** What a stored payment method does when set up or charged: the outcome of its test number. */
  behaviourOf(paymentMethodId: string): SandboxCardOutcome | SandboxBankOutcome {
    const token = this.behaviour.get(paymentMethodId);
    if (!token) throw new Error(`no test behaviour recorded for ${paymentMethodId}`);
    return token.kind === 'card' ? token.card.outcome : token.account.outcome;
  }

  private paymentMethodParam(id: string): StripeObject {
    try {
      return this.paymentMethod(id);
    } catch (error) {
      if (error instanceof StripeApiError) throw missing('PaymentMethod', id, 'payment_method', 400);
      throw error;
    }
  }

  private mustParam(id: string, object: string, param: string): void {
    if (this.objects.get(id)?.object !== object) throw missing(object, id, param, 400);
  }

  private newPaymentMethod(token: TestToken, billing: Record<string, unknown>): StripeObject {
    const id = this.newId('pm_');
    const expYear = this.now().getUTCFullYear() + 3;
    const expMonth = this.now().getUTCMonth() + 1;
    const base = { id, object: 'payment_method', created: this.seconds(), livemode: false, customer: null, metadata: {}, billing_details: billing, allow_redisplay: 'unspecified' };
    const pm: StripeObject =
      token.kind === 'card'
        ? {
            ...base,
            type: 'card',
            card: {
              brand: token.card.brand,
              display_brand: token.card.brand,
              last4: token.card.number.slice(-4),
              exp_month: expMonth,
              exp_year: expYear,
              fingerprint: fingerprintOf(FINGERPRINT_SALT, token.card.number),
              funding: token.card.funding,
              country: 'US',
              checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: null },
              networks: { available: [token.card.brand], preferred: null },
              three_d_secure_usage: { supported: true },
              generated_from: null,
              wallet: null,
            },
          }
        : {
            ...base,
            type: 'us_bank_account',
            us_bank_account: {
              account_holder_type: 'individual',
              account_type: 'checking',
              bank_name: token.account.bankName,
              financial_connections_account: null,
              fingerprint: fingerprintOf(FINGERPRINT_SALT, token.account.routingNumber, token.account.accountNumber),
              last4: token.account.accountNumber.slice(-4),
              networks: { preferred: 'ach', supported: ['ach'] },
              routing_number: token.account.routingNumber,
              status_details: {},
            },
          };
    this.behaviour.set(id, token);
    return this.store(pm);
  }

  private newSetupIntent(customer: string | null, paymentMethod: string | null, types: string[], metadata: Params, usage = 'off_session'): StripeObject {
    const id = this.newId('seti_');
    return {
      id,
      object: 'setup_intent',
      client_secret: `${id}_secret_${this.newId('', 24)}`,
      created: this.seconds(),
      livemode: false,
      customer,
      payment_method: paymentMethod,
      allowed_payment_method_types: types,
      payment_method_types: types,
      status: paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
      usage,
      mandate: null,
      last_setup_error: null,
      next_action: null,
      metadata,
    };
  }

  private createMandate(paymentMethod: string, acceptance: Params): string {
    const id = this.newId('mandate_');
    this.store({
      id,
      object: 'mandate',
      livemode: false,
      payment_method: paymentMethod,
      status: 'active',
      type: 'multi_use',
      customer_acceptance: { ...acceptance, accepted_at: Number(acceptance.accepted_at ?? this.seconds()) },
    });
    return id;
  }

  /** Replaces ids by objects along each `expand[]` path (`setup_intent`, `setup_intent.payment_method`). */
  private expand(obj: StripeObject, params: Params): StripeObject {
    const paths = (params.expand as string[] | undefined) ?? [];
    const copy = structuredClone(obj);
    for (const path of paths) {
      let targets: Record<string, unknown>[] = [copy];
      for (const part of path.split('.')) {
        const next: Record<string, unknown>[] = [];
        for (const t of targets) {
          const value = t[part];
          if (typeof value === 'string' && this.objects.has(value)) t[part] = structuredClone(this.objects.get(value));
          if (t[part] && typeof t[part] === 'object') next.push(t[part] as Record<string, unknown>);
        }
        targets = next;
      }
    }
    return copy;
  }
}

// ---- wire format ----

function ok(body: unknown): StripeResponse {
  return { status: 200, body };
}

function invalid(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });
}

/** Stripe's `resource_missing`: 404 for the object in the path, 400 for an id passed as a parameter. */
function missing(object: string, id: string, param = 'id', status = 404): StripeApiError {
  const names: Record<string, string> = { payment_method: 'PaymentMethod', setup_intent: 'SetupIntent', payment_intent: 'payment_intent' };
  const name = names[object] ?? object;
  return new StripeApiError(status, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${name}: '${id}'`, param });
}

function stripeError(e: StripeLikeError): StripeApiError['error'] {
  return { type: e.type, code: e.code, message: e.message, ...(e.decline_code ? { decline_code: e.decline_code } : {}), ...(e.param ? { param: e.param } : {}) };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function addressOf(a: Params | undefined) {
  return {
    line1: str(a?.line1),
    line2: str(a?.line2),
    city: str(a?.city),
    state: str(a?.state),
    postal_code: str(a?.postal_code),
    country: str(a?.country),
  };
}

function billingDetails(b: Params | undefined) {
  return { name: str(b?.name), email: str(b?.email), phone: str(b?.phone), address: addressOf(b?.address as Params | undefined) };
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** `a[b][0]=x&a[c]=y&e[]=z` → `{ a: { b: ['x'], c: 'y' }, e: ['z'] }` (objects whose keys are all indexes become arrays). */
export function parseForm(text: string): Params {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
    if (!m) continue;
    const parts = [m[1]!, ...[...m[2]!.matchAll(/\[([^\]]*)\]/g)].map((p) => p[1]!)];
    let node: Record<string, unknown> = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const name = part === '' ? String(Object.keys(node).length) : part;
      if (last) node[name] = value;
      else node = (node[name] ??= {}) as Record<string, unknown>;
    });
  }
  const arrays = (v: unknown): unknown => {
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length && keys.every((k) => /^\d+$/.test(k))) return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arrays(o[k]));
    return Object.fromEntries(keys.map((k) => [k, arrays(o[k])]));
  };
  return arrays(root) as Params;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
