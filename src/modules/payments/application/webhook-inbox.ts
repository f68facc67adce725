import { Injectable } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { newId } from '#libs/ddd/index.js';
import type { GatewayWebhookEvent } from '../../../infra/payment-gateway/index.js';
import { WebhookEventOutcome } from '../domain/webhook-event.entity.js';

/** How long one delivery may work on an event before a redelivery may take it over (a crashed process). */
export const WEBHOOK_CLAIM_MS = 60_000;

export type WebhookClaim =
  /** This delivery handles it. */
  | { kind: 'claimed'; id: string }
  /** Handled before: answer 200 and do nothing. */
  | { kind: 'done'; outcome: WebhookEventOutcome }
  /** Another delivery of the same event is being handled right now. */
  | { kind: 'busy' };

export interface WebhookResult {
  outcome: WebhookEventOutcome;
  organizationId?: string | null;
  paymentId?: string | null;
}

/**
 * The webhook inbox (table webhook_event), outside any organization: the row is inserted once per (gateway, event
 * id) and claimed with a conditional update, so two copies of one event arriving together are handled once, a
 * handled one is never handled again, and one whose handling failed is taken again by the gateway's next delivery.
 * Each statement commits on its own: nothing is held open while the gateway is asked about the charge.
 */
@Injectable()
export class WebhookInbox {
  constructor(private readonly orm: MikroORM) {}

  async claim(gateway: string, event: GatewayWebhookEvent, now: Date): Promise<WebhookClaim> {
    const em = this.orm.em.fork();
    await em.execute(
      `insert into "webhook_event" ("id", "gateway", "event_id", "type", "charge_id", "outcome", "attempts", "received_at")
       values (?, ?, ?, ?, ?, 'PENDING', 0, ?) on conflict ("gateway", "event_id") do nothing`,
      [newId(), gateway, event.id, event.type, event.data?.id ?? null, now],
    );
    const claimed = await em.execute<{ id: string }[]>(
      `update "webhook_event" set "attempts" = "attempts" + 1, "claimed_until" = ?
        where "gateway" = ? and "event_id" = ? and "processed_at" is null and ("claimed_until" is null or "claimed_until" < ?)
        returning "id"`,
      [new Date(now.getTime() + WEBHOOK_CLAIM_MS), gateway, event.id, now],
    );
    if (claimed[0]) return { kind: 'claimed', id: claimed[0].id };
    const [row] = await em.execute<{ outcome: WebhookEventOutcome; processed_at: Date | null }[]>(
      `select "outcome", "processed_at" from "webhook_event" where "gateway" = ? and "event_id" = ?`,
      [gateway, event.id],
    );
    return row?.processed_at ? { kind: 'done', outcome: row.outcome } : { kind: 'busy' };
  }

  async finish(id: string, result: WebhookResult, now: Date): Promise<void> {
    await this.orm.em.fork().execute(
      `update "webhook_event" set "outcome" = ?, "organization_id" = ?, "payment_id" = ?, "processed_at" = ?, "claimed_until" = null, "last_error" = null
        where "id" = ?`,
      [result.outcome, result.organizationId ?? null, result.paymentId ?? null, now, id],
    );
  }

  /** The handling failed: the next delivery may take it at once. */
  async release(id: string, error: string): Promise<void> {
    await this.orm.em.fork().execute(`update "webhook_event" set "claimed_until" = null, "last_error" = ? where "id" = ?`, [error.slice(0, 2000), id]);
  }
}
