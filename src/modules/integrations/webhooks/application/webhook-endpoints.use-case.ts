import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { Clock, type FieldProblem } from '#libs/ddd/index.js';
import { AppConfig } from '../../../../config/index.js';
import { isValidSubscription, EVENT_GROUPS } from '../domain/event-catalog.js';
import { endpointUrlProblem } from '../domain/endpoint-url.js';
import { WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint } from '../domain/webhook.entities.js';
import { WebhookSecrets } from '../infrastructure/webhook-secrets.js';
import { OUTBOUND_WEBHOOKS_QUEUE, SEND_JOB_OPTIONS, type SendJob } from '../infrastructure/webhooks.queue.js';
import { WebhooksError, WebhooksErrorReason } from '../webhooks.error.js';

/** Most endpoints one organization may register. */
export const MAX_ENDPOINTS = 20;
const MAX_EVENT_TYPES = 50;
const MAX_DESCRIPTION = 500;

export interface EndpointInput {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
}

/** An endpoint with its secret in clear: only the answer of a creation or a rotation. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** Managing an organization's webhook endpoints and replaying deliveries. Every method runs in the caller's transaction. */
@Injectable()
export class WebhookEndpoints {
  constructor(
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly secrets: WebhookSecrets,
    @InjectQueue(OUTBOUND_WEBHOOKS_QUEUE) private readonly queue: Queue<SendJob>,
  ) {}

  async require(em: EntityManager, id: string): Promise<WebhookEndpoint> {
    const endpoint = await em.findOne(WebhookEndpoint, { id });
    if (!endpoint) throw WebhooksError.endpointNotFound(id);
    return endpoint;
  }

  async create(em: EntityManager, input: Required<Pick<EndpointInput, 'url' | 'eventTypes'>> & EndpointInput, userId: string | null): Promise<EndpointWithSecret> {
    const clean = this.validate(input, true);
    const count = await em.count(WebhookEndpoint, {});
    if (count >= MAX_ENDPOINTS) {
      throw new WebhooksError(WebhooksErrorReason.TOO_MANY_WEBHOOK_ENDPOINTS, `An organization may register at most ${MAX_ENDPOINTS} webhook endpoints`);
    }
    const secret = this.secrets.generate();
    const now = this.clock.now();
    const endpoint = Object.assign(new WebhookEndpoint(), {
      url: clean.url!,
      eventTypes: clean.eventTypes!,
      description: clean.description ?? null,
      secretCiphertext: this.secrets.encrypt(secret),
      secretHint: this.secrets.hint(secret),
      secretRotatedAt: now,
      createdBy: userId,
      createdAt: now,
      updatedAt: now,
    });
    await em.persist(endpoint).flush();
    return { endpoint, secret };
  }

  async update(em: EntityManager, id: string, input: EndpointInput): Promise<WebhookEndpoint> {
    const clean = this.validate(input, false);
    const endpoint = await this.require(em, id);
    if (clean.url !== undefined) endpoint.url = clean.url;
    if (clean.eventTypes !== undefined) endpoint.eventTypes = clean.eventTypes;
    if (clean.description !== undefined) endpoint.description = clean.description;
    await em.flush();
    return endpoint;
  }

  /** Disabling stops every delivery: those waiting for a (re)try are SKIPPED now; replay them after enabling. */
  async setEnabled(em: EntityManager, id: string, enabled: boolean): Promise<WebhookEndpoint> {
    const endpoint = await this.require(em, id);
    if (endpoint.enabled === enabled) return endpoint;
    endpoint.enabled = enabled;
    endpoint.disabledAt = enabled ? null : this.clock.now();
    await em.flush();
    if (!enabled) {
      await em.nativeUpdate(
        WebhookDelivery,
        { endpointId: id, status: WebhookDeliveryStatus.PENDING },
        { status: WebhookDeliveryStatus.SKIPPED, nextAttemptAt: null, lastError: 'The endpoint is disabled' },
      );
    }
    return endpoint;
  }

