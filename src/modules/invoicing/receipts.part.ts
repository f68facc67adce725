import type { InvoicingPart } from './invoicing.part.js';

/** Receipts: numbered, emailed, downloadable as PDF. */
export const RECEIPTS_PART: InvoicingPart = {};
