import { ACCOUNTING_ENTITIES } from './accounting/domain/accounting.entities.js';
import { WEBHOOK_ENTITIES } from './webhooks/domain/webhook.entities.js';

export const INTEGRATIONS_ENTITIES = [...WEBHOOK_ENTITIES, ...ACCOUNTING_ENTITIES];
