import { BulkInvoices } from './application/bulk-invoices.js';
import { CustomerBalances } from './application/customer-balances.js';
import { Invoices } from './application/invoices.use-case.js';
import { Invoicing } from './application/invoicing.facade.js';
import { OrganizationContext } from './application/organization-context.js';
import { CustomerBalanceResolver, InvoicesResolver } from './graphql/invoices.resolver.js';
import type { ModulePart } from '../../platform/module-part.js';

/** Invoices: drafts, issuing with gap-free numbers, voiding, customer balances, the accounting export. */
export const INVOICES_PART: ModulePart = {
  providers: [OrganizationContext, CustomerBalances, Invoices, BulkInvoices, Invoicing],
  api: [InvoicesResolver, CustomerBalanceResolver],
  exports: [Invoicing],
};
