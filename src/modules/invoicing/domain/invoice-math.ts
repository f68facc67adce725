import { Money } from '#libs/money/index.js';

/*
 * The arithmetic of an invoice, with no I/O. Stated once here, tested in invoice-math.spec.ts, explained in the README
 * (Invoicing, "Totals and tax"):
 *
 * - Quantities are exact decimals with at most 3 decimal places ("1.5" hours, "0.125" m³), held as integer
 *   thousandths (1.5 -> 1500n). Never a float.
 * - Tax rates are percentages with at most 3 decimal places ("14.975" for Québec's GST + QST, "8.875" for New York
 *   City), held as integer thousandths of a percent (14.975% -> 14975). A basis point (0.01%) is too coarse for
 *   14.975%; a thousandth of a percent is not.
 * - Rounding happens per line, twice, half-up (ties away from zero), to the currency's minor unit:
 *     line subtotal = round(unit price × quantity)
 *     line tax      = round(line subtotal × rate)       (on the rounded subtotal: the amount printed on the line)
 *   and the invoice adds the rounded lines up: subtotal = Σ line subtotals, tax = Σ line taxes, total = subtotal + tax.
 *   Per line, so every printed line is exact and the printed lines add up to the printed totals; half-up, because it
 *   is the rule customers and tax authorities expect on a bill (a half cent of tax is a cent), and a single invoice
 *   has too few lines for banker's rounding to matter.
 */

/** Most decimal places in a quantity or a tax rate. */
export const DECIMALS = 3;
const SCALE = 1000n;
/** 100% in thousandths of a percent. */
const PERCENT_SCALE = 100_000n;
export const MAX_QUANTITY_THOUSANDTHS = 1_000_000n * SCALE;
/** Largest unit price (either sign), in minor units: 1e11 is a billion dollars. */
export const MAX_UNIT_PRICE = 100_000_000_000n;
/** Largest invoice total, in minor units (ten trillion dollars): far inside PostgreSQL's bigint. */
export const MAX_TOTAL = 1_000_000_000_000_000n;

const DECIMAL = /^(\d{1,9})(?:\.(\d{1,3}))?$/;

export class InvoiceMathError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvoiceMathError';
  }
}

function thousandths(value: string, field: string, what: string): bigint {
  const match = typeof value === 'string' ? DECIMAL.exec(value.trim()) : null;
  if (!match) throw new InvoiceMathError(field, `must be a ${what} with at most ${DECIMALS} decimals, like "1.5", got ${JSON.stringify(value)}`);
  return BigInt(match[1]!) * SCALE + BigInt((match[2] ?? '').padEnd(DECIMALS, '0'));
}

/** "1.5" -> 1500n. More than 0 and at most 1,000,000. */
export function parseQuantity(value: string, field = 'quantity'): bigint {
  const q = thousandths(value, field, 'positive number');
  if (q <= 0n) throw new InvoiceMathError(field, 'must be more than 0');
  if (q > MAX_QUANTITY_THOUSANDTHS) throw new InvoiceMathError(field, 'must be at most 1000000');
  return q;
}

/** "14.975" (percent) -> 14975 (thousandths of a percent). 0 to 100. */
export function parseTaxRate(value: string, field = 'taxRate'): number {
  const rate = thousandths(value, field, 'percentage');
  if (rate > PERCENT_SCALE) throw new InvoiceMathError(field, 'must be at most 100 (percent)');
  return Number(rate);
}

/** 1500n -> "1.5"; 2000n -> "2"; 125n -> "0.125". */
export function formatThousandths(value: bigint | number): string {
  const v = BigInt(value);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  const whole = abs / SCALE;
  const fraction = (abs % SCALE).toString().padStart(DECIMALS, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}

export interface LineInput {
  unitPrice: Money;
  /** Thousandths: 1.5 -> 1500n. */
  quantity: bigint;
  /** Thousandths of a percent (14.975% -> 14975), or null: no tax on this line. */
  taxRate: number | null;
}

export interface LineAmounts {
  subtotal: Money;
  tax: Money;
  total: Money;
}

export function lineAmounts(line: LineInput): LineAmounts {
  const subtotal = line.unitPrice.multiplyRatio(line.quantity, SCALE, 'HALF_UP');
  const tax = line.taxRate ? subtotal.multiplyRatio(BigInt(line.taxRate), PERCENT_SCALE, 'HALF_UP') : Money.zero(subtotal.currency);
  return { subtotal, tax, total: subtotal.add(tax) };
}

export interface InvoiceAmounts {
  lines: LineAmounts[];
  subtotal: Money;
  tax: Money;
  total: Money;
}

/** The lines' amounts and the invoice's totals: the sums of the rounded lines. */
export function invoiceAmounts(lines: readonly LineInput[], currency: string): InvoiceAmounts {
  const computed = lines.map(lineAmounts);
  const subtotal = Money.sum(
    computed.map((l) => l.subtotal),
    currency,
  );
  const tax = Money.sum(
    computed.map((l) => l.tax),
    currency,
  );
  return { lines: computed, subtotal, tax, total: subtotal.add(tax) };
}
