import type { ModulePart } from '../../platform/module-part.js';
import { NoneAccountingSync } from './accounting/application/accounting-sync.port.js';
import { AccountingSyncConsumer } from './accounting/application/accounting-sync.consumer.js';
import { AccountingSyncRunner } from './accounting/application/accounting-sync.runner.js';
import { AccountingSyncs } from './accounting/application/accounting-syncs.js';
import { ACCOUNTING_SYNC_QUEUE, QuickBooksConnections } from './accounting/application/quickbooks-connection.js';
import { QuickBooksSync } from './accounting/application/quickbooks-sync.js';
import { AccountingResolver } from './accounting/graphql/accounting.resolver.js';
import { AccountingSyncProcessor, AccountingSyncSchedule } from './accounting/infrastructure/accounting-sync.processor.js';
import { QuickBooksHttp } from './accounting/infrastructure/quickbooks-http.js';
import { QuickBooksSettings } from './accounting/infrastructure/quickbooks.settings.js';
import { TokenVault } from './accounting/infrastructure/token-vault.js';
import { QuickBooksCallbackController } from './accounting/web/quickbooks-callback.controller.js';

/**
 * The accounting sync (QuickBooks Online): the consumer queues events (every role: the outbox delivers to it on the
 * worker), the runner pushes them (worker), the sweep is scheduled (schedule), GraphQL and the OAuth callback (api).
 */
export const ACCOUNTING_PART: ModulePart = {
  providers: [
    QuickBooksSettings,
    TokenVault,
    QuickBooksHttp,
    NoneAccountingSync,
    QuickBooksSync,
    AccountingSyncs,
    AccountingSyncRunner,
    QuickBooksConnections,
    AccountingSyncConsumer,
  ],
  api: [AccountingResolver],
  controllers: [QuickBooksCallbackController],
  worker: [AccountingSyncProcessor],
  schedule: [AccountingSyncSchedule],
  queues: [ACCOUNTING_SYNC_QUEUE],
};
