import { type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { isCalendarDate } from '../domain/calendar.js';
import { invoiceAmounts, InvoiceMathError, MAX_TOTAL, MAX_UNIT_PRICE, parseQuantity, parseTaxRate, type LineInput } from '../domain/invoice-math.js';
import { BilledRefType } from '../domain/invoice.entity.js';
import type { MassInvoiceLine } from '../domain/mass-invoice.entity.js';
import { type BilledRef, type InvoiceLineCommand, MAX_DESCRIPTION, MAX_LINES, MAX_MEMO, MAX_TERMS_DAYS } from './invoices.use-case.js';

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
 * Checks the invoice a mass invoice will create for each customer, before anything is written, with the rules
 * Invoices applies to one invoice (same field names: `lines.0.quantity`): a batch whose lines would be refused for
 * every customer must be refused as a whole, not discovered 10,000 times by the job. Stricter in one way: the invoice
 * must total more than zero and, when issued, be due no earlier than today (an issued one must; a draft that could
 * never be issued is no use to anyone). Invoices re-checks each invoice when the job creates it.
 */
export function checkMassInvoiceTerms(terms: MassInvoiceTerms, currency: string, today: string): { problems: FieldProblem[]; lines: MassInvoiceLine[] } {
  const problems: FieldProblem[] = [];
  const lines: MassInvoiceLine[] = [];
  const computed: LineInput[] = [];
  if (!Array.isArray(terms.lines) || terms.lines.length === 0) {
    problems.push({ field: 'lines', message: 'give at least one line' });
  } else if (terms.lines.length > MAX_LINES) {
    problems.push({ field: 'lines', message: `at most ${MAX_LINES} lines` });
  } else {
    terms.lines.forEach((line, i) => {
      const at = `lines.${i}`;
      const description = typeof line.description === 'string' ? line.description.trim().replace(/\s+/g, ' ') : '';
      if (!description) problems.push({ field: `${at}.description`, message: 'is required' });
      else if (description.length > MAX_DESCRIPTION) problems.push({ field: `${at}.description`, message: `must be at most ${MAX_DESCRIPTION} characters` });
      const quantity = mathField(problems, () => parseQuantity(line.quantity, `${at}.quantity`));
      const noTax = line.taxRate === null || line.taxRate === undefined || line.taxRate === '';
      const taxRate = noTax ? null : mathField(problems, () => parseTaxRate(line.taxRate!, `${at}.taxRate`));
      const price = line.unitPrice;
      if (typeof price !== 'bigint' || price > MAX_UNIT_PRICE || price < -MAX_UNIT_PRICE) {
        problems.push({ field: `${at}.unitPrice`, message: `must be a whole number of minor units between -${MAX_UNIT_PRICE} and ${MAX_UNIT_PRICE}` });
        return;
      }
      if (quantity === undefined || taxRate === undefined) return;
      computed.push({ unitPrice: Money.of(price, currency), quantity, taxRate });
      lines.push({ description, quantity: line.quantity.trim(), unitPrice: price.toString(), taxRate: noTax ? null : line.taxRate!.trim() });
    });
    if (problems.length === 0) {
      const total = invoiceAmounts(computed, currency).total;
      if (!total.isPositive()) {
        problems.push({ field: 'lines', message: `the invoice totals ${total.format('en-US')}; it must total more than zero` });
      } else if (total.amount > MAX_TOTAL) {
        problems.push({ field: 'lines', message: `the invoice total may be at most ${MAX_TOTAL} minor units` });
      }
    }
  }

  if (terms.dueDate !== undefined && terms.dueDate !== null) {
    if (!isCalendarDate(terms.dueDate)) problems.push({ field: 'dueDate', message: `must be a date as YYYY-MM-DD, got ${JSON.stringify(terms.dueDate)}` });
    else if (terms.dueDate < today) problems.push({ field: 'dueDate', message: `${terms.dueDate} is before today (${today})` });
  }
  const days = terms.paymentTermsDays;
  if (days !== undefined && days !== null && (!Number.isInteger(days) || days < 0 || days > MAX_TERMS_DAYS)) {
    problems.push({ field: 'paymentTermsDays', message: `must be a whole number of days from 0 to ${MAX_TERMS_DAYS}` });
  }
  if (terms.memo && terms.memo.length > MAX_MEMO) problems.push({ field: 'memo', message: `must be at most ${MAX_MEMO} characters` });
  const ref = terms.billedRef;
  if (ref) {
    if (!Object.values(BilledRefType).includes(ref.type)) problems.push({ field: 'billedRef.type', message: 'is not a known reference type' });
    if (ref.type !== BilledRefType.NONE && !ref.id && !ref.label?.trim()) {
      problems.push({ field: 'billedRef.id', message: `a ${ref.type} reference needs its id or a label` });
    }
    if (ref.id && !isUuid(ref.id)) problems.push({ field: 'billedRef.id', message: 'must be a UUID' });
    if (ref.label && ref.label.length > MAX_DESCRIPTION) problems.push({ field: 'billedRef.label', message: `must be at most ${MAX_DESCRIPTION} characters` });
  }
  return { problems, lines };
}

function mathField<T>(problems: FieldProblem[], parse: () => T): T | undefined {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof InvoiceMathError)) throw e;
    problems.push({ field: e.field, message: e.message.slice(e.field.length + 2) });
    return undefined;
  }
}
