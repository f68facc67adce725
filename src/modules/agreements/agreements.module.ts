import { type DynamicModule, Module } from '@nestjs/common';
import { composeParts, type ModulePart, type ProcessRoleOptions } from '../../platform/module-part.js';
import { CustomersModule } from '../customers/index.js';
import { IdentityModule } from '../identity/index.js';
import { WalletModule } from '../wallet/index.js';
import { AGREEMENTS_CORE_PART } from './agreements-core.part.js';
import { BILLING_RUNS_PART } from './billing-runs.part.js';
import { DUNNING_PART } from './dunning.part.js';

export type AgreementsModuleOptions = ProcessRoleOptions;

const PARTS: ModulePart[] = [AGREEMENTS_CORE_PART, BILLING_RUNS_PART, DUNNING_PART];

/**
 * The agreements bounded context: service agreements and their lifecycle, the hosted sign-up page, work orders,
 * renewals, billing runs and dunning. Invoicing and Notifications are global (their facades are injected without an
 * import). Other modules use it only through ./index.ts.
 */
@Module({})
export class AgreementsModule {
  static forRoot(options: AgreementsModuleOptions): DynamicModule {
    return composeParts(AgreementsModule, PARTS, options, [CustomersModule, IdentityModule, WalletModule]);
  }
}
