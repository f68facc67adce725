import type { PostalAddress } from '#libs/ddd/index.js';

/**
 * The payment gateway port. Settle never sees a card number or CVC: the gateway tokenizes them (Stripe.js /
 * Checkout, or the sandbox's own pages) and we keep the gateway's ids and the safe details below.
 *
 * Adapters: StripeGateway (the real `stripe` SDK) and SandboxGateway (the default without STRIPE_SECRET_KEY; behaves
 * like Stripe's test mode and refuses anything that is not one of Stripe's published test numbers or tokens).
 * Every call that creates something takes an idempotency key, so a retried request never creates it twice.
 */
export type GatewayName = 'stripe' | 'sandbox';
export type GatewayMethodKind = 'CARD' | 'BANK_ACCOUNT';

export interface GatewayCard {
  /** visa, mastercard, amex, discover, diners, jcb, unionpay, unknown */
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** Same card, same fingerprint (per gateway account): how duplicates are found. */
  fingerprint: string;
  /** credit, debit, prepaid, unknown */
  funding: string;
}

export interface GatewayBankAccount {
  bankName: string | null;
  last4: string;
  /** checking or savings */
  accountType: string;
  routingNumber: string | null;
  fingerprint: string;
}

export interface GatewayPaymentMethod {
  /** The gateway's id, e.g. pm_1Q... */
  id: string;
  kind: GatewayMethodKind;
  card: GatewayCard | null;
  bankAccount: GatewayBankAccount | null;
  billingAddress: PostalAddress | null;
  /** The gateway customer it is attached to, if any. */
  customerId: string | null;
}

export interface CreateGatewayCustomer {
  /** Our ids, kept in the gateway's metadata so its dashboard can be traced back to Settle. */
  organizationId: string;
  customerId: string;
  name: string;
  email: string | null;
  phone: string | null;
  address: PostalAddress | null;
  idempotencyKey: string;
}

/** How the customer agreed to future charges on a bank account (a mandate); cards ignore it. */
export type MandateAcceptance =
  | { type: 'online'; acceptedAt: Date; ipAddress: string; userAgent: string }
  | { type: 'offline'; acceptedAt: Date };

export interface SavePaymentMethod {
  gatewayCustomerId: string;
  /** A token from the gateway's own collection (Stripe.js, Checkout, a test token such as pm_card_visa). */
  paymentMethodId: string;
  billingAddress: PostalAddress;
  mandate: MandateAcceptance;
  idempotencyKey: string;
}

export interface CreateSetupSession {
  gatewayCustomerId: string;
  kinds: GatewayMethodKind[];
  /** Where the gateway sends the customer afterwards; `{SESSION_ID}` is replaced by the session's id. */
  successUrl: string;
  cancelUrl: string;
  /** Our reference (the profile request's id), stored in the session's metadata. */
  reference: string;
  idempotencyKey: string;
}

export interface SetupSession {
  id: string;
  /** The page the customer is sent to. */
  url: string | null;
  status: 'open' | 'complete' | 'expired';
  gatewayCustomerId: string | null;
  /** Set once the customer completed it: the saved method (already attached to the customer). */
  paymentMethodId: string | null;
  reference: string | null;
  /** When the page stops accepting input (24 hours after creation, at both gateways). */
  expiresAt: Date | null;
}

export interface CreateCharge {
  /** The gateway customer the method is attached to (null for a one-off method not attached to anyone). */
  gatewayCustomerId: string | null;
  paymentMethodId: string;
  /**
   * What kind of method it is, as the wallet saved it. Given, the adapter charges at once (StripeGateway names the
   * type in `allowed_payment_method_types` without reading the method first: one request per charge instead of two,
   * under Stripe's rate limit); left out, it reads the method to learn it. A kind that is not the method's is refused
   * INVALID_REQUEST, as Stripe refuses a method of a type the PaymentIntent does not allow. Not part of what the
   * idempotency key stands for: the same charge asked with or without it is the same request.
   */
  methodKind?: GatewayMethodKind | null;
  /** Integer minor units, more than zero. */
  amount: bigint;
  /** ISO 4217, e.g. USD. */
  currency: string;
  /** Shown on the gateway's dashboard and the customer's statement descriptor suffix where supported. */
  description: string;
  /** Our references (organizationId, invoiceId, installmentId, ...), kept in the gateway's metadata. */
  metadata: Record<string, string>;
  /** The customer is not present (a saved method with consent: installments, agreements, mass charges). */
  offSession: boolean;
  /** Derived from what the charge pays (e.g. `installment:<id>:attempt:1`): the same key never charges twice. */
  idempotencyKey: string;
}

