import { MassInvoiceRunner } from './application/mass-invoice-runner.js';
import { MassInvoices } from './application/mass-invoices.use-case.js';
import { MassInvoiceItemsResolver, MassInvoicesResolver } from './graphql/mass-invoices.resolver.js';
import { MassInvoiceProgressPubSub } from './infrastructure/mass-invoice-progress.pubsub.js';
import { MASS_INVOICE_QUEUE, MassInvoiceProcessor, MassInvoiceQueue } from './infrastructure/mass-invoice.processor.js';
import type { ModulePart } from '../../platform/module-part.js';

/** Mass invoicing: one invoice per selected customer, as a queued, idempotent batch. */
export const MASS_INVOICING_PART: ModulePart = {
  providers: [MassInvoiceProgressPubSub, MassInvoiceRunner, MassInvoices, MassInvoiceQueue],
  api: [MassInvoicesResolver, MassInvoiceItemsResolver],
  worker: [MassInvoiceProcessor],
  queues: [MASS_INVOICE_QUEUE],
};
