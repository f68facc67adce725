import type { InvoicingPart } from './invoicing.part.js';

/** Installment plans: schedules on a saved method, upcoming payments, the daily charge job. */
export const INSTALLMENTS_PART: InvoicingPart = {};