/**
 * A charge's state at the gateway. `processing` is a bank debit that settles days later; `failed` is a definitive
 * refusal (a decline) with its reason; an outcome the gateway could not tell (timeout, outage) is a thrown
 * GatewayError UNAVAILABLE instead, to be resolved later with getCharge / the same idempotency key, never by
 * charging again under a new key.
 */
export interface GatewayCharge {
  /** The gateway's id (Stripe: the PaymentIntent, pi_...). */
  id: string;
  /** `canceled`: a processing bank debit cancelled before it settled (cancelCharge); nothing was or will be taken. */
  status: 'succeeded' | 'processing' | 'failed' | 'requires_action' | 'canceled';
  amount: bigint;
  currency: string;
  paymentMethodId: string;
  failure: { code: GatewayErrorCode; gatewayCode: string | null; message: string } | null;
  createdAt: Date;
}

/** One answer of `createCharges`: the charge, or why the gateway refused it. */
export type GatewayChargeResult = { charge: GatewayCharge; error?: undefined } | { charge?: undefined; error: GatewayError };

export interface CreateRefund {
  /** The charge to refund (Stripe: the PaymentIntent, pi_...); it must have succeeded. */
  chargeId: string;
  /** Integer minor units, more than zero; all refunds of a charge together are at most what it took. */
  amount: bigint;
  /** Why, in words (kept in the gateway's metadata; Stripe's own `reason` is left to its dashboard). */
  reason: string;
  /** `refund:<refundId>`: asking again with it (a crash, a timeout) never refunds twice. */
  idempotencyKey: string;
}

/**
 * A refund at the gateway. `pending`: accepted, the money is on its way back (Stripe: some bank refunds, or a refund
 * waiting for balance); `failed`: the gateway could not return it (e.g. a closed card account), with the reason.
 */
export interface GatewayRefund {
  /** The gateway's id (re_...). */
  id: string;
  chargeId: string;
  amount: bigint;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed';
  failure: { code: GatewayErrorCode; gatewayCode: string | null; message: string } | null;
  createdAt: Date;
}

export abstract class PaymentGateway {
  abstract readonly name: GatewayName;

  abstract createCustomer(input: CreateGatewayCustomer): Promise<{ id: string }>;

  /** Reads a token's details without changing anything (used to find duplicates before saving). */
  abstract describePaymentMethod(paymentMethodId: string): Promise<GatewayPaymentMethod>;

  /**
   * Verifies a method for future off-session charges and attaches it to the customer (a confirmed SetupIntent).
   * Throws GatewayError on a decline, an expired card, a wrong CVC, or when the bank asks for authentication.
   */
  abstract savePaymentMethod(input: SavePaymentMethod): Promise<GatewayPaymentMethod>;

  /** A new expiry for a card the customer renewed (same number). */
  abstract updateCardExpiry(paymentMethodId: string, expMonth: number, expYear: number): Promise<GatewayPaymentMethod>;

  /** Detaches a method from its customer; it can no longer be charged. Detaching a detached method is not an error. */
  abstract detachPaymentMethod(paymentMethodId: string): Promise<void>;

  /** A hosted page (Stripe Checkout in setup mode, or the sandbox's form) where the customer enters a method. */
  abstract createSetupSession(input: CreateSetupSession): Promise<SetupSession>;

  abstract getSetupSession(sessionId: string): Promise<SetupSession>;

  /**
   * Charges a saved method (Stripe: a PaymentIntent created and confirmed at once). Declines come back as a charge
   * with status `failed` and the reason; a retryable failure throws GatewayError UNAVAILABLE (outcome unknown).
   * The same idempotency key with the same parameters returns the first charge again.
   */
  abstract createCharge(input: CreateCharge): Promise<GatewayCharge>;

  /** The charge's current state (a processing bank debit may have settled or failed since). */
  abstract getCharge(chargeId: string): Promise<GatewayCharge>;

  /**
   * True when `createCharges` sends the whole list as one request (the sandbox); false when it is one request per
   * charge (Stripe), which callers pace per charge with the ChargePacer.
   */
  readonly batchesCharges: boolean = false;

