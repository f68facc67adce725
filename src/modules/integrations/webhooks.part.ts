import type { ModulePart } from '../../platform/module-part.js';
import { WebhookDispatcher } from './webhooks/application/webhook-dispatcher.js';
import { WebhookEndpoints } from './webhooks/application/webhook-endpoints.use-case.js';
import { WebhookFanOut } from './webhooks/application/webhook-fan-out.handler.js';
import { WebhookDeliveriesResolver, WebhookEndpointsResolver } from './webhooks/graphql/webhooks.resolver.js';
import { WebhookSecrets } from './webhooks/infrastructure/webhook-secrets.js';
import { WebhookSender } from './webhooks/infrastructure/webhook-sender.js';
import { WebhooksProcessor, WebhooksSweepSchedule } from './webhooks/infrastructure/webhooks.processor.js';
import { OUTBOUND_WEBHOOKS_QUEUE } from './webhooks/infrastructure/webhooks.queue.js';

/**
 * Outbound webhooks: endpoints an organization registers, one outbox consumer fanning events out to them, signed
 * deliveries with retries over 3 days (queue `outbound-webhooks`: `send` jobs and the repeatable `sweep`).
 */
export const WEBHOOKS_PART: ModulePart = {
  providers: [WebhookSecrets, WebhookSender, WebhookDispatcher, WebhookEndpoints, WebhookFanOut],
  api: [WebhookEndpointsResolver, WebhookDeliveriesResolver],
  worker: [WebhooksProcessor],
  schedule: [WebhooksSweepSchedule],
  queues: [OUTBOUND_WEBHOOKS_QUEUE],
};
