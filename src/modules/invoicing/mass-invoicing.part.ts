import type { InvoicingPart } from './invoicing.part.js';

/** Mass invoicing: one invoice per selected customer, as a queued, idempotent batch. */
export const MASS_INVOICING_PART: InvoicingPart = {};
