import type { ModulePart } from '../../platform/module-part.js';
import { ReverseFailedPayment } from './application/settlement-returned-debit.handler.js';
import { WebhookInbox } from './application/webhook-inbox.js';
import { WebhookReceiver } from './application/webhook-receiver.js';
import { ProcessingPaymentsResolver } from './graphql/processing.resolver.js';
import {
  SANDBOX_WEBHOOKS_QUEUE,
  SandboxWebhooks,
  SandboxWebhooksProcessor,
  SandboxWebhooksSchedule,
} from './infrastructure/sandbox-webhooks.js';
import { WebhooksController } from './web/webhooks.controller.js';

/**
 * Settlement: bank debits that settle days later, gateway webhooks (signed, once per event, forward-only), the
 * sandbox's simulated webhooks (a repeatable job that only schedules itself when the sandbox is the gateway), and the
 * processing-payments report.
 */
export const SETTLEMENT_PART: ModulePart = {
  providers: [WebhookInbox, WebhookReceiver, SandboxWebhooks, ReverseFailedPayment],
  api: [ProcessingPaymentsResolver],
  controllers: [WebhooksController],
  worker: [SandboxWebhooksProcessor],
  schedule: [SandboxWebhooksSchedule],
  queues: [SANDBOX_WEBHOOKS_QUEUE],
};
