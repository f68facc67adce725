import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type DomainEvent } from '../ddd/index.js';
import { OutboxMessage } from './outbox-message.entity.js';

/**
 * Records integration events. Call it with the EntityManager of the unit of work that makes the change: the event
 * row is flushed in the same transaction, so it exists if and only if the change does.
 */
@Injectable()
export class Outbox {
  constructor(private readonly clock: Clock) {}

  record(em: EntityManager, event: DomainEvent<object>): OutboxMessage {
    const message = new OutboxMessage();
    message.type = event.type;
    message.organizationId = event.organizationId;
    message.payload = event.payload as Record<string, unknown>;
    message.occurredAt = this.clock.now();
    em.persist(message);
    return message;
  }
}
