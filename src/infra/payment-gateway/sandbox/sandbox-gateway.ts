import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { executeBound, normalizeAddress } from '#libs/ddd/index.js';
import { isCurrencyCode } from '#libs/money/index.js';
import { AppConfig } from '../../../config/index.js';
import {
  type CreateCharge,
  type CreateGatewayCustomer,
  type CreateRefund,
  type CreateSetupSession,
  type GatewayCharge,
  type GatewayChargeResult,
  GatewayError,
  type GatewayRefund,
  GatewayErrorCode,
  type GatewayPaymentMethod,
  type GatewayWebhookEvent,
  type MandateAcceptance,
  PaymentGateway,
  type SavePaymentMethod,
  type SetupSession,
} from '../payment-gateway.js';
import { gatewayErrorFromStripe } from '../stripe-error-mapping.js';
import { derivedWebhookSecret, type SandboxWebhook, settledDebitEvent, verifySandboxWebhook } from './sandbox-webhook-signature.js';
import { SandboxGatewayObject, type SandboxObjectType } from './sandbox-gateway-object.entity.js';
import {
  type ChargeFailureData,
  type IdempotencyRecordData,
  type MandateData,
  notFound,
  orderedId,
  type PaymentIntentData,
  randomId,
  type SandboxObject,
  SandboxStore,
  stableHash,
  toGatewayPaymentMethod,
  toStripePaymentMethodJson,
} from './sandbox-store.js';
import {
  chargeOutcome,
  checkBankAccount,
  checkCard,
  checkExpiry,
  MAX_CHARGE_AMOUNT,
  setupRefusal,
  type StripeLikeError,
  testToken,
} from './sandbox-test-numbers.js';

type IdempotencyOutcome = IdempotencyRecordData['outcome'];

export const SETUP_SESSION_TTL_MS = 24 * 60 * 60 * 1000;

/** Parameters of the sandbox's tokenization endpoint, as Stripe's `POST /v1/payment_methods` takes them. */
export interface TokenizeParams {
  type: string;
  card?: { number?: string; exp_month?: string | number; exp_year?: string | number; cvc?: string };
  us_bank_account?: { routing_number?: string; account_number?: string; account_type?: string; account_holder_type?: string };
  billing_details?: {
    name?: string;
    address?: { line1?: string; line2?: string; city?: string; state?: string; postal_code?: string; country?: string };
  };
}

/**
 * The sandbox gateway: behaves like Stripe in test mode (test numbers and tokens only, the same declines with the same
 * codes, a hosted page for setup sessions) and keeps its objects in PostgreSQL, so it survives restarts. It refuses
 * every number that is not one of Stripe's published test numbers, and never stores a number or a CVC.
 */
@Injectable()
export class SandboxGateway extends PaymentGateway {
  readonly name = 'sandbox' as const;

