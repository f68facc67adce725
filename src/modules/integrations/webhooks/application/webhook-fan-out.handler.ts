import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { Clock, type DeliveredEvent, newId } from '#libs/ddd/index.js';
import { type EventConsumer, EventHandler } from '#libs/outbox/index.js';
import { INTERNAL_EVENT_TYPES, publicEventName, subscribes } from '../domain/event-catalog.js';
import { OUTBOUND_WEBHOOKS_QUEUE, SEND_JOB_OPTIONS, type SendJob } from '../infrastructure/webhooks.queue.js';

/** The JSON every endpoint receives. */
export interface WebhookBody {
  /** The event id: the same in every attempt and replay (dedupe on it). */
  id: string;
  type: string;
  /** When the event happened (ISO 8601, UTC). */
  created: string;
  organizationId: string;
  data: Record<string, unknown>;
}

/**
 * One outbox consumer for every published event type: writes one delivery per (event, endpoint) of the event's
 * organization that is enabled and subscribed to it (unique, so a redelivered event adds nothing), and queues the
 * sends. The EntityManager is scoped to the event's organization, and the query names it too: another
 * organization's endpoints are never even read.
 */
@Injectable()
@EventHandler(INTERNAL_EVENT_TYPES, { name: 'integrations.webhooks.fan-out' })
export class WebhookFanOut implements EventConsumer {
  constructor(
    private readonly clock: Clock,
    @InjectQueue(OUTBOUND_WEBHOOKS_QUEUE) private readonly queue: Queue<SendJob>,
  ) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const type = publicEventName(event.type);
    if (!type || !event.organizationId) return;
    // Plain rows: every event of every organization comes here, most of them to find no endpoint (bench:deliveries).
    const enabled = await em.execute<{ id: string; event_types: string[] }[]>(
      'select id, event_types from webhook_endpoint where organization_id = ? and enabled',
      [event.organizationId],
    );
    const endpoints = enabled.filter((e) => subscribes(e.event_types, type));
    if (!endpoints.length) return;
    const body: WebhookBody = {
      id: event.id,
      type,
      created: new Date(event.occurredAt).toISOString(),
      organizationId: event.organizationId,
      data: event.payload,
    };
    const json = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const now = this.clock.now();
    const rows = endpoints.map((e) => ({ id: newId(), endpoint_id: e.id }));
    const inserted = await em.execute<{ id: string }[]>(
      `insert into webhook_delivery (id, organization_id, created_at, updated_at, endpoint_id, event_id, event_type, body, status,
                                     attempts, next_attempt_at, window_started_at, replay_pending)
       select r.id, ?, ?, ?, r.endpoint_id, ?, ?, ?, 'PENDING', 0, ?, ?, false
         from jsonb_to_recordset(?::jsonb) as r(id uuid, endpoint_id uuid)
       on conflict (event_id, endpoint_id) do nothing
       returning id`,
      [event.organizationId, now, now, event.id, type, json, now, now, JSON.stringify(rows)],
    );
    if (inserted.length) {
      await this.queue.addBulk(inserted.map((r) => ({ name: 'send', data: { deliveryId: r.id }, opts: { ...SEND_JOB_OPTIONS, jobId: `send:${r.id}` } })));
    }
  }
}
