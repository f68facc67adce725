import type { Provider, Type } from '@nestjs/common';

/**
 * One area of the invoicing module (invoices, reconciliation, installments, receipts, mass invoicing), listed by
 * InvoicingModule. Providers by process role: `providers` everywhere, `api` where GraphQL and the hosted routes are
 * served, `worker` where queues are processed, `schedule` where repeatable jobs are scheduled.
 */
export interface InvoicingPart {
  providers?: Provider[];
  api?: Provider[];
  controllers?: Type[];
  worker?: Provider[];
  schedule?: Provider[];
  /** Bull queues the part registers (in every role: the api role adds jobs, the worker processes them). */
  queues?: string[];
  /** Providers other modules may inject (through index.ts). */
  exports?: Provider[];
}
