import { AccountingExport } from './application/accounting-export.js';
import { BulkReconciliation } from './application/bulk-reconciliation.js';
import { Credits } from './application/credits.use-case.js';
import { ReceivablesLedger } from './application/reconciliation-ledger.js';
import { Reconciliation } from './application/reconciliation.facade.js';
import { PaymentReconciliation } from './application/reconciliation.use-case.js';
import { CreditsResolver } from './graphql/credits.resolver.js';
import { ReconciliationInvoiceResolver } from './graphql/reconciliation-invoice.resolver.js';
import { ReconciliationResolver } from './graphql/reconciliation.resolver.js';
import type { ModulePart } from '../../platform/module-part.js';
import { AccountingExportController } from './web/accounting-export.controller.js';

/**
 * Reconciliation: payments received, their allocation to invoices, credits and credit notes, the unreconciled list,
 * and the accounting export (CSV over HTTP).
 */
export const RECONCILIATION_PART: ModulePart = {
  providers: [ReceivablesLedger, Credits, PaymentReconciliation, BulkReconciliation, Reconciliation, AccountingExport],
  api: [ReconciliationResolver, CreditsResolver, ReconciliationInvoiceResolver],
  controllers: [AccountingExportController],
  exports: [Reconciliation],
};
