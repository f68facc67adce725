import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '#libs/ddd/index.js';
import { type GatewayWebhookEvent, PaymentGateway, WebhookSignatureError } from '../../../infra/payment-gateway/index.js';
import { WebhookEventOutcome } from '../domain/webhook-event.entity.js';
import { Payments } from './payments.facade.js';
import { WebhookInbox, type WebhookResult } from './webhook-inbox.js';

/** The events that say a charge changed; anything else is acknowledged and ignored. */
export const CHARGE_EVENT_TYPES: ReadonlySet<string> = new Set([
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.processing',
  'payment_intent.canceled',
]);

/** What the endpoint answers. */
export type WebhookReply =
  | { status: 200; body: { received: true; outcome: WebhookEventOutcome; duplicate: boolean } }
  | { status: 409; body: { received: false; message: string } };

/**
 * Receives a gateway webhook: verifies it on the raw body (a bad or stale signature throws WebhookSignatureError,
 * answered 400, nothing stored), records it in the inbox once per event id, and for a charge event hands the
 * charge's CURRENT state — read again from the gateway, since the event's copy may be older than what the gateway
 * knows now — to the payments core, which only ever moves a payment forward. So duplicates, retries and events
 * out of order all end where the gateway is. An error while handling is thrown (answered 500): the gateway
 * delivers the event again and the inbox lets that delivery handle it.
 */
@Injectable()
export class WebhookReceiver {
  private readonly logger = new Logger(WebhookReceiver.name);

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly inbox: WebhookInbox,
    private readonly payments: Payments,
    private readonly clock: Clock,
  ) {}

  async receive(rawBody: Buffer | undefined, signatureHeader: string | undefined): Promise<WebhookReply> {
    if (!rawBody?.length) throw new WebhookSignatureError('The webhook has no JSON body to verify');
    const event = this.gateway.verifyWebhook(rawBody, signatureHeader);
    const claim = await this.inbox.claim(this.gateway.name, event, this.clock.now());
    if (claim.kind === 'done') return { status: 200, body: { received: true, outcome: claim.outcome, duplicate: true } };
    if (claim.kind === 'busy') return { status: 409, body: { received: false, message: 'This event is being handled by another delivery' } };
    try {
      const result = await this.handle(event);
      await this.inbox.finish(claim.id, result, this.clock.now());
      return { status: 200, body: { received: true, outcome: result.outcome, duplicate: false } };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`webhook ${event.id} (${event.type}) failed; the gateway will deliver it again: ${error instanceof Error ? (error.stack ?? message) : message}`);
      await this.inbox.release(claim.id, message).catch(() => undefined);
      throw error;
    }
  }

  private async handle(event: GatewayWebhookEvent): Promise<WebhookResult> {
    if (!CHARGE_EVENT_TYPES.has(event.type) || !event.data) return { outcome: WebhookEventOutcome.IGNORED };
    const ref = await this.payments.attemptByChargeId(null, event.data.id);
    if (!ref) return { outcome: WebhookEventOutcome.UNMATCHED };
    const charge = await this.gateway.getCharge(event.data.id);
    const summary = await this.payments.applyGatewayResult(ref.organizationId, ref.attemptId, charge, 'webhook');
    return { outcome: WebhookEventOutcome.PROCESSED, organizationId: ref.organizationId, paymentId: summary.id };
  }
}
