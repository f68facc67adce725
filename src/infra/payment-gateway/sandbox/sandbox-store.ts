import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Clock, type PostalAddress } from '#libs/ddd/index.js';
import { GatewayError, GatewayErrorCode, type GatewayMethodKind, type GatewayPaymentMethod } from '../payment-gateway.js';
import { SandboxGatewayObject, type SandboxObjectType } from './sandbox-gateway-object.entity.js';
import {
  fingerprintOf,
  type SandboxBankOutcome,
  type SandboxCardOutcome,
  type SandboxTestBankAccount,
  type SandboxTestCard,
  lastDigits,
} from './sandbox-test-numbers.js';

/** Keeps the sandbox's fingerprints apart from any other gateway's (Stripe's are per account too). */
const FINGERPRINT_SALT = 'settle-sandbox';

export interface CustomerData {
  name: string;
  email: string | null;
  phone: string | null;
  address: PostalAddress | null;
  metadata: Record<string, string>;
}

export interface MandateData {
  type: 'online' | 'offline';
  acceptedAt: string;
  ipAddress: string | null;
  userAgent: string | null;
}

/** A payment method as the sandbox keeps it: what Stripe shows of it, never the number or the CVC. */
export interface PaymentMethodData {
  kind: GatewayMethodKind;
  card: {
    brand: string;
    last4: string;
    expMonth: number;
    expYear: number;
    fingerprint: string;
    funding: string;
  } | null;
  bankAccount: {
    bankName: string | null;
    last4: string;
    accountType: string;
    accountHolderType: string;
    routingNumber: string;
    fingerprint: string;
  } | null;
  billingName: string | null;
  billingAddress: PostalAddress | null;
  customerId: string | null;
  /** What the test number does when saved or charged: the table's outcome (chargeOutcome reads it for charges). */
  behavior: SandboxCardOutcome | SandboxBankOutcome;
  mandate: MandateData | null;
  detachedAt: string | null;
}

export interface SetupIntentData {
  customerId: string;
  paymentMethodId: string;
  status: 'succeeded';
  usage: 'off_session';
  mandate: MandateData | null;
  /** The checkout session it completed, if any. */
  checkoutSessionId: string | null;
}

export interface CheckoutSessionData {
  customerId: string;
  kinds: GatewayMethodKind[];
  successUrl: string;
  cancelUrl: string;
  reference: string;
  expiresAt: string;
  completedAt: string | null;
  paymentMethodId: string | null;
  setupIntentId: string | null;
  /** A card that asked for 3-D Secure, waiting for the customer to complete or fail it on the page. */
  pendingPaymentMethodId: string | null;
}

/** Why a charge failed, as the port reports it. */
export interface ChargeFailureData {
  code: GatewayErrorCode;
  gatewayCode: string | null;
  message: string;
}

/** A charge (Stripe: a PaymentIntent created with confirm=true). Amounts are kept as decimal strings (jsonb). */
export interface PaymentIntentData {
  customerId: string | null;
  paymentMethodId: string;
  amount: string;
  /** Upper-case ISO 4217. */
  currency: string;
  description: string;
  metadata: Record<string, string>;
  offSession: boolean;
  status: 'succeeded' | 'processing' | 'failed' | 'requires_action' | 'canceled';
  failure: ChargeFailureData | null;
  /** A processing bank debit: when the bank's answer is known (by the injected clock), and what it will be. */
  settlesAt: string | null;
  settlement: { status: 'succeeded' } | { status: 'failed'; failure: ChargeFailureData } | null;
  settledAt: string | null;
  /** Sum of its refunds (decimal string); absent on charges made before refunds existed. */
  amountRefunded?: string;
  /** When the settled debit's webhook was delivered (answered 2xx): each is sent once. Absent on older rows. */
  webhookDeliveredAt?: string | null;
  canceledAt?: string | null;
}

/** A refund of a succeeded charge (sandbox refunds succeed at once). */
export interface RefundData {
  paymentIntentId: string;
  amount: string;
  currency: string;
  reason: string;
  status: 'succeeded' | 'pending' | 'failed';
  failure: ChargeFailureData | null;
}

export interface IdempotencyRecordData {
  operation: string;
  requestHash: string;
  outcome: { ok: Record<string, string> } | { error: { code: GatewayErrorCode; message: string; gatewayCode: string | null } };
}

interface DataOf {
  customer: CustomerData;
  payment_method: PaymentMethodData;
  setup_intent: SetupIntentData;
  checkout_session: CheckoutSessionData;
  payment_intent: PaymentIntentData;
  refund: RefundData;
  idempotency_record: IdempotencyRecordData;
}

export type SandboxObject<T extends SandboxObjectType> = SandboxGatewayObject & { data: DataOf[T] };

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A Stripe-looking id with `length` random base-62 characters (24 give about 143 bits). */
export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += ALPHABET[b % 62];
  return out;
}

