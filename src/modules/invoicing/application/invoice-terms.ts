import type { FieldProblem } from '#libs/ddd/index.js';
import { isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { isCalendarDate } from '../domain/calendar.js';
import { invoiceAmounts, InvoiceMathError, MAX_TOTAL, MAX_UNIT_PRICE, parseQuantity, parseTaxRate, type LineInput } from '../domain/invoice-math.js';
import { BilledRefType } from '../domain/invoice.entity.js';

/*
 * The checks of what an invoice bills, shared by one invoice (Invoices) and a mass invoice (checked once for the
 * whole batch before anything is written). Every problem is collected with its field path (`lines.0.quantity`).
 */

export const MAX_LINES = 200;
export const MAX_DESCRIPTION = 500;
export const MAX_MEMO = 2000;
export const MAX_TERMS_DAYS = 365;

export interface InvoiceLineCommand {
  description: string;
  /** A decimal with at most 3 places, e.g. "1.5". */
  quantity: string;
  /** Minor units of the organization's currency; negative for a discount line. */
  unitPrice: bigint;
  /** A percentage with at most 3 places, e.g. "14.975"; null or absent: no tax. */
  taxRate?: string | null;
}

export interface BilledRef {
  type: BilledRefType;
  id?: string | null;
  label?: string | null;
}

/** The terms of an invoice besides its lines (only the fields given are checked). */
export interface InvoiceTerms {
  dueDate?: string | null;
  paymentTermsDays?: number | null;
  billedRef?: BilledRef | null;
  memo?: string | null;
}

export interface CheckedLine extends LineInput {
  description: string;
}

export function checkLines(lines: InvoiceLineCommand[], currency: string, problems: FieldProblem[]): CheckedLine[] {
  if (!Array.isArray(lines)) {
    problems.push({ field: 'lines', message: 'must be a list of lines' });
    return [];
  }
  if (lines.length > MAX_LINES) problems.push({ field: 'lines', message: `at most ${MAX_LINES} lines` });
  const checked: CheckedLine[] = [];
  lines.forEach((line, i) => {
    const at = `lines.${i}`;
    const description = typeof line.description === 'string' ? line.description.trim().replace(/\s+/g, ' ') : '';
    if (!description) problems.push({ field: `${at}.description`, message: 'is required' });
    else if (description.length > MAX_DESCRIPTION) problems.push({ field: `${at}.description`, message: `must be at most ${MAX_DESCRIPTION} characters` });
    let quantity = 0n;
    let taxRate: number | null = null;
    try {
      quantity = parseQuantity(line.quantity, `${at}.quantity`);
    } catch (e) {
      if (!(e instanceof InvoiceMathError)) throw e;
      problems.push({ field: e.field, message: e.message.slice(e.field.length + 2) });
    }
    try {
      taxRate = line.taxRate === null || line.taxRate === undefined || line.taxRate === '' ? null : parseTaxRate(line.taxRate, `${at}.taxRate`);
    } catch (e) {
      if (!(e instanceof InvoiceMathError)) throw e;
      problems.push({ field: e.field, message: e.message.slice(e.field.length + 2) });
    }
    const price = line.unitPrice;
    if (typeof price !== 'bigint' || price > MAX_UNIT_PRICE || price < -MAX_UNIT_PRICE) {
      problems.push({ field: `${at}.unitPrice`, message: `must be a whole number of minor units between -${MAX_UNIT_PRICE} and ${MAX_UNIT_PRICE}` });
      return;
    }
    checked.push({ description, quantity, taxRate, unitPrice: Money.of(price, currency) });
  });
  if (problems.length === 0 && checked.length) {
    const total = invoiceAmounts(checked, currency).total.amount;
    if (total > MAX_TOTAL || total < -MAX_TOTAL) problems.push({ field: 'lines', message: `the invoice total may be at most ${MAX_TOTAL} minor units` });
  }
  return checked;
}

export function checkTerms(cmd: InvoiceTerms, problems: FieldProblem[]): void {
  if (cmd.dueDate !== undefined && cmd.dueDate !== null && !isCalendarDate(cmd.dueDate)) {
    problems.push({ field: 'dueDate', message: `must be a date as YYYY-MM-DD, got ${JSON.stringify(cmd.dueDate)}` });
  }
  const terms = cmd.paymentTermsDays;
  if (terms !== undefined && terms !== null && (!Number.isInteger(terms) || terms < 0 || terms > MAX_TERMS_DAYS)) {
    problems.push({ field: 'paymentTermsDays', message: `must be a whole number of days from 0 to ${MAX_TERMS_DAYS}` });
  }
  if (cmd.memo && cmd.memo.length > MAX_MEMO) problems.push({ field: 'memo', message: `must be at most ${MAX_MEMO} characters` });
  const ref = cmd.billedRef;
  if (ref) {
    if (!Object.values(BilledRefType).includes(ref.type)) problems.push({ field: 'billedRef.type', message: 'is not a known reference type' });
    if (ref.type !== BilledRefType.NONE && !ref.id && !ref.label) {
      problems.push({ field: 'billedRef.id', message: `a ${ref.type} reference needs its id or a label` });
    }
    if (ref.id && !isUuid(ref.id)) problems.push({ field: 'billedRef.id', message: 'must be a UUID' });
    if (ref.label && ref.label.length > MAX_DESCRIPTION) problems.push({ field: 'billedRef.label', message: `must be at most ${MAX_DESCRIPTION} characters` });
  }
}
