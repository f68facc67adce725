import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { Clock, ApplicationError, ErrorCode, type DeliveredEvent } from '../ddd/index.js';
import { scopeToTenant } from '../tenancy/index.js';
import { EventHandlerRegistry } from './event-handler.registry.js';
import { OutboxMessage } from './outbox-message.entity.js';
import { DeliveryStatus, OutboxDelivery } from './outbox-delivery.entity.js';
import { type DeliveryJob, OUTBOX_OPTIONS, OUTBOX_QUEUE, type OutboxOptions } from './outbox.constants.js';

export type DeliveryOutcome = 'handled' | 'duplicate' | 'message-missing';

/** Hands one event to one handler, exactly once in effect, and keeps the dead letters. */
@Injectable()
export class OutboxDeliveryService {
  private readonly logger = new Logger(OutboxDeliveryService.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly registry: EventHandlerRegistry,
    @InjectQueue(OUTBOX_QUEUE) private readonly queue: Queue<DeliveryJob>,
    @Inject(OUTBOX_OPTIONS) private readonly options: OutboxOptions,
  ) {}

  /**
   * Runs the handler in a transaction that also writes the inbox row. A second delivery of the same event to the
   * same handler finds the row PROCESSED and does nothing. When the last attempt fails the delivery is dead-lettered.
   */
  async deliver(job: DeliveryJob, attempt: number, maxAttempts: number): Promise<DeliveryOutcome> {
    const em = this.orm.em.fork();
    // A plain row, not an entity: nothing here changes it, and a delivery is the outbox's hottest path (bench:deliveries).
    const [row] = await em.execute<MessageRow[]>(
      'select id, organization_id, type, payload, occurred_at from outbox_message where id = ?',
      [job.messageId],
    );
    const message = row && {
      id: row.id,
      organizationId: row.organization_id,
      type: row.type,
      payload: row.payload,
      occurredAt: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
    };
    if (!message) {
      this.logger.error(`Outbox message ${job.messageId} does not exist; dropping its delivery to ${job.handler}`);
      return 'message-missing';
    }
    try {
      const handler = this.registry.get(job.handler);
      if (!handler) throw new Error(`No event handler named ${job.handler} is registered in this process`);
      return await em.transactional(async (tx) => {
        if (message.organizationId) scopeToTenant(tx, message.organizationId);
        // The upsert takes the row lock, so a concurrent duplicate waits here and then sees PROCESSED.
        const claimed = await tx.execute<{ id: string }[]>(
          `insert into outbox_delivery (id, message_id, handler, event_type, organization_id, status, attempts, last_error, updated_at)
           values (gen_random_uuid(), ?, ?, ?, ?, 'PROCESSED', ?, null, ?)
           on conflict (message_id, handler) do update
             set status = 'PROCESSED', attempts = excluded.attempts, last_error = null, updated_at = excluded.updated_at
             where outbox_delivery.status <> 'PROCESSED'
           returning id`,
          [message.id, job.handler, message.type, message.organizationId, attempt, this.clock.now()],
        );
        if (claimed.length === 0) return 'duplicate';
        await handler.handle(toDelivered(message), tx);
        return 'handled';
      });
    } catch (error) {
      if (attempt >= maxAttempts) await this.deadLetter(message, job.handler, attempt, error);
      throw error;
    }
  }

  private async deadLetter(message: Pick<OutboxMessage, 'id' | 'type' | 'organizationId'>, handler: string, attempts: number, error: unknown): Promise<void> {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.logger.error(`Event ${message.type} ${message.id} dead-lettered for ${handler} after ${attempts} attempts: ${text}`);
    await this.orm.em.fork().execute(
      `insert into outbox_delivery (id, message_id, handler, event_type, organization_id, status, attempts, last_error, updated_at)
       values (gen_random_uuid(), ?, ?, ?, ?, 'DEAD', ?, ?, ?)
       on conflict (message_id, handler) do update
         set status = 'DEAD', attempts = excluded.attempts, last_error = excluded.last_error, updated_at = excluded.updated_at
         where outbox_delivery.status <> 'PROCESSED'`,
      [message.id, handler, message.type, message.organizationId, attempts, text.slice(0, 2000), this.clock.now()],
    );
  }

  /**
   * Sends a dead letter back to its handler with a fresh set of attempts. `em` is the caller's (tenant-scoped)
   * EntityManager, so another organization's dead letter is NOT_FOUND.
   */
  async replay(em: EntityManager, deliveryId: string): Promise<OutboxDelivery> {
    const delivery = await em.findOne(OutboxDelivery, { id: deliveryId });
    if (!delivery) throw ApplicationError.notFound('Dead letter', deliveryId);
    if (delivery.status !== DeliveryStatus.DEAD) {
      throw new ApplicationError(ErrorCode.CONFLICT, `Dead letter ${deliveryId} was already processed`, 'ALREADY_PROCESSED');
    }
    await this.queue.add(
      { messageId: delivery.messageId, handler: delivery.handler },
      {
        jobId: `${delivery.messageId}:${delivery.handler}:replay:${this.clock.now().getTime()}`,
        attempts: this.options.maxAttempts,
        backoff: { type: 'exponential', delay: this.options.backoffMs },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
    return delivery;
  }
}

interface MessageRow {
  id: string;
  organization_id: string | null;
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date | string;
}

function toDelivered(m: Pick<OutboxMessage, 'id' | 'type' | 'organizationId' | 'payload' | 'occurredAt'>): DeliveredEvent {
  return { id: m.id, type: m.type, organizationId: m.organizationId, payload: m.payload, occurredAt: m.occurredAt };
}
