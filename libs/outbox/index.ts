export { Outbox } from './outbox.js';
export { OutboxModule, type OutboxModuleOptions } from './outbox.module.js';
export { OutboxRelay } from './outbox-relay.js';
export { OutboxDeliveryService, type DeliveryOutcome } from './outbox-delivery.service.js';
export { EventHandlerRegistry } from './event-handler.registry.js';
export { EventHandler, type EventConsumer, type EventHandlerOptions } from './event-handler.js';
export { OutboxMessage } from './outbox-message.entity.js';
export { OutboxDelivery, DeliveryStatus } from './outbox-delivery.entity.js';
export { OUTBOX_QUEUE, OUTBOX_RELAY_QUEUE, type DeliveryJob } from './outbox.constants.js';
