// Public contract of the integrations module: the only file other modules may import.
export { IntegrationsModule, type IntegrationsModuleOptions } from './integrations.module.js';
export { PUBLIC_EVENT_TYPES, publicEventName, type PublicEventType } from './webhooks/domain/event-catalog.js';
