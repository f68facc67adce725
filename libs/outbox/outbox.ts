import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type DomainEvent, executeBound, newOrderedId } from '../ddd/index.js';
import { OutboxMessage } from './outbox-message.entity.js';

/** JSON with bigints as strings; the replacer (slow on large arrays) only when a bigint is really there. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

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

  /**
   * Many events in one multi-row INSERT, in the caller's transaction (bulk paths that write with SQL and never
   * flush). Same rows as `record`.
   */
  async recordMany(em: EntityManager, events: readonly DomainEvent<object>[]): Promise<void> {
    if (!events.length) return;
    const rows = events.map((e) => ({ id: newOrderedId(), organization_id: e.organizationId, type: e.type, payload: e.payload }));
    await executeBound(
      em,
      `insert into outbox_message (id, organization_id, type, payload, occurred_at, relay_attempts)
       select r.id, r.organization_id, r.type, r.payload, ?, 0 from jsonb_to_recordset(?::jsonb) as r(id uuid, organization_id uuid, type text, payload jsonb)`,
      [this.clock.now(), json(rows)],
    );
  }
}