let lastMs = 0;
let counter = 0;

/**
 * A Stripe-looking id of the same shape (24 base-62 characters) whose first 13 are the time in hex (11 for the
 * milliseconds, 2 for a counter): charges and idempotency records, written a thousand at a time, are then appended
 * to the right edge of sandbox_gateway_object's primary key instead of at a random leaf. The other 11 are random
 * (about 65 bits).
 */
export function orderedId(prefix: string): string {
  const ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else if (++counter > 0xff) {
    lastMs += 1;
    counter = 0;
  }
  return prefix + lastMs.toString(16).padStart(11, '0') + counter.toString(16).padStart(2, '0') + randomId('', 11);
}

/** Sorted-key JSON, so the same parameters in another order hash the same. */
export function stableHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

export function notFound(what: string, id: string): GatewayError {
  return new GatewayError(GatewayErrorCode.NOT_FOUND, `No such ${what}: '${id}'`, 'resource_missing');
}

/**
 * The sandbox's "servers": its objects in PostgreSQL. Every operation runs in a transaction of its own on a fork of
 * the ORM, never in the caller's transaction: like Stripe, what the sandbox did stays done when the caller rolls back.
 */
@Injectable()
export class SandboxStore {
  constructor(
    private readonly orm: MikroORM,
    readonly clock: Clock,
  ) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.orm.em.fork().transactional(fn);
  }

  /** Serializes work on one key (a session, an idempotency key) until the transaction ends. */
  async lock(em: EntityManager, key: string): Promise<void> {
    await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`sandbox-gateway:${key}`]);
  }

  async find<T extends SandboxObjectType>(em: EntityManager, type: T, id: string): Promise<SandboxObject<T> | null> {
    if (!id) return null;
    return (await em.findOne(SandboxGatewayObject, { id, type })) as SandboxObject<T> | null;
  }

  add<T extends SandboxObjectType>(em: EntityManager, type: T, id: string, data: DataOf[T], idempotencyKey: string | null = null): SandboxObject<T> {
    const now = this.clock.now();
    const row = em.create(SandboxGatewayObject, { id, type, data: data as unknown as Record<string, unknown>, idempotencyKey, createdAt: now, updatedAt: now });
    return row as SandboxObject<T>;
  }

  /** Replaces the object's data (a new object, so the ORM sees the change). */
  change<T extends SandboxObjectType>(row: SandboxObject<T>, patch: Partial<DataOf[T]>): void {
    row.data = { ...row.data, ...patch };
    row.updatedAt = this.clock.now();
  }

  /**
   * Runs `run` once per idempotency key: a replay with the same parameters gets the first outcome (a success or a
   * refusal), a replay with other parameters is refused, as Stripe does. Concurrent calls with one key wait in turn.
   */
  async idempotent(
    key: string,
    operation: string,
    params: unknown,
    run: (em: EntityManager) => Promise<Record<string, string>>,
  ): Promise<Record<string, string>> {
    if (!key?.trim()) throw new GatewayError(GatewayErrorCode.INVALID_REQUEST, `${operation}: an idempotency key is required`);
    const requestHash = stableHash(params);
    const outcome = await this.transaction(async (em) => {
      await this.lock(em, `idempotency:${key}`);
      const seen = (await em.findOne(SandboxGatewayObject, { idempotencyKey: key })) as SandboxObject<'idempotency_record'> | null;
      if (seen) {
        if (seen.data.operation !== operation || seen.data.requestHash !== requestHash) {
          return {
            error: {
              code: GatewayErrorCode.INVALID_REQUEST,
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with; '${key}' was first used for another request`,
              gatewayCode: 'idempotency_error',
            },
          };
        }
        return seen.data.outcome;
      }
      let result: IdempotencyRecordData['outcome'];
      try {
        result = { ok: await run(em) };
      } catch (error) {
        // A refusal is an answer and is replayed as such; anything else (a bug, the database) is not remembered.
        if (!(error instanceof GatewayError) || error.retryable) throw error;
        em.clear();
        result = { error: { code: error.code, message: error.message, gatewayCode: error.gatewayCode } };
      }
      this.add(em, 'idempotency_record', orderedId('idr_'), { operation, requestHash, outcome: result }, key);
      await em.flush();
      return result;
    });
    if ('error' in outcome) throw new GatewayError(outcome.error.code, outcome.error.message, outcome.error.gatewayCode);
    return outcome.ok;
  }

  newCardMethod(card: SandboxTestCard, expMonth: number, expYear: number, billingName: string | null = null): PaymentMethodData {
    return {
      kind: 'CARD',
      card: {
        brand: card.brand,
        last4: lastDigits(card.number),
        expMonth,
        expYear,
        fingerprint: fingerprintOf(FINGERPRINT_SALT, card.number),
        funding: card.funding,
      },
      bankAccount: null,
      billingName,
      billingAddress: null,
      customerId: null,
      behavior: card.outcome,
      mandate: null,
      detachedAt: null,
    };
  }

  newBankMethod(
    account: SandboxTestBankAccount,
    accountType: string,
    accountHolderType: string,
    billingName: string | null = null,
  ): PaymentMethodData {
    return {
      kind: 'BANK_ACCOUNT',
      card: null,
      bankAccount: {
        bankName: account.bankName,
        last4: lastDigits(account.accountNumber),
        accountType,
        accountHolderType,
        routingNumber: account.routingNumber,
        fingerprint: fingerprintOf(FINGERPRINT_SALT, account.routingNumber, account.accountNumber),
      },
      billingName,
      billingAddress: null,
      customerId: null,
      behavior: account.outcome,
      mandate: null,
      detachedAt: null,
    };
  }

  /**
   * Bank debits whose settle time has passed by `now` and whose webhook was not delivered yet, oldest first (settled
   * already by a read, or still `processing`; not cancelled ones). Only debits created in the 30 days before their
   * settle time are looked at, so the scan stays on the (type, created_at) index however many charges there are.
   */
  async debitsAwaitingWebhook(em: EntityManager, now: Date, settleSeconds: number, limit: number): Promise<SandboxObject<'payment_intent'>[]> {
    const latestCreated = new Date(now.getTime() - settleSeconds * 1000);
    const earliestCreated = new Date(latestCreated.getTime() - 30 * 86_400_000);
    const rows = await em.execute<{ id: string }[]>(
      `select "id" from "sandbox_gateway_object"
        where "type" = 'payment_intent' and "created_at" >= ? and "created_at" <= ?
          and jsonb_typeof("data"->'settlement') = 'object'
          and "data"->>'status' in ('processing', 'succeeded', 'failed')
          and ("data"->>'settlesAt')::timestamptz <= ?
          and "data"->>'webhookDeliveredAt' is null
        order by "created_at", "id" limit ?`,
      [earliestCreated, latestCreated, now, limit],
    );
    if (!rows.length) return [];
    return (await em.find(
      SandboxGatewayObject,
      { id: { $in: rows.map((r) => r.id) }, type: 'payment_intent' },
      { orderBy: { createdAt: 'asc', id: 'asc' } },
    )) as SandboxObject<'payment_intent'>[];
  }

  /** A test card's expiry when it comes from a token: Stripe uses a date a few years ahead. */
  tokenExpiry(): { expMonth: number; expYear: number } {
    const now = this.clock.now();
    return { expMonth: now.getUTCMonth() + 1, expYear: now.getUTCFullYear() + 3 };
  }
}

export function toGatewayPaymentMethod(row: SandboxObject<'payment_method'>): GatewayPaymentMethod {
  const d = row.data;
  return {
    id: row.id,
    kind: d.kind,
    card: d.card ? { ...d.card } : null,
    bankAccount: d.bankAccount
      ? {
          bankName: d.bankAccount.bankName,
          last4: d.bankAccount.last4,
          accountType: d.bankAccount.accountType,
          routingNumber: d.bankAccount.routingNumber,
          fingerprint: d.bankAccount.fingerprint,
        }
      : null,
    billingAddress: d.billingAddress,
    customerId: d.customerId,
  };
}

/** The payment method as Stripe's API shows it (the sandbox's tokenization endpoint answers with this). */
export function toStripePaymentMethodJson(row: SandboxObject<'payment_method'>) {
  const d = row.data;
  const a = d.billingAddress;
  return {
    id: row.id,
    object: 'payment_method',
    type: d.kind === 'CARD' ? 'card' : 'us_bank_account',
    created: Math.floor(row.createdAt.getTime() / 1000),
    livemode: false,
    customer: d.customerId,
    billing_details: {
      name: d.billingName,
      email: null,
      phone: null,
      address: a
        ? { line1: a.line1, line2: a.line2 ?? null, city: a.city, state: a.region ?? null, postal_code: a.postalCode, country: a.country }
        : null,
    },
    ...(d.card
      ? {
          card: {
            brand: d.card.brand,
            last4: d.card.last4,
            exp_month: d.card.expMonth,
            exp_year: d.card.expYear,
            fingerprint: d.card.fingerprint,
            funding: d.card.funding,
            country: 'US',
          },
        }
      : {}),
    ...(d.bankAccount
      ? {
          us_bank_account: {
            bank_name: d.bankAccount.bankName,
            last4: d.bankAccount.last4,
            account_type: d.bankAccount.accountType,
            account_holder_type: d.bankAccount.accountHolderType,
            routing_number: d.bankAccount.routingNumber,
            fingerprint: d.bankAccount.fingerprint,
          },
        }
      : {}),
  };
}
