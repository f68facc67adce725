import { SetMetadata } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '../ddd/index.js';

export const EVENT_HANDLER_METADATA = 'settle:event-handler';

export interface EventHandlerOptions {
  /** Stable name of the handler; the inbox is keyed by it, so renaming a class must not change it. */
  name: string;
}

export interface EventHandlerMetadata extends EventHandlerOptions {
  eventTypes: string[];
}

/**
 * A consumer of integration events. `handle` runs inside a transaction whose EntityManager is scoped to the
 * event's organization; the inbox row is written in that same transaction, so the effect happens once.
 */
export interface EventConsumer {
  handle(event: DeliveredEvent, em: EntityManager): Promise<void>;
}

export function EventHandler(eventTypes: string | string[], options: EventHandlerOptions): ClassDecorator {
  const meta: EventHandlerMetadata = { ...options, eventTypes: [eventTypes].flat() };
  return SetMetadata(EVENT_HANDLER_METADATA, meta);
}
