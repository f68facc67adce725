import { type DynamicModule, Module } from '@nestjs/common';
import { composeParts, type ModulePart, type ProcessRoleOptions } from '../../platform/module-part.js';
import { CustomersModule } from '../customers/index.js';
import { IdentityModule } from '../identity/index.js';
import { WalletModule } from '../wallet/index.js';
import { ACTION_CENTER_PART } from './action-center.part.js';
import { INSTALLMENTS_PART } from './installments.part.js';
import { MASS_CHARGE_PART } from './mass-charge.part.js';
import { PAYMENTS_CORE_PART } from './payments-core.part.js';
import { PAYMENT_REQUESTS_PART } from './payment-requests.part.js';
import { REFUNDS_PART } from './refunds.part.js';
import { SETTLEMENT_PART } from './settlement.part.js';

export type PaymentsModuleOptions = ProcessRoleOptions;

const PARTS: ModulePart[] = [PAYMENTS_CORE_PART, SETTLEMENT_PART, REFUNDS_PART, MASS_CHARGE_PART, ACTION_CENTER_PART, INSTALLMENTS_PART, PAYMENT_REQUESTS_PART];

/**
 * The payments bounded context: charges with exactly-once guarantees, bank-debit settlement and gateway webhooks,
 * refunds, mass charges and the Payment Action Center. Invoicing and Notifications are global (their facades are
 * injected without an import).
 */
@Module({})
export class PaymentsModule {
  static forRoot(options: PaymentsModuleOptions): DynamicModule {
    return composeParts(PaymentsModule, PARTS, options, [CustomersModule, IdentityModule, WalletModule], true);
  }
}