  /**
   * Hands the adapter the ChargePacer's `acquire` (it waits for the caller's next slot): a charge the gateway refused
   * for the rate (429, nothing done) is asked again in a slot of its own, in line with every other charge, rather than
   * on a timer of its own that bunches retries into the next second's limit. By default nothing (a gateway with no
   * per-request rate limit, or one that batches).
   */
  paceRateLimitRetries(_acquire: (() => Promise<unknown>) | null): void {}

  /**
   * Many charges, each with the semantics of `createCharge` (its own idempotency key; a decline is a `failed`
   * charge). Answers one result per input, in order: the charge, or the GatewayError that refused it (UNAVAILABLE:
   * outcome unknown, ask again under the same key). By default one `createCharge` after another.
   */
  async createCharges(inputs: readonly CreateCharge[]): Promise<GatewayChargeResult[]> {
    const out: GatewayChargeResult[] = [];
    for (const input of inputs) {
      try {
        out.push({ charge: await this.createCharge(input) });
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        out.push({ error });
      }
    }
    return out;
  }

  /**
   * Refunds part or all of a succeeded charge. More than what is left of it (summed over its refunds) is refused
   * INVALID_REQUEST (`amount_too_large`, or `charge_already_refunded` when nothing is left); a charge that did not
   * succeed is refused INVALID_REQUEST too. The same idempotency key with the same parameters returns the first refund.
   */
  abstract createRefund(input: CreateRefund): Promise<GatewayRefund>;

  /** The refund's current state (a pending refund may have succeeded or failed since). */
  abstract getRefund(refundId: string): Promise<GatewayRefund>;

  /**
   * Cancels a processing bank debit before it settles: the charge becomes `canceled` and nothing is taken. Anything
   * else (a card charge, a settled or failed debit) is refused INVALID_REQUEST. Stripe cancels a PaymentIntent in
   * `processing` only in rare cases: when it refuses, the error says so (refund the debit once it has settled instead).
   * Cancelling a cancelled charge again returns it unchanged.
   */
  abstract cancelCharge(chargeId: string, idempotencyKey: string): Promise<GatewayCharge>;

  /**
   * Checks a webhook delivery's signature on the exact bytes received (header `Stripe-Signature`:
   * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the endpoint's secret) and that it was signed at
   * most 300 s before now by Settle's clock; then parses it. Throws WebhookSignatureError when the body was changed,
   * the signature is missing or wrong, or the timestamp is stale.
   */
  abstract verifyWebhook(rawBody: Buffer, signatureHeader: string | undefined): GatewayWebhookEvent;
}

/** A verified gateway event (Stripe's Event object, reduced to what Settle reads). */
export interface GatewayWebhookEvent {
  /** The gateway's event id (evt_…): the same event delivered again has the same id. */
  id: string;
  /** e.g. payment_intent.succeeded, payment_intent.payment_failed, payment_intent.processing, payment_intent.canceled */
  type: string;
  created: Date;
  /** The charge as the event saw it, for `payment_intent.*` events (it may be stale: re-read it); else null. */
  data: GatewayCharge | null;
}

/** How long after signing a webhook is still accepted (Stripe's SDK default). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** A webhook delivery whose signature could not be verified: answered 400, never handled. */
export class WebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

export enum GatewayErrorCode {
  CARD_DECLINED = 'CARD_DECLINED',
  INSUFFICIENT_FUNDS = 'INSUFFICIENT_FUNDS',
  EXPIRED_CARD = 'EXPIRED_CARD',
  INCORRECT_CVC = 'INCORRECT_CVC',
  INCORRECT_NUMBER = 'INCORRECT_NUMBER',
  AUTHENTICATION_REQUIRED = 'AUTHENTICATION_REQUIRED',
  /** Bank accounts: closed, no account, not authorized, ... */
  BANK_ACCOUNT_REJECTED = 'BANK_ACCOUNT_REJECTED',
  /** The sandbox refuses a number that is not one of the published test numbers. */
  NOT_A_TEST_NUMBER = 'NOT_A_TEST_NUMBER',
  /** Unknown token, customer or session. */
  NOT_FOUND = 'NOT_FOUND',
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The gateway did not answer or failed (network, 5xx, rate limit): the outcome is unknown, retry later. */
  UNAVAILABLE = 'UNAVAILABLE',
}

/** A refusal or failure from the gateway, with a reason a person can act on. */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    /** The gateway's own code, e.g. Stripe's decline_code `insufficient_funds`. */
    readonly gatewayCode: string | null = null,
    /** True when trying again later may succeed (UNAVAILABLE). */
    readonly retryable = code === GatewayErrorCode.UNAVAILABLE,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
