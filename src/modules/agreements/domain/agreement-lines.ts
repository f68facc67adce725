import type { FieldProblem } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import {
  checkInvoiceLines,
  formatThousandths,
  invoiceAmounts,
  MAX_DESCRIPTION,
  MAX_LINES,
  parseQuantity,
  parseTaxRate,
} from '../../invoicing/index.js';

/*
 * An agreement's priced services: the same shape as Invoicing's InvoiceLineCommand (description, quantity as a decimal
 * string with at most 3 places, unit price in minor units, tax rate in percent with at most 3 places), and the same
 * limits and rounding rule — Invoicing's own checks and arithmetic, called from here — so every period's invoice is
 * exactly the quote the customer signed. Invoicing checks the lines again when it issues each invoice.
 */

export { MAX_DESCRIPTION, MAX_LINES };

/** As stored (jsonb) and handed to Invoicing: unitPrice in minor units as a string (JSON has no bigint). */
export interface AgreementLine {
  description: string;
  quantity: string;
  unitPrice: string;
  taxRate: string | null;
}

export interface AgreementLineCommand {
  description: string;
  quantity: string;
  unitPrice: bigint;
  taxRate?: string | null;
}

export interface PricedLine {
  line: AgreementLine;
  unitPrice: Money;
  subtotal: Money;
  tax: Money;
  total: Money;
}

export interface PricedLines {
  lines: PricedLine[];
  subtotal: Money;
  tax: Money;
  total: Money;
}

/** Checks the lines with Invoicing's rules (every problem with its field, `lines.0.quantity`); returns them normalized. */
export function checkLines(lines: AgreementLineCommand[] | undefined, currency: string, problems: FieldProblem[]): AgreementLine[] {
  if (!Array.isArray(lines) || lines.length === 0) {
    problems.push({ field: 'lines', message: 'an agreement needs at least one priced service' });
    return [];
  }
  const found: FieldProblem[] = [];
  const checked = checkInvoiceLines(lines, currency, found);
  problems.push(...found);
  if (found.length) return [];
  return checked.map((c) => ({
    description: c.description,
    quantity: formatThousandths(c.quantity),
    unitPrice: c.unitPrice.amount.toString(),
    taxRate: c.taxRate === null ? null : formatThousandths(c.taxRate),
  }));
}

/** Each line's amounts and the totals of one period, by Invoicing's rounding rule. */
export function priceLines(lines: readonly AgreementLine[], currency: string): PricedLines {
  const inputs = lines.map((l) => ({
    unitPrice: Money.of(BigInt(l.unitPrice), currency),
    quantity: parseQuantity(l.quantity),
    taxRate: l.taxRate ? parseTaxRate(l.taxRate) : null,
  }));
  const amounts = invoiceAmounts(inputs, currency);
  return {
    lines: lines.map((line, i) => ({ line, unitPrice: inputs[i]!.unitPrice, ...amounts.lines[i]! })),
    subtotal: amounts.subtotal,
    tax: amounts.tax,
    total: amounts.total,
  };
}
