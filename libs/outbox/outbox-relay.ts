import { Inject, Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { Clock } from '../ddd/index.js';
import { EventHandlerRegistry } from './event-handler.registry.js';
import {
  type DeliveryJob,
  OUTBOX_OPTIONS,
  OUTBOX_QUEUE,
  type OutboxOptions,
  RELAY_BATCH,
  RELAY_LEASE_MS,
  REQUEUE_WINDOW_MS,
} from './outbox.constants.js';

export interface ClaimedMessage {
  id: string;
  type: string;
}

/**
 * Moves committed outbox rows onto the delivery queue, one job per (event, handler).
 * Claim → enqueue → mark published. A relay that dies after enqueueing leaves the rows claimed but unpublished;
 * when the claim runs out they are enqueued again, and the consumers' inbox turns the duplicate into a no-op.
 */
@Injectable()
export class OutboxRelay {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly registry: EventHandlerRegistry,
    @InjectQueue(OUTBOX_QUEUE) private readonly queue: Queue<DeliveryJob>,
    @Inject(OUTBOX_OPTIONS) private readonly options: OutboxOptions,
  ) {}

  /** Publishes one batch; returns how many events it published. */
  async relayOnce(limit = RELAY_BATCH): Promise<number> {
    const claimed = await this.claim(limit);
    if (claimed.length === 0) return 0;
    await this.enqueue(claimed);
    await this.markPublished(claimed.map((m) => m.id));
    return claimed.length;
  }

  /** Takes unpublished rows whose claim (if any) has run out. SKIP LOCKED lets several relays run side by side. */
  async claim(limit = RELAY_BATCH): Promise<ClaimedMessage[]> {
    const now = this.clock.now();
    return this.orm.em.fork().execute<ClaimedMessage[]>(
      `update outbox_message set claimed_until = ?, relay_attempts = relay_attempts + 1
        where id in (select id from outbox_message
                      where published_at is null and (claimed_until is null or claimed_until < ?)
                      order by occurred_at limit ? for update skip locked)
        returning id, type`,
      [new Date(now.getTime() + RELAY_LEASE_MS), now, limit],
    );
  }

  async enqueue(messages: ClaimedMessage[]): Promise<void> {
    const jobs = messages.flatMap((m) =>
      this.registry.handlersFor(m.type).map((handler) => ({
        data: { messageId: m.id, handler },
        opts: this.jobOptions(m.id, handler),
      })),
    );
    if (jobs.length) await this.queue.addBulk(jobs);
  }

  /**
   * Enqueues again the deliveries of events published within `windowMs` that have no inbox row yet (neither
   * PROCESSED nor DEAD) for one of their handlers: the jobs a Redis that restarted empty has lost. Each job keeps its
   * id (`<event>:<handler>`), so Bull ignores the ones Redis still holds, and the inbox makes a redelivery a no-op.
   * Runs when the worker starts and whenever its Redis connection comes back. Answers how many jobs it added.
   */
  async requeueUndelivered(windowMs = REQUEUE_WINDOW_MS): Promise<number> {
    const subscriptions = this.registry.subscriptions();
    if (!subscriptions.length) return 0;
    const since = new Date(this.clock.now().getTime() - windowMs);
    const rows = await this.orm.em.fork().execute<{ id: string; handler: string }[]>(
      `select m.id, h.handler from outbox_message m
         join jsonb_to_recordset(?::jsonb) as h(type text, handler text) on h.type = m.type
        where m.published_at >= ?
          and not exists (select 1 from outbox_delivery d where d.message_id = m.id and d.handler = h.handler)
        order by m.occurred_at`,
      [JSON.stringify(subscriptions), since],
    );
    for (let i = 0; i < rows.length; i += RELAY_BATCH * 5) {
      await this.queue.addBulk(rows.slice(i, i + RELAY_BATCH * 5).map((r) => ({ data: { messageId: r.id, handler: r.handler }, opts: this.jobOptions(r.id, r.handler) })));
    }
    return rows.length;
  }

  private jobOptions(messageId: string, handler: string) {
    return {
      // Same id for the same (event, handler): Bull ignores a second add while the first job exists.
      jobId: `${messageId}:${handler}`,
      attempts: this.options.maxAttempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  async markPublished(ids: string[]): Promise<void> {
    await this.orm.em
      .fork()
      .execute('update outbox_message set published_at = ?, claimed_until = null where id in (?)', [
        this.clock.now(),
        ids,
      ]);
  }
}
