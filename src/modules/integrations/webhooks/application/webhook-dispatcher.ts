import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { nextAttemptAt } from '../domain/retry-policy.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from '../domain/signature.js';
import { WebhookDeliveryAttempt, WebhookDeliveryStatus } from '../domain/webhook.entities.js';
import { WebhookSecrets } from '../infrastructure/webhook-secrets.js';
import { SEND_TIMEOUT_MS, type SendResult, WebhookSender } from '../infrastructure/webhook-sender.js';

/** A claimed delivery, as read across organizations (raw SQL). */
interface ClaimedDelivery {
  id: string;
  organization_id: string;
  endpoint_id: string;
  event_id: string;
  body: string;
  attempts: number;
  window_started_at: Date;
  replay: boolean;
}

interface EndpointRow {
  url: string;
  enabled: boolean;
  secret_ciphertext: string;
}

/** A worker owns a claimed delivery this long: the 10 s timeout plus room to record the outcome. */
const LEASE_MS = SEND_TIMEOUT_MS + 50_000;

export type SendOutcome = 'sent' | 'not-due' | 'missing';

/**
 * Sends due deliveries: claim (SENDING, with a lease, attempt counted) → sign with the endpoint's current secret →
 * POST → record the attempt and DELIVERED (2xx), or the next retry (backoff), or FAILED (3 days after the first
 * attempt). A delivery whose endpoint was disabled is SKIPPED without a request.
 *
 * At least once: a worker that dies after the endpoint answered but before the outcome was recorded leaves the row
 * SENDING; when its lease runs out it is sent again with the same event id, which receivers dedupe on.
 */
@Injectable()
export class WebhookDispatcher {
  private readonly logger = new Logger(WebhookDispatcher.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly secrets: WebhookSecrets,
    private readonly sender: WebhookSender,
  ) {}

  /** Sends one batch of due deliveries (every organization); returns how many it claimed. */
  async dispatchDue(limit = 20): Promise<number> {
    const claimed = await this.claim(limit);
    await Promise.all(claimed.map((d) => this.deliver(d)));
    return claimed.length;
  }

  /** Sends everything that is due, batch after batch. */
  async dispatchAllDue(): Promise<number> {
    let total = 0;
    for (let n = await this.dispatchDue(); n > 0; n = await this.dispatchDue()) total += n;
    return total;
  }

  /**
   * Sends one delivery now if it is due. `missing`: no such row yet (its transaction may not have committed) or it is
   * due but was not claimable; the caller tries again shortly.
   */
  async send(deliveryId: string): Promise<SendOutcome> {
    const [claimed] = await this.claim(1, deliveryId);
    if (claimed) {
      await this.deliver(claimed);
      return 'sent';
    }
    // Not claimed: no row, or one that was invisible a moment ago (its transaction committed since) — or one another
    // worker holds right now. Due and still PENDING means one of the first two: try again shortly.
    const [row] = await this.orm.em.fork().execute<{ due: boolean }[]>(
      `select status = 'PENDING' and next_attempt_at <= ? as due from webhook_delivery where id = ?`,
      [this.clock.now(), deliveryId],
    );
    return !row || row.due ? 'missing' : 'not-due';
  }

  private async claim(limit: number, deliveryId?: string): Promise<ClaimedDelivery[]> {
    const now = this.clock.now();
    return this.orm.em.fork().execute<ClaimedDelivery[]>(
      `with due as (
         select id, replay_pending from webhook_delivery
          where ((status = 'PENDING' and next_attempt_at <= ?) or (status = 'SENDING' and lease_until < ?))
                ${deliveryId ? 'and id = ?' : ''}
          order by next_attempt_at limit ? for update skip locked)
       update webhook_delivery d
          set status = 'SENDING', attempts = d.attempts + 1, lease_until = ?, replay_pending = false, updated_at = ?
         from due where d.id = due.id
       returning d.id, d.organization_id, d.endpoint_id, d.event_id, d.body, d.attempts, d.window_started_at, due.replay_pending as replay`,
      [now, now, ...(deliveryId ? [deliveryId] : []), limit, new Date(now.getTime() + LEASE_MS), now],
    );
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const em = this.orm.em.fork();
    const [endpoint] = await em.execute<EndpointRow[]>(
      'select url, enabled, secret_ciphertext from webhook_endpoint where id = ? and organization_id = ?',
      [d.endpoint_id, d.organization_id],
    );
    if (!endpoint || !endpoint.enabled) {
      await this.finish(d, { status: WebhookDeliveryStatus.SKIPPED, next_attempt_at: null, last_error: 'The endpoint is disabled' });
      return;
    }
    const startedAt = this.clock.now();
    let secret: string | null = null;
    try {
      secret = this.secrets.decrypt(endpoint.secret_ciphertext);
    } catch {
      // JWT_SECRET changed since the secret was stored: nothing is sent until the secret is rotated.
    }
    const result: SendResult = secret
      ? await this.sender.send(
          endpoint.url,
          { [SIGNATURE_HEADER]: signatureHeader(secret, d.body, startedAt), [EVENT_ID_HEADER]: d.event_id },
          d.body,
        )
      : { statusCode: null, responseBody: null, error: "The endpoint's secret cannot be read (JWT_SECRET changed?): rotate it", durationMs: 0 };
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const error = ok ? null : (result.error ?? `The endpoint answered ${result.statusCode}`);
    const now = this.clock.now();
    const next = ok ? null : nextAttemptAt(d.attempts, new Date(d.window_started_at), now);
    const recorded = await this.finish(d, {
      status: ok ? WebhookDeliveryStatus.DELIVERED : next ? WebhookDeliveryStatus.PENDING : WebhookDeliveryStatus.FAILED,
      next_attempt_at: next,
      delivered_at: ok ? now : null,
      last_status_code: result.statusCode,
      last_error: error,
    });
    if (!recorded) return; // deleted or replayed meanwhile
    const attempt = Object.assign(new WebhookDeliveryAttempt(), {
      deliveryId: d.id,
      number: d.attempts,
      startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      responseBody: result.responseBody,
      error,
      replay: d.replay,
    });
    scopeToTenant(em, d.organization_id);
    await em.persist(attempt).flush();
    if (!ok) this.logger.warn(`Webhook delivery ${d.id} attempt ${d.attempts} failed${next ? '' : ' (giving up)'}: ${error}`);
  }

  /** Records the outcome, only while this worker still holds the claim. */
  private async finish(d: ClaimedDelivery, fields: Record<string, unknown>): Promise<boolean> {
    const columns = Object.keys(fields);
    const updated = await this.orm.em.fork().execute<{ id: string }[]>(
      `update webhook_delivery set ${columns.map((c) => `${c} = ?`).join(', ')}, lease_until = null, updated_at = ?
        where id = ? and status = 'SENDING' and attempts = ? returning id`,
      [...Object.values(fields), this.clock.now(), d.id, d.attempts],
    );
    return updated.length > 0;
  }
}