  /** The endpoint, its deliveries and their attempts. */
  async delete(em: EntityManager, id: string): Promise<void> {
    const endpoint = await this.require(em, id);
    await em.execute(
      `delete from webhook_delivery_attempt where organization_id = ? and delivery_id in
         (select id from webhook_delivery where organization_id = ? and endpoint_id = ?)`,
      [endpoint.organizationId, endpoint.organizationId, id],
    );
    await em.execute('delete from webhook_delivery where organization_id = ? and endpoint_id = ?', [endpoint.organizationId, id]);
    await em.remove(endpoint).flush();
  }

  /** A new secret, effective at once: the next attempt is signed with it and the old one no longer verifies. */
  async rotateSecret(em: EntityManager, id: string): Promise<EndpointWithSecret> {
    const endpoint = await this.require(em, id);
    const secret = this.secrets.generate();
    endpoint.secretCiphertext = this.secrets.encrypt(secret);
    endpoint.secretHint = this.secrets.hint(secret);
    endpoint.secretRotatedAt = this.clock.now();
    await em.flush();
    return { endpoint, secret };
  }

  /**
   * Sends a delivery again, same event id and body, with a fresh 3-day retry window. Call `queueSend` once the
   * transaction has committed.
   */
  async replay(em: EntityManager, deliveryId: string): Promise<WebhookDelivery> {
    const delivery = await em.findOne(WebhookDelivery, { id: deliveryId });
    if (!delivery) throw WebhooksError.deliveryNotFound(deliveryId);
    const endpoint = await this.require(em, delivery.endpointId);
    if (!endpoint.enabled) {
      throw new WebhooksError(WebhooksErrorReason.WEBHOOK_ENDPOINT_DISABLED, 'The endpoint is disabled: enable it before replaying');
    }
    if (delivery.status === WebhookDeliveryStatus.SENDING) return delivery; // going out right now
    const now = this.clock.now();
    Object.assign(delivery, {
      status: WebhookDeliveryStatus.PENDING,
      nextAttemptAt: now,
      windowStartedAt: now,
      replayPending: true,
      leaseUntil: null,
    });
    await em.flush();
    return delivery;
  }

  async queueSend(deliveryId: string): Promise<void> {
    await this.queue.add('send', { deliveryId }, { ...SEND_JOB_OPTIONS, jobId: `send:${deliveryId}:${this.clock.now().getTime()}` });
  }

  private validate(input: EndpointInput, creating: boolean): EndpointInput {
    const problems: FieldProblem[] = [];
    const out: EndpointInput = {};
    if (input.url !== undefined || creating) {
      const url = (input.url ?? '').trim();
      const problem = endpointUrlProblem(url, this.config.isProduction);
      if (problem) problems.push({ field: 'input.url', message: problem });
      out.url = url;
    }
    if (input.eventTypes !== undefined || creating) {
      const types = [...new Set((input.eventTypes ?? []).map((t) => t.trim()))];
      if (!types.length) problems.push({ field: 'input.eventTypes', message: 'choose at least one event type' });
      if (types.length > MAX_EVENT_TYPES) problems.push({ field: 'input.eventTypes', message: `at most ${MAX_EVENT_TYPES}` });
      (input.eventTypes ?? []).forEach((t, i) => {
        if (!isValidSubscription(t.trim())) {
          problems.push({
            field: `input.eventTypes.${i}`,
            message: `${JSON.stringify(t)} is not an event type (see webhookEventTypes) or a pattern ${EVENT_GROUPS.map((g) => `${g}.*`).join(', ')}`,
          });
        }
      });
      out.eventTypes = types.sort();
    }
    if (input.description !== undefined) {
      const description = input.description?.trim() || null;
      if (description && description.length > MAX_DESCRIPTION) {
        problems.push({ field: 'input.description', message: `must be at most ${MAX_DESCRIPTION} characters` });
      }
      out.description = description;
    }
    if (problems.length) throw WebhooksError.invalid(problems);
    return out;
  }
}
