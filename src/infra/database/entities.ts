import { OutboxDelivery, OutboxMessage } from '#libs/outbox/index.js';
// The composition root lists each module's entities for the ORM and the migrator (without loading the modules).
import { IDENTITY_ENTITIES } from '../../modules/identity/entities.js';
import { NOTIFICATIONS_ENTITIES } from '../../modules/notifications/entities.js';

/** Every entity of the application, registered once. */
export const ALL_ENTITIES = [OutboxMessage, OutboxDelivery, ...IDENTITY_ENTITIES, ...NOTIFICATIONS_ENTITIES];
