// Public contract of the invoicing module: the only file other modules may import.
export { InvoicingModule, type InvoicingModuleOptions } from './invoicing.module.js';
export {
  Invoicing,
  type InvoiceSummary,
  type CreateInvoiceInstallmentPlanCommand,
  type InstallmentPlanSummary,
  type InstallmentPreview,
} from './application/invoicing.facade.js';
export type { InstallmentChargeNowOutcome } from './application/installment-charges.js';
export type { InstallmentInterval } from './domain/installment-schedule.js';
export type { CustomerBalance } from './application/customer-balances.js';
export type { DraftInvoiceCommand, InvoiceLineCommand, BilledRef } from './application/invoices.use-case.js';
export type { BulkInvoiceCommand, BulkIssueOptions } from './application/bulk-invoices.js';
export type { BulkRecordOptions, BulkRecorded } from './application/bulk-reconciliation.js';
export { InvoiceStatus, BilledRefType } from './domain/invoice.entity.js';
export { InvoiceView } from './graphql/invoice.types.js';
export { InvoicingError, InvoicingErrorReason } from './invoicing.error.js';
export { InvoicingEvents } from './invoicing.events.js';
export {
  Reconciliation,
  type ReceivedPaymentSummary,
  type RecordPaymentCommand,
  type AllocationCommand,
  type RefundPaymentCommand,
} from './application/reconciliation.facade.js';
export { PaymentSource, ReceivedPaymentStatus } from './domain/received-payment.entity.js';
// The installment job's charging port: Payments provides the implementation (Invoicing must not import Payments).
export {
  InstallmentCharger,
  installmentAttemptKey,
  type InstallmentChargeRequest,
  type InstallmentChargeResult,
} from './infrastructure/installment-charger.js';
// The line rules and arithmetic, for modules that price lines before they become invoices (agreements' quotes).
export { checkLines as checkInvoiceLines, MAX_DESCRIPTION, MAX_LINES } from './application/invoice-terms.js';
export { formatThousandths, invoiceAmounts, parseQuantity, parseTaxRate } from './domain/invoice-math.js';
