import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { EVENT_HANDLER_METADATA, type EventConsumer, type EventHandlerMetadata } from './event-handler.js';

interface Registered {
  name: string;
  eventTypes: string[];
  instance: EventConsumer;
}

/** Finds every provider decorated with @EventHandler, at start, and answers who consumes an event type. */
@Injectable()
export class EventHandlerRegistry implements OnModuleInit {
  private readonly logger = new Logger(EventHandlerRegistry.name);
  private readonly byName = new Map<string, Registered>();
  private readonly byType = new Map<string, string[]>();

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype as object | undefined;
      if (!type || !wrapper.instance) continue;
      const meta = Reflect.getMetadata(EVENT_HANDLER_METADATA, type) as EventHandlerMetadata | undefined;
      if (meta) this.register(meta, wrapper.instance as EventConsumer);
    }
  }

  register(meta: EventHandlerMetadata, instance: EventConsumer): void {
    if (this.byName.has(meta.name)) throw new Error(`Two event handlers are named ${meta.name}`);
    this.byName.set(meta.name, { ...meta, instance });
    for (const t of meta.eventTypes) this.byType.set(t, [...(this.byType.get(t) ?? []), meta.name]);
    this.logger.debug(`${meta.name} handles ${meta.eventTypes.join(', ')}`);
  }

  handlersFor(eventType: string): string[] {
    return this.byType.get(eventType) ?? [];
  }

  /** Every (event type, handler) pair registered in this process. */
  subscriptions(): { type: string; handler: string }[] {
    return [...this.byType].flatMap(([type, handlers]) => handlers.map((handler) => ({ type, handler })));
  }

  get(name: string): EventConsumer | undefined {
    return this.byName.get(name)?.instance;
  }
}
