import type { FieldProblem } from '#libs/ddd/index.js';
import { isCalendarDate } from '../domain/calendar.js';
import { invoiceAmounts } from '../domain/invoice-math.js';
import type { MassInvoiceLine } from '../domain/mass-invoice.entity.js';
import { checkLines, checkTerms, type BilledRef, type InvoiceLineCommand } from './invoice-terms.js';

/** What every invoice of a mass invoice bills, and how. */
export interface MassInvoiceTerms {
  lines: InvoiceLineCommand[];
  dueDate?: string | null;
  paymentTermsDays?: number | null;
  billedRef?: BilledRef | null;
  memo?: string | null;
  issue: boolean;
}

/**
 * Checks the invoice a mass invoice will create for each customer, before anything is written, with the same checks
 * Invoices applies to one invoice (invoice-terms.ts; same field names: `lines.0.quantity`): a batch whose lines would be refused for
 * every customer must be refused as a whole, not discovered 10,000 times by the job. Stricter in one way: the invoice
 * must total more than zero and, when issued, be due no earlier than today (an issued one must; a draft that could
 * never be issued is no use to anyone). Invoices re-checks each invoice when the job creates it.
 */
export function checkMassInvoiceTerms(terms: MassInvoiceTerms, currency: string, today: string): { problems: FieldProblem[]; lines: MassInvoiceLine[] } {
  const problems: FieldProblem[] = [];
  const given = Array.isArray(terms.lines) ? terms.lines : [];
  if (given.length === 0) problems.push({ field: 'lines', message: 'give at least one line' });
  const checked = given.length ? checkLines(given, currency, problems) : [];
  checkTerms(terms, problems);
  if (problems.length === 0 && checked.length) {
    const total = invoiceAmounts(checked, currency).total;
    if (!total.isPositive()) problems.push({ field: 'lines', message: `the invoice totals ${total.format('en-US')}; it must total more than zero` });
  }
  if (terms.dueDate && isCalendarDate(terms.dueDate) && terms.dueDate < today) {
    problems.push({ field: 'dueDate', message: `${terms.dueDate} is before today (${today})` });
  }
  const lines = problems.length
    ? []
    : given.map((line, i) => ({
        description: checked[i]!.description,
        quantity: line.quantity.trim(),
        unitPrice: line.unitPrice.toString(),
        taxRate: checked[i]!.taxRate === null ? null : line.taxRate!.trim(),
      }));
  return { problems, lines };
}