  constructor(
    private readonly store: SandboxStore,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async createCustomer(input: CreateGatewayCustomer): Promise<{ id: string }> {
    const params = { ...input, idempotencyKey: undefined };
    const out = await this.store.idempotent(input.idempotencyKey, 'create_customer', params, async (em) => {
      const id = randomId('cus_', 14);
      this.store.add(em, 'customer', id, {
        name: input.name,
        email: input.email,
        phone: input.phone,
        address: input.address ? normalizeAddress(input.address) : null,
        metadata: { organizationId: input.organizationId, customerId: input.customerId },
      });
      return { id };
    });
    return { id: out.id! };
  }

  async describePaymentMethod(paymentMethodId: string): Promise<GatewayPaymentMethod> {
    return this.store.transaction(async (em) => {
      const row = await this.resolve(em, paymentMethodId);
      await em.flush();
      return toGatewayPaymentMethod(row);
    });
  }

  async savePaymentMethod(input: SavePaymentMethod): Promise<GatewayPaymentMethod> {
    const params = { ...input, idempotencyKey: undefined };
    const out = await this.store.idempotent(input.idempotencyKey, 'save_payment_method', params, async (em) => {
      const customer = await this.store.find(em, 'customer', input.gatewayCustomerId);
      if (!customer) throw notFound('customer', input.gatewayCustomerId);
      const pm = await this.resolve(em, input.paymentMethodId);
      if (pm.data.customerId && pm.data.customerId !== customer.id) {
        throw new GatewayError(
          GatewayErrorCode.INVALID_REQUEST,
          `Payment method ${pm.id} is already attached to another customer; collect it again for this customer`,
          'payment_method_unexpected_state',
        );
      }
      const refusal = setupRefusal(pm.data.kind === 'CARD' ? 'card' : 'bank', pm.data.behavior);
      if (refusal === 'requires_action') {
        throw new GatewayError(
          GatewayErrorCode.AUTHENTICATION_REQUIRED,
          "The card's bank requires the customer to authenticate it (3-D Secure): they must save it themselves on the hosted page",
          'authentication_required',
        );
      }
      if (refusal) throw gatewayErrorFromStripe({ ...refusal, statusCode: refusal.status });
      this.attach(em, pm, customer.id, input.billingAddress ? normalizeAddress(input.billingAddress) : pm.data.billingAddress, pm.data.kind === 'BANK_ACCOUNT' ? mandateData(input.mandate) : null, null);
      return { paymentMethodId: pm.id };
    });
    return this.describeExisting(out.paymentMethodId!);
  }

  async updateCardExpiry(paymentMethodId: string, expMonth: number, expYear: number): Promise<GatewayPaymentMethod> {
    return this.store.transaction(async (em) => {
      const pm = await this.store.find(em, 'payment_method', paymentMethodId);
      if (!pm) throw notFound('PaymentMethod', paymentMethodId);
      if (!pm.data.card) throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `Payment method ${paymentMethodId} is not a card; only a card has an expiry`);
      if (!pm.data.customerId) {
        throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `Payment method ${paymentMethodId} must be attached to a customer before it can be updated`);
      }
      const expiry = checkExpiry(expMonth, expYear, this.store.clock.now());
      if ('status' in expiry) throw gatewayErrorFromStripe({ ...expiry, statusCode: expiry.status });
      this.store.change(pm, { card: { ...pm.data.card, ...expiry } });
      await em.flush();
      return toGatewayPaymentMethod(pm);
    });
  }

  async detachPaymentMethod(paymentMethodId: string): Promise<void> {
    await this.store.transaction(async (em) => {
      const pm = await this.store.find(em, 'payment_method', paymentMethodId);
      if (!pm) throw notFound('PaymentMethod', paymentMethodId);
      if (!pm.data.customerId) return;
      this.store.change(pm, { customerId: null, detachedAt: this.store.clock.now().toISOString() });
      await em.flush();
    });
  }

  async createSetupSession(input: CreateSetupSession): Promise<SetupSession> {
    const params = { ...input, idempotencyKey: undefined };
    const out = await this.store.idempotent(input.idempotencyKey, 'create_setup_session', params, async (em) => {
      if (!(await this.store.find(em, 'customer', input.gatewayCustomerId))) throw notFound('customer', input.gatewayCustomerId);
      const kinds = [...new Set(input.kinds)];
      if (!kinds.length || kinds.some((k) => k !== 'CARD' && k !== 'BANK_ACCOUNT')) {
        throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, 'kinds: name at least one of CARD and BANK_ACCOUNT');
      }
      for (const [field, url] of [['successUrl', input.successUrl], ['cancelUrl', input.cancelUrl]] as const) {
        if (!isHttpUrl(url)) throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `${field}: must be an absolute http(s) URL, got '${url}'`);
      }
      const id = randomId('cs_test_', 40);
      this.store.add(em, 'checkout_session', id, {
        customerId: input.gatewayCustomerId,
        kinds,
        successUrl: input.successUrl,
        cancelUrl: input.cancelUrl,
        reference: input.reference,
        expiresAt: new Date(this.store.clock.now().getTime() + SETUP_SESSION_TTL_MS).toISOString(),
        completedAt: null,
        paymentMethodId: null,
        setupIntentId: null,
        pendingPaymentMethodId: null,
      });
      return { sessionId: id };
    });
    return this.getSetupSession(out.sessionId!);
  }

  async getSetupSession(sessionId: string): Promise<SetupSession> {
    const row = await this.store.transaction((em) => this.store.find(em, 'checkout_session', sessionId));
    if (!row) throw notFound('checkout session', sessionId);
    return this.toSetupSession(row);
  }

  /**
   * Like Stripe's PaymentIntent created with `confirm=true`: a card is charged (or declined) at once, a bank debit is
   * `processing` and settles SANDBOX_DEBIT_SETTLE_SECONDS later by the injected clock (see getCharge). A decline is a
   * `failed` charge, not an error. Malformed parameters are refused before the idempotency key is looked at, and
   * are not remembered under it (as at Stripe, which saves no result for a request that failed validation).
   */
  async createCharge(input: CreateCharge): Promise<GatewayCharge> {
    const currency = checkChargeInput(input);
    const params = { ...input, amount: input.amount.toString(), currency, paymentMethodId: input.paymentMethodId.trim(), methodKind: undefined, idempotencyKey: undefined };
    const out = await this.store.idempotent(input.idempotencyKey, 'create_charge', params, async (em) => {
      let customerId: string | null = null;
      if (input.gatewayCustomerId !== null) {
        const customer = await this.store.find(em, 'customer', input.gatewayCustomerId);
        if (!customer) throw notFound('customer', input.gatewayCustomerId);
        customerId = customer.id;
      }
      const pm = await this.resolve(em, params.paymentMethodId);
      const id = orderedId('pi_');
      this.store.add(em, 'payment_intent', id, this.intentData(input, currency, customerId, pm));
      return { chargeId: id };
    });
    return this.getCharge(out.chargeId!);
  }

  /** The charge as it is now: a processing debit whose settle time has come (by the clock) settles here, for good. */
  async getCharge(chargeId: string): Promise<GatewayCharge> {
    return this.store.transaction(async (em) => toGatewayCharge(await this.currentCharge(em, chargeId)));
  }

  /** What a charge of `pm` does (createCharge's rules), or the refusal. */
  private intentData(input: CreateCharge, currency: string, customerId: string | null, pm: SandboxObject<'payment_method'>): PaymentIntentData {
    if (input.methodKind && input.methodKind !== pm.data.kind) {
      // Stripe refuses a method of a type the PaymentIntent does not allow (StripeGateway names methodKind's type).
      const type = (kind: string) => (kind === 'CARD' ? 'card' : 'us_bank_account');
      throw new GatewayError(
        GatewayErrorCode.INVALID_REQUEST,
        `The PaymentMethod provided (${type(pm.data.kind)}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${type(input.methodKind)}.`,
        'payment_intent_incompatible_payment_method',
      );
    }
    if (pm.data.detachedAt) {
      throw new GatewayError(
        GatewayErrorCode.NOT_FOUND,
        `Payment method ${pm.id} was detached from its customer and can no longer be charged; the customer must give a payment method again`,
        'payment_method_unexpected_state',
      );
    }
    if (pm.data.customerId && pm.data.customerId !== customerId) {
      throw new GatewayError(
        GatewayErrorCode.INVALID_REQUEST,
        customerId
          ? `Payment method ${pm.id} belongs to another customer than ${customerId}; it can only be charged for its own customer`
          : `Payment method ${pm.id} is attached to a customer: name that customer (gatewayCustomerId) to charge it`,
        'payment_method_unexpected_state',
      );
    }
    if (pm.data.kind === 'BANK_ACCOUNT' && !pm.data.mandate) {
      throw new GatewayError(
        GatewayErrorCode.INVALID_REQUEST,
        `Bank account ${pm.id} has no mandate: save it for the customer with their consent before debiting it`,
        'parameter_missing',
      );
    }
    const outcome = chargeOutcome(pm.data.kind === 'CARD' ? 'card' : 'bank', pm.data.behavior, input.offSession);
    const now = this.store.clock.now();
    const processing = outcome.status === 'processing';
    return {
      customerId,
      paymentMethodId: pm.id,
      amount: input.amount.toString(),
      currency,
      description: input.description,
      metadata: { ...input.metadata },
      offSession: input.offSession,
      status: outcome.status,
      failure: outcome.status === 'failed' ? chargeFailure(outcome.error) : null,
      settlesAt: processing ? new Date(now.getTime() + this.config.sandboxGateway.debitSettleSeconds * 1000).toISOString() : null,
      settlement: !processing
        ? null
        : outcome.settlement.status === 'succeeded'
          ? { status: 'succeeded' }
          : { status: 'failed', failure: chargeFailure(outcome.settlement.error) },
      settledAt: null,
    };
  }

  override readonly batchesCharges = true;

  /**
   * Many charges in one request, with createCharge's semantics for each (the same checks, outcomes and idempotency
   * records, so a later createCharge or createCharges with the same key replays the first answer): one transaction
   * reads the customers and methods (one query), inserts every idempotency record with one multi-row INSERT … ON
   * CONFLICT (idempotency_key) DO NOTHING — keys sorted, so two overlapping calls queue instead of deadlocking, and a
   * key being charged by another call at that moment waits for it — and the new charges with one more insert. Keys
   * that already had a record are answered from it (the same parameters), or refused like Stripe (other parameters).
   */
  override async createCharges(inputs: readonly CreateCharge[]): Promise<GatewayChargeResult[]> {
    const results: (GatewayChargeResult | undefined)[] = new Array(inputs.length);
    interface Pending {
      i: number;
      input: CreateCharge;
      currency: string;
      key: string;
      hash: string;
      paymentMethodId: string;
    }
    const byKey = new Map<string, Pending>();
    const repeats: number[] = [];
    inputs.forEach((input, i) => {
      try {
        const currency = checkChargeInput(input);
        const key = input.idempotencyKey;
        if (!key?.trim()) throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, 'create_charge: an idempotency key is required');
        const params = { ...input, amount: input.amount.toString(), currency, paymentMethodId: input.paymentMethodId.trim(), methodKind: undefined, idempotencyKey: undefined };
        if (byKey.has(key)) repeats.push(i);
        else byKey.set(key, { i, input, currency, key, hash: stableHash(params), paymentMethodId: params.paymentMethodId });
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        results[i] = { error };
      }
    });
    const pending = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const replays: Pending[] = [];
    const created = new Map<number, { id: string; data: PaymentIntentData; createdAt: Date }>();
    if (pending.length) {
      await this.store.transaction(async (em) => {
        const ids = [...new Set(pending.flatMap((p) => [p.paymentMethodId, p.input.gatewayCustomerId ?? '']).filter((id) => id && !testToken(id)))];
        const rows = ids.length
          ? await executeBound<{ id: string; type: SandboxObjectType; data: Record<string, unknown>; created_at: Date }[]>(em,
              `select id, type, data, created_at from sandbox_gateway_object where id = any(?::text[]) and (type in ('customer', 'payment_method')) is true`,
              [`{${ids.map((id) => `"${id.replace(/["\\]/g, '\\$&')}"`).join(',')}}`],
            )
          : [];
        const found = new Map(
          rows.map((r) => [`${r.type}:${r.id}`, Object.assign(new SandboxGatewayObject(), { id: r.id, type: r.type, data: r.data, createdAt: r.created_at, updatedAt: r.created_at })]),
        );
        const now = this.store.clock.now();
        const records: { id: string; data: unknown; key: string }[] = [];
        const intents: { id: string; type: string; data: unknown }[] = [];
        const intentOf = new Map<string, { i: number; id: string; data: PaymentIntentData }>();
        for (const p of pending) {
          let outcome: IdempotencyOutcome;
          try {
            let customerId: string | null = null;
            if (p.input.gatewayCustomerId !== null) {
              if (!found.has(`customer:${p.input.gatewayCustomerId}`)) throw notFound('customer', p.input.gatewayCustomerId);
              customerId = p.input.gatewayCustomerId;
            }
            const token = testToken(p.paymentMethodId);
            let pm = found.get(`payment_method:${p.paymentMethodId}`) as SandboxObject<'payment_method'> | undefined;
            if (token) {
              const { expMonth, expYear } = this.store.tokenExpiry();
              const data = token.kind === 'card' ? this.store.newCardMethod(token.card, expMonth, expYear) : this.store.newBankMethod(token.account, 'checking', 'individual');
              pm = Object.assign(new SandboxGatewayObject(), { id: randomId('pm_'), type: 'payment_method', data, createdAt: now, updatedAt: now }) as SandboxObject<'payment_method'>;
              intents.push({ id: pm.id, type: 'payment_method', data });
            }
            if (!pm) {
              throw new GatewayError(
                GatewayErrorCode.NOT_FOUND,
                `No such PaymentMethod: '${p.paymentMethodId}'. In sandbox mode use a token from the sandbox's pages or one of Stripe's test tokens such as pm_card_visa`,
                'resource_missing',
              );
            }
            const id = orderedId('pi_');
            const data = this.intentData(p.input, p.currency, customerId, pm);
            intentOf.set(p.key, { i: p.i, id, data });
            outcome = { ok: { chargeId: id } };
          } catch (error) {
            if (!(error instanceof GatewayError) || error.retryable) throw error;
            outcome = { error: { code: error.code, message: error.message, gatewayCode: error.gatewayCode } };
          }
          records.push({ id: orderedId('idr_'), key: p.key, data: { operation: 'create_charge', requestHash: p.hash, outcome } });
        }
        const inserted = await executeBound<{ idempotency_key: string }[]>(em,
          `insert into sandbox_gateway_object (id, type, data, idempotency_key, created_at, updated_at)
           select r.id, 'idempotency_record', r.data, r.key, ?, ? from jsonb_to_recordset(?::jsonb) as r(id text, data jsonb, key text)
           order by r.key
           on conflict (idempotency_key) do nothing returning idempotency_key`,
          [now, now, JSON.stringify(records)],
        );
        const fresh = new Set(inserted.map((r) => r.idempotency_key));
        for (const p of pending) {
          if (!fresh.has(p.key)) {
            replays.push(p);
            continue;
          }
          const intent = intentOf.get(p.key);
          if (intent) {
            intents.push({ id: intent.id, type: 'payment_intent', data: intent.data });
            created.set(p.i, { id: intent.id, data: intent.data, createdAt: now });
          } else {
            const record = records.find((r) => r.key === p.key)!.data as IdempotencyRecordData;
            const e = (record.outcome as { error: { code: GatewayErrorCode; message: string; gatewayCode: string | null } }).error;
            results[p.i] = { error: new GatewayError(e.code, e.message, e.gatewayCode) };
          }
        }
        // Methods made from test tokens are kept only for the charges that were made.
        const kept = intents.filter((o) => o.type === 'payment_intent' || [...created.values()].some((c) => c.data.paymentMethodId === o.id));
        if (kept.length) {
          await executeBound(em,
            `insert into sandbox_gateway_object (id, type, data, idempotency_key, created_at, updated_at)
             select o.id, o.type, o.data, null, ?, ? from jsonb_to_recordset(?::jsonb) as o(id text, type text, data jsonb)`,
            [now, now, JSON.stringify(kept)],
          );
        }
      });
    }
    for (const [i, c] of created) {
      results[i] = { charge: toGatewayCharge(Object.assign(new SandboxGatewayObject(), { id: c.id, type: 'payment_intent', data: c.data, createdAt: c.createdAt, updatedAt: c.createdAt }) as SandboxObject<'payment_intent'>) };
    }
    // Keys seen before (or twice in this call): createCharge replays them from their record.
    for (const i of [...replays.map((p) => p.i), ...repeats]) {
      try {
        results[i] = { charge: await this.createCharge(inputs[i]!) };
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        results[i] = { error };
      }
    }
    return results as GatewayChargeResult[];
  }

  /**
   * Like Stripe's `POST /v1/refunds` with a payment_intent: refunds (part of) a succeeded charge at once. The charge is
   * locked while its refunds are summed, so two refunds racing under different keys cannot return more than it took.
   */
  async createRefund(input: CreateRefund): Promise<GatewayRefund> {
    if (typeof input.amount !== 'bigint' || input.amount <= 0n) {
      throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `amount: must be a whole number of minor units more than zero, got ${String(input.amount)}`, 'parameter_invalid_integer');
    }
    const chargeId = (input.chargeId ?? '').trim();
    const params = { chargeId, amount: input.amount.toString(), reason: input.reason ?? '' };
    const out = await this.store.idempotent(input.idempotencyKey, 'create_refund', params, async (em) => {
      await this.store.lock(em, `payment_intent:${chargeId}`);
      const intent = await this.currentCharge(em, chargeId);
      const d = intent.data;
      if (d.status !== 'succeeded') {
        throw new GatewayError(
          GatewayErrorCode.INVALID_REQUEST,
          `PaymentIntent ${intent.id} is ${d.status}: only a succeeded charge can be refunded${d.status === 'processing' ? ' (a bank debit must settle first)' : ''}`,
          'charge_not_refundable',
        );
      }
      const refunded = BigInt(d.amountRefunded ?? '0');
      const left = BigInt(d.amount) - refunded;
      if (left <= 0n) throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `Charge ${intent.id} has already been refunded.`, 'charge_already_refunded');
      if (input.amount > left) {
        throw new GatewayError(
          GatewayErrorCode.INVALID_REQUEST,
          `Refund amount (${input.amount}) is greater than unrefunded amount on charge (${left})`,
          'amount_too_large',
        );
      }
      this.store.change(intent, { amountRefunded: (refunded + input.amount).toString() });
      const id = randomId('re_');
      this.store.add(em, 'refund', id, { paymentIntentId: intent.id, amount: input.amount.toString(), currency: d.currency, reason: params.reason, status: 'succeeded', failure: null });
      return { refundId: id };
    });
    return this.getRefund(out.refundId!);
  }

  async getRefund(refundId: string): Promise<GatewayRefund> {
    const row = await this.store.transaction((em) => this.store.find(em, 'refund', (refundId ?? '').trim()));
    if (!row) throw notFound('refund', refundId);
    return toGatewayRefund(row);
  }

  /**
   * Cancels a processing bank debit that has not settled yet (by the clock): it will never settle. Stripe allows this
   * only in rare cases; the sandbox always does, so the flow can be exercised. Anything else is refused.
   */
  async cancelCharge(chargeId: string, idempotencyKey: string): Promise<GatewayCharge> {
    const id = (chargeId ?? '').trim();
    const out = await this.store.idempotent(idempotencyKey, 'cancel_charge', { chargeId: id }, async (em) => {
      await this.store.lock(em, `payment_intent:${id}`);
      const intent = await this.currentCharge(em, id);
      if (intent.data.status === 'canceled') return { chargeId: intent.id };
      if (intent.data.status !== 'processing') {
        throw new GatewayError(
          GatewayErrorCode.INVALID_REQUEST,
          `You cannot cancel this PaymentIntent because it has a status of ${intent.data.status}. Only a processing bank debit can be canceled${intent.data.status === 'succeeded' ? '; refund it instead' : ''}.`,
          'payment_intent_unexpected_state',
        );
      }
      this.store.change(intent, { status: 'canceled', settlement: null, settlesAt: null, canceledAt: this.store.clock.now().toISOString() });
      return { chargeId: intent.id };
    });
    return this.getCharge(out.chargeId!);
  }

  /** The charge as it is now: a processing debit whose settle time has come (by the clock) settles here, for good. */
  private async currentCharge(em: EntityManager, chargeId: string): Promise<SandboxObject<'payment_intent'>> {
    const row = await this.store.find(em, 'payment_intent', (chargeId ?? '').trim());
    if (!row) throw notFound('PaymentIntent', chargeId);
    const d = row.data;
    const now = this.store.clock.now();
    if (d.status === 'processing' && d.settlement && d.settlesAt && new Date(d.settlesAt).getTime() <= now.getTime()) {
      this.store.change(row, {
        status: d.settlement.status,
        failure: d.settlement.status === 'failed' ? d.settlement.failure : null,
        settledAt: now.toISOString(),
      });
      await em.flush();
    }
    return row;
  }

  verifyWebhook(rawBody: Buffer, signatureHeader: string | undefined): GatewayWebhookEvent {
    return verifySandboxWebhook(rawBody, signatureHeader, this.webhookSecret(), this.store.clock.now());
  }

  /**
   * What the sandbox signs its webhooks with: SANDBOX_WEBHOOK_SECRET, else a secret derived from JWT_SECRET. Every
   * process (api, worker) already shares JWT_SECRET, so the sender and the receiver agree without another variable,
   * and the HMAC derivation reveals nothing of the JWT secret.
   */
  webhookSecret(): string {
    const configured = this.config.sandboxGateway.webhookSecret;
    if (configured) return configured;
    const jwtSecret = this.config.auth.jwtSecret;
    if (!jwtSecret) throw new Error('The sandbox cannot sign webhooks: set SANDBOX_WEBHOOK_SECRET or JWT_SECRET');
    return derivedWebhookSecret(jwtSecret);
  }

  /**
   * The webhooks Stripe would send for bank debits that settled by `now` and were not delivered yet (each debit
   * settled here if nobody read it since), oldest first. Mark each delivered with `webhookDelivered`.
   */
  async settledDebitWebhooks(now: Date, limit = 100): Promise<SandboxWebhook[]> {
    return this.store.transaction(async (em) => {
      const rows = await this.store.debitsAwaitingWebhook(em, now, this.config.sandboxGateway.debitSettleSeconds, limit);
      const out: SandboxWebhook[] = [];
      for (const row of rows) {
        const charge = await this.currentCharge(em, row.id);
        if (charge.data.status === 'succeeded' || charge.data.status === 'failed') out.push(settledDebitEvent(charge, now));
      }
      return out;
    });
  }

  /** The receiver answered 2xx: this debit's webhook is not sent again. */
  async webhookDelivered(chargeId: string): Promise<void> {
    await this.store.transaction(async (em) => {
      const row = await this.store.find(em, 'payment_intent', chargeId);
      if (!row || row.data.webhookDeliveredAt) return;
      this.store.change(row, { webhookDeliveredAt: this.store.clock.now().toISOString() });
      await em.flush();
    });
  }

  // ---- the sandbox's own endpoints (tokenization, hosted page), used by SandboxGatewayController ----

  /** Like Stripe's `POST /v1/payment_methods`: test numbers become a payment method; anything else a Stripe-shaped error. */
  async tokenize(params: TokenizeParams): Promise<{ paymentMethod: ReturnType<typeof toStripePaymentMethodJson> } | { error: StripeLikeError }> {
    const address = params.billing_details?.address;
    const billingAddress =
      address?.line1 && address.city && address.postal_code && address.country
        ? normalizeAddress({ line1: address.line1, line2: address.line2, city: address.city, region: address.state, postalCode: address.postal_code, country: address.country })
        : null;
    const name = params.billing_details?.name?.trim() || null;
    let data;
    if (params.type === 'card') {
      const card = params.card ?? {};
      const checked = checkCard({ number: card.number ?? '', expMonth: card.exp_month ?? '', expYear: card.exp_year ?? '', cvc: card.cvc }, this.store.clock.now(), { requireCvc: false });
      if ('status' in checked) return { error: checked };
      data = this.store.newCardMethod(checked.card, checked.expMonth, checked.expYear, name);
    } else if (params.type === 'us_bank_account') {
      const bank = params.us_bank_account ?? {};
      const checked = checkBankAccount({
        routingNumber: bank.routing_number ?? '',
        accountNumber: bank.account_number ?? '',
        accountType: bank.account_type,
        accountHolderType: bank.account_holder_type,
      });
      if ('status' in checked) return { error: checked };
      data = this.store.newBankMethod(checked.account, checked.accountType, checked.accountHolderType, name);
    } else {
      return { error: { status: 400, type: 'invalid_request_error', code: 'parameter_invalid_string', message: "type: must be 'card' or 'us_bank_account'", param: 'type' } };
    }
    const row = await this.store.transaction(async (em) => {
      const created = this.store.add(em, 'payment_method', randomId('pm_'), { ...data, billingAddress });
      await em.flush();
      return created;
    });
    return { paymentMethod: toStripePaymentMethodJson(row) };
  }

  toSetupSession(row: SandboxObject<'checkout_session'>): SetupSession {
    const d = row.data;
    const expired = !d.completedAt && new Date(d.expiresAt).getTime() <= this.store.clock.now().getTime();
    return {
      id: row.id,
      url: `${this.config.http.publicUrl}/sandbox-gateway/checkout/${row.id}`,
      status: d.completedAt ? 'complete' : expired ? 'expired' : 'open',
      gatewayCustomerId: d.customerId,
      paymentMethodId: d.paymentMethodId,
      reference: d.reference,
      expiresAt: new Date(d.expiresAt),
    };
  }

  /** Attaches the method to the customer as a succeeded SetupIntent would. */
  attach(
    em: EntityManager,
    pm: SandboxObject<'payment_method'>,
    customerId: string,
    billingAddress: GatewayPaymentMethod['billingAddress'],
    mandate: MandateData | null,
    checkoutSessionId: string | null,
  ): string {
    this.store.change(pm, { customerId, billingAddress, mandate: mandate ?? pm.data.mandate, detachedAt: null });
    const setupIntentId = randomId('seti_');
    this.store.add(em, 'setup_intent', setupIntentId, {
      customerId,
      paymentMethodId: pm.id,
      status: 'succeeded',
      usage: 'off_session',
      mandate,
      checkoutSessionId,
    });
    return setupIntentId;
  }

  private async describeExisting(id: string): Promise<GatewayPaymentMethod> {
    const row = await this.store.transaction((em) => this.store.find(em, 'payment_method', id));
    if (!row) throw notFound('PaymentMethod', id);
    return toGatewayPaymentMethod(row);
  }

  /** A stored method, or a fresh one from a test token (each use of `pm_card_visa` makes a new pm_, as Stripe does). */
  private async resolve(em: EntityManager, id: string): Promise<SandboxObject<'payment_method'>> {
    const trimmed = (id ?? '').trim();
    const token = testToken(trimmed);
    if (token) {
      const { expMonth, expYear } = this.store.tokenExpiry();
      const data =
        token.kind === 'card'
          ? this.store.newCardMethod(token.card, expMonth, expYear)
          : this.store.newBankMethod(token.account, 'checking', 'individual');
      return this.store.add(em, 'payment_method', randomId('pm_'), data);
    }
    const row = await this.store.find(em, 'payment_method', trimmed);
    if (!row) {
      throw new GatewayError(
        GatewayErrorCode.NOT_FOUND,
        `No such PaymentMethod: '${trimmed}'. In sandbox mode use a token from the sandbox's pages or one of Stripe's test tokens such as pm_card_visa`,
        'resource_missing',
      );
    }
    return row;
  }
}

/** Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500. */
const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 };

/** Refuses what Stripe refuses before charging anything; returns the upper-case currency. */
function checkChargeInput(input: CreateCharge): string {
  const invalid = (message: string, gatewayCode: string) => new GatewayError(GatewayErrorCode.INVALID_REQUEST, message, gatewayCode);
  if (typeof input.amount !== 'bigint' || input.amount <= 0n) {
    throw invalid(`amount: must be a whole number of minor units more than zero, got ${String(input.amount)}`, 'parameter_invalid_integer');
  }
  if (input.amount > MAX_CHARGE_AMOUNT) {
    throw invalid(`amount: at most ${MAX_CHARGE_AMOUNT} minor units can be charged at once, got ${input.amount}`, 'amount_too_large');
  }
  const currency = String(input.currency ?? '').trim().toUpperCase();
  if (!isCurrencyCode(currency)) throw invalid(`currency: '${String(input.currency)}' is not an ISO 4217 currency code such as USD`, 'parameter_invalid_string');
  const entries = Object.entries(input.metadata ?? {});
  if (entries.length > METADATA_LIMITS.keys) throw invalid(`metadata: at most ${METADATA_LIMITS.keys} keys`, 'parameter_invalid_string');
  for (const [k, v] of entries) {
    if (!k || k.length > METADATA_LIMITS.keyLength) throw invalid(`metadata: key '${k}' must have 1 to ${METADATA_LIMITS.keyLength} characters`, 'parameter_invalid_string');
    if (typeof v !== 'string' || v.length > METADATA_LIMITS.valueLength) {
      throw invalid(`metadata[${k}]: must be a string of at most ${METADATA_LIMITS.valueLength} characters`, 'parameter_invalid_string');
    }
  }
  return currency;
}

