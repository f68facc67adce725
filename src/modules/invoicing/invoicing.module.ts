import { type DynamicModule, Module } from '@nestjs/common';
import { composeParts, type ModulePart, type ProcessRoleOptions } from '../../platform/module-part.js';
import { CustomersModule } from '../customers/index.js';
import { IdentityModule } from '../identity/index.js';
import { WalletModule } from '../wallet/index.js';
import { INVOICES_PART } from './invoices.part.js';
import { INSTALLMENTS_PART } from './installments.part.js';
import { MASS_INVOICING_PART } from './mass-invoicing.part.js';
import { RECEIPTS_PART } from './receipts.part.js';
import { RECONCILIATION_PART } from './reconciliation.part.js';

export type InvoicingModuleOptions = ProcessRoleOptions;

const PARTS: ModulePart[] = [INVOICES_PART, RECONCILIATION_PART, INSTALLMENTS_PART, RECEIPTS_PART, MASS_INVOICING_PART];

/**
 * The invoicing bounded context: invoices, credits, reconciliation, installment plans, receipts, mass invoicing.
 * Notifications is global (its facade is injected without an import).
 */
@Module({})
export class InvoicingModule {
  static forRoot(options: InvoicingModuleOptions): DynamicModule {
    // Global, like Notifications: Payments and Agreements inject its facades (Invoicing, Reconciliation) without
    // importing the dynamic module a second time.
    return composeParts(InvoicingModule, PARTS, options, [CustomersModule, IdentityModule, WalletModule], true);
  }
}
