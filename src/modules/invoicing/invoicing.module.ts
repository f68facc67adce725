import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { BullModule } from '@nestjs/bull';
import { CustomersModule } from '../customers/index.js';
import { IdentityModule } from '../identity/index.js';
import { WalletModule } from '../wallet/index.js';
import { INVOICES_PART } from './invoices.part.js';
import { INSTALLMENTS_PART } from './installments.part.js';
import type { InvoicingPart } from './invoicing.part.js';
import { MASS_INVOICING_PART } from './mass-invoicing.part.js';
import { RECEIPTS_PART } from './receipts.part.js';
import { RECONCILIATION_PART } from './reconciliation.part.js';

export interface InvoicingModuleOptions {
  /** Serve GraphQL and the hosted routes (process role api or all). */
  api: boolean;
  /** Run the queue processors (process role worker or all). */
  worker: boolean;
  /** Schedule the repeatable jobs (tests run them themselves). */
  schedule: boolean;
}

const PARTS: InvoicingPart[] = [INVOICES_PART, RECONCILIATION_PART, INSTALLMENTS_PART, RECEIPTS_PART, MASS_INVOICING_PART];

/**
 * The invoicing bounded context: invoices, credits, reconciliation, installment plans, receipts, mass invoicing.
 * Notifications is global (its facade is injected without an import).
 */
@Module({})
export class InvoicingModule {
  static forRoot(options: InvoicingModuleOptions): DynamicModule {
    const pick = (key: 'providers' | 'api' | 'worker' | 'schedule' | 'exports'): Provider[] => PARTS.flatMap((p) => p[key] ?? []);
    const queues = PARTS.flatMap((p) => p.queues ?? []);
    return {
      module: InvoicingModule,
      imports: [
        CustomersModule,
        IdentityModule,
        WalletModule,
        ...queues.map((name) => BullModule.registerQueue({ name })),
      ],
      controllers: options.api ? PARTS.flatMap((p) => p.controllers ?? []) : [],
      providers: [
        ...pick('providers'),
        ...(options.api ? pick('api') : []),
        ...(options.worker ? pick('worker') : []),
        ...(options.worker && options.schedule ? pick('schedule') : []),
      ],
      exports: pick('exports'),
    };
  }
}
