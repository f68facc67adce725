import { OutboxDelivery, OutboxMessage } from '#libs/outbox/index.js';
import { IDENTITY_ENTITIES } from '../../modules/identity/index.js';

/** Every entity of the application: the composition root registers them once, for the ORM and the migrator. */
export const ALL_ENTITIES = [OutboxMessage, OutboxDelivery, ...IDENTITY_ENTITIES];
