// Public contract of the invoicing module: the only file other modules may import.
export { InvoicingModule, type InvoicingModuleOptions } from './invoicing.module.js';
export { Invoicing, type InvoiceSummary } from './application/invoicing.facade.js';
export type { CustomerBalance } from './application/customer-balances.js';
export type { DraftInvoiceCommand, InvoiceLineCommand, BilledRef } from './application/invoices.use-case.js';
export { InvoiceStatus, BilledRefType } from './domain/invoice.entity.js';
export { InvoiceView } from './graphql/invoice.types.js';
export { InvoicingError, InvoicingErrorReason } from './invoicing.error.js';
export { InvoicingEvents } from './invoicing.events.js';
export {
  Reconciliation,
  type ReceivedPaymentSummary,
  type RecordPaymentCommand,
  type AllocationCommand,
} from './application/reconciliation.facade.js';
export { PaymentSource, ReceivedPaymentStatus } from './domain/received-payment.entity.js';
export { InstallmentCharger } from './infrastructure/installment-charger.js';
