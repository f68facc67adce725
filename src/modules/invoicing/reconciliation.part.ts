import type { InvoicingPart } from './invoicing.part.js';

/** Reconciliation: payments received, their allocation to invoices, credits and credit notes, the unreconciled list. */
export const RECONCILIATION_PART: InvoicingPart = {};
