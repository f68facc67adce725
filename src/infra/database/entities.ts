import { OutboxDelivery, OutboxMessage } from '#libs/outbox/index.js';
// The composition root lists each module's entities for the ORM and the migrator (without loading the modules).
import { AGREEMENTS_ENTITIES } from '../../modules/agreements/entities.js';
import { CUSTOMERS_ENTITIES } from '../../modules/customers/entities.js';
import { IDENTITY_ENTITIES } from '../../modules/identity/entities.js';
import { INTEGRATIONS_ENTITIES } from '../../modules/integrations/entities.js';
import { INVOICING_ENTITIES } from '../../modules/invoicing/entities.js';
import { NOTIFICATIONS_ENTITIES } from '../../modules/notifications/entities.js';
import { PAYMENTS_ENTITIES } from '../../modules/payments/entities.js';
import { WALLET_ENTITIES } from '../../modules/wallet/entities.js';
import { SandboxGatewayObject } from '../payment-gateway/sandbox/sandbox-gateway-object.entity.js';

/** Every entity of the application, registered once. */
export const ALL_ENTITIES = [OutboxMessage, OutboxDelivery, ...IDENTITY_ENTITIES, ...CUSTOMERS_ENTITIES, ...NOTIFICATIONS_ENTITIES, ...WALLET_ENTITIES, ...INVOICING_ENTITIES, ...PAYMENTS_ENTITIES, ...AGREEMENTS_ENTITIES, ...INTEGRATIONS_ENTITIES, SandboxGatewayObject];
