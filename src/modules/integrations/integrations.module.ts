import { type DynamicModule, Module } from '@nestjs/common';
import { composeParts, type ModulePart, type ProcessRoleOptions } from '../../platform/module-part.js';
import { CustomersModule } from '../customers/index.js';
import { ACCOUNTING_PART } from './accounting.part.js';
import { WEBHOOKS_PART } from './webhooks.part.js';

export type IntegrationsModuleOptions = ProcessRoleOptions;

const PARTS: ModulePart[] = [WEBHOOKS_PART, ACCOUNTING_PART];

/**
 * Integrations: what Settle tells the systems around it. Signed outbound webhooks (webhooks/) and the accounting
 * sync (accounting/). Both consume the other modules' integration events from the outbox.
 */
@Module({})
export class IntegrationsModule {
  static forRoot(options: IntegrationsModuleOptions): DynamicModule {
    return composeParts(IntegrationsModule, PARTS, options, [CustomersModule]);
  }
}