function chargeFailure(error: StripeLikeError): ChargeFailureData {
  const mapped = gatewayErrorFromStripe({ ...error, statusCode: error.status });
  return { code: mapped.code, gatewayCode: mapped.gatewayCode, message: mapped.message };
}

export function toGatewayRefund(row: SandboxObject<'refund'>): GatewayRefund {
  const d = row.data;
  return {
    id: row.id,
    chargeId: d.paymentIntentId,
    amount: BigInt(d.amount),
    currency: d.currency,
    status: d.status,
    failure: d.failure ? { ...d.failure } : null,
    createdAt: row.createdAt,
  };
}

export function toGatewayCharge(row: SandboxObject<'payment_intent'>): GatewayCharge {
  const d = row.data;
  return {
    id: row.id,
    status: d.status,
    amount: BigInt(d.amount),
    currency: d.currency,
    paymentMethodId: d.paymentMethodId,
    failure: d.failure ? { ...d.failure } : null,
    createdAt: row.createdAt,
  };
}

export function mandateData(m: MandateAcceptance): MandateData {
  return {
    type: m.type,
    acceptedAt: m.acceptedAt.toISOString(),
    ipAddress: m.type === 'online' ? m.ipAddress : null,
    userAgent: m.type === 'online' ? m.userAgent : null,
  };
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value.replaceAll('{SESSION_ID}', 'x'));
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
