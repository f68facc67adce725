import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { type GatewayWebhookEvent, WEBHOOK_TOLERANCE_SECONDS, WebhookSignatureError } from '../payment-gateway.js';
import { type StripeEventLike, webhookEventOf } from '../stripe-gateway.js';
import type { SandboxObject } from './sandbox-store.js';

/**
 * The sandbox's webhooks, signed and verified exactly as Stripe's are: header `Stripe-Signature:
 * t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, stale after 300 s. The same controller and the same
 * checks serve both gateways, so a test against the sandbox exercises what production runs.
 */

const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

function hmac(secret: string, timestamp: number, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** The Stripe-Signature header for `body` signed at `at`. */
export function signWebhook(body: string | Buffer, secret: string, at: Date): string {
  const t = seconds(at);
  return `t=${t},v1=${hmac(secret, t, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')).toString('hex')}`;
}

/** Verifies the signature on the exact bytes (constant-time), then the age by `now`, then parses the event. */
export function verifySandboxWebhook(rawBody: Buffer, header: string | undefined, secret: string, now: Date): GatewayWebhookEvent {
  if (!header) throw new WebhookSignatureError('The Stripe-Signature header is missing');
  let timestamp: number | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => s?.trim() ?? '');
    if (key === 't' && /^\d{1,12}$/.test(value ?? '')) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value ?? '')) signatures.push(Buffer.from(value!, 'hex'));
  }
  if (timestamp === null || !signatures.length) {
    throw new WebhookSignatureError('The Stripe-Signature header is malformed: expected t=<timestamp>,v1=<signature>');
  }
  const expected = hmac(secret, timestamp, rawBody);
  if (!signatures.some((candidate) => timingSafeEqual(candidate, expected))) {
    throw new WebhookSignatureError('No signature matches the expected signature for the payload');
  }
  if (seconds(now) - timestamp > WEBHOOK_TOLERANCE_SECONDS) {
    throw new WebhookSignatureError(`The webhook was signed more than ${WEBHOOK_TOLERANCE_SECONDS} seconds ago`);
  }
  let event: StripeEventLike;
  try {
    event = JSON.parse(rawBody.toString('utf8')) as StripeEventLike;
  } catch {
    throw new WebhookSignatureError('The webhook body is not JSON');
  }
  return webhookEventOf(event);
}

/** The secret derived from JWT_SECRET when SANDBOX_WEBHOOK_SECRET is unset: one-way, and distinct from it. */
export function derivedWebhookSecret(jwtSecret: string): string {
  return `whsec_${createHmac('sha256', jwtSecret).update('settle:sandbox-gateway:webhook-signing-secret').digest('base64url')}`;
}

/** What the sandbox would POST for a settled bank debit: the event's id (stable across retries) and its body. */
export interface SandboxWebhook {
  chargeId: string;
  eventId: string;
  type: string;
  body: string;
}

/** Stripe's event for a debit the bank answered: payment_intent.succeeded or payment_intent.payment_failed. */
export function settledDebitEvent(row: SandboxObject<'payment_intent'>, now: Date): SandboxWebhook {
  const d = row.data;
  const failed = d.status === 'failed';
  const type = failed ? 'payment_intent.payment_failed' : d.status === 'succeeded' ? 'payment_intent.succeeded' : `payment_intent.${d.status}`;
  // The same charge and outcome always give the same event id, so a redelivery after an error is recognised.
  const eventId = `evt_${createHash('sha256').update(`${row.id}:${type}`).digest('hex').slice(0, 24)}`;
  const intent = {
    id: row.id,
    object: 'payment_intent',
    amount: Number(d.amount),
    currency: d.currency.toLowerCase(),
    // Stripe's failed debit goes back to requires_payment_method and forgets its method.
    status: failed ? 'requires_payment_method' : d.status,
    payment_method: failed ? null : d.paymentMethodId,
    created: seconds(row.createdAt),
    livemode: false,
    metadata: d.metadata,
    last_payment_error:
      failed && d.failure
        ? { type: 'invalid_request_error', code: d.failure.gatewayCode ?? undefined, message: d.failure.message, payment_method: { id: d.paymentMethodId } }
        : null,
  };
  const body = JSON.stringify({
    id: eventId,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: seconds(now),
    livemode: false,
    pending_webhooks: 1,
    type,
    data: { object: intent },
  });
  return { chargeId: row.id, eventId, type, body };
}
