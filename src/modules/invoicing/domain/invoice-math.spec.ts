import fc from 'fast-check';
import { Money } from '#libs/money/index.js';
import { formatThousandths, invoiceAmounts, InvoiceMathError, lineAmounts, parseQuantity, parseTaxRate } from './invoice-math.js';

const usd = (minor: number | bigint) => Money.of(minor, 'USD');
const line = (unitPrice: number, quantity: string, taxRate: string | null = null) => ({
  unitPrice: usd(unitPrice),
  quantity: parseQuantity(quantity),
  taxRate: taxRate === null ? null : parseTaxRate(taxRate),
});
const cents = (m: { subtotal: Money; tax: Money; total: Money }) => [m.subtotal.amount, m.tax.amount, m.total.amount];

describe('invoice math: quantities and rates', () => {
  it('reads quantities as exact thousandths and writes them back without trailing zeros', () => {
    expect(parseQuantity('1')).toBe(1000n);
    expect(parseQuantity('1.5')).toBe(1500n);
    expect(parseQuantity('0.125')).toBe(125n);
    expect(parseQuantity(' 2.50 ')).toBe(2500n);
    expect(formatThousandths(1500n)).toBe('1.5');
    expect(formatThousandths(2000n)).toBe('2');
    expect(formatThousandths(125n)).toBe('0.125');
  });

  it('refuses a quantity that is zero, negative, too precise, too large or not a number, naming the field', () => {
    for (const bad of ['0', '0.000', '-1', '1.2345', '1e3', '', 'abc', '1,5', '1000000.001']) {
      expect(() => parseQuantity(bad, 'lines.2.quantity')).toThrow(InvoiceMathError);
    }
    expect(() => parseQuantity('1.2345', 'lines.2.quantity')).toThrow(/^lines\.2\.quantity: must be a positive number with at most 3 decimals/);
    expect(parseQuantity('1000000')).toBe(1_000_000_000n);
  });

  it('reads tax rates as thousandths of a percent: 14.975% is 14975', () => {
    expect(parseTaxRate('14.975')).toBe(14975);
    expect(parseTaxRate('5')).toBe(5000);
    expect(parseTaxRate('0')).toBe(0);
    expect(parseTaxRate('100')).toBe(100_000);
    expect(formatThousandths(14975)).toBe('14.975');
    expect(() => parseTaxRate('100.001')).toThrow('taxRate: must be at most 100 (percent)');
    expect(() => parseTaxRate('8.8755')).toThrow(InvoiceMathError);
    expect(() => parseTaxRate('-5')).toThrow(InvoiceMathError);
  });
});

describe('invoice math: line amounts, rounded per line, half-up', () => {
  it('multiplies exactly when nothing needs rounding', () => {
    expect(cents(lineAmounts(line(7500, '2', '5')))).toEqual([15000n, 750n, 15750n]);
  });

  it('rounds a half cent of subtotal up: 0.5 × $0.25 = $0.125 -> $0.13', () => {
    expect(cents(lineAmounts(line(25, '0.5')))).toEqual([13n, 0n, 13n]);
  });

  it('rounds a half cent of tax up: 12.5% of $1.00 = $0.125 -> $0.13 (half-even would give $0.12)', () => {
    expect(cents(lineAmounts(line(100, '1', '12.5')))).toEqual([100n, 13n, 113n]);
  });

  it('Québec GST + QST (14.975%) on $100.00 is $14.975 of tax -> $14.98', () => {
    expect(cents(lineAmounts(line(10000, '1', '14.975')))).toEqual([10000n, 1498n, 11498n]);
  });

  it('New York City (8.875%) on $10.00 is $0.8875 -> $0.89; below half rounds down: 8.875% of $0.04 = $0.00355 -> $0.00', () => {
    expect(cents(lineAmounts(line(1000, '1', '8.875')))).toEqual([1000n, 89n, 1089n]);
    expect(cents(lineAmounts(line(4, '1', '8.875')))).toEqual([4n, 0n, 4n]);
  });

  it('computes tax on the rounded line subtotal: 1.333 h × $75.00 = $99.975 -> $99.98, then 5% = $4.999 -> $5.00', () => {
    expect(cents(lineAmounts(line(7500, '1.333', '5')))).toEqual([9998n, 500n, 10498n]);
  });

  it('rounds a discount line (negative price) symmetrically: 12.5% tax on -$1.00 is -$0.13', () => {
    expect(cents(lineAmounts(line(-100, '1', '12.5')))).toEqual([-100n, -13n, -113n]);
  });

  it('has no tax when the line has no rate', () => {
    expect(lineAmounts(line(999, '3')).tax.isZero()).toBe(true);
  });
});

describe('invoice math: invoice totals are the sums of the rounded lines', () => {
  it('adds per-line rounded amounts (three half-cent taxes make 3 cents, where rounding the exact 1.5 cents once would make 2)', () => {
    const amounts = invoiceAmounts([line(10, '1', '5'), line(10, '1', '5'), line(10, '1', '5')], 'USD');
    // Each line: 5% of $0.10 = $0.005 -> $0.01.
    expect(amounts.lines.map((l) => l.tax.amount)).toEqual([1n, 1n, 1n]);
    expect([amounts.subtotal.amount, amounts.tax.amount, amounts.total.amount]).toEqual([30n, 3n, 33n]);
  });

  it('an empty invoice is zero in its currency', () => {
    const amounts = invoiceAmounts([], 'CAD');
    expect(amounts.total.equals(Money.zero('CAD'))).toBe(true);
  });

  it('works in currencies with 0 and 3 decimals (JPY, KWD)', () => {
    const jpy = invoiceAmounts([{ unitPrice: Money.of(1005, 'JPY'), quantity: 1000n, taxRate: 10_000 }], 'JPY');
    expect(jpy.tax.amount).toBe(101n); // 100.5 yen -> 101
    const kwd = invoiceAmounts([{ unitPrice: Money.of(1001, 'KWD'), quantity: 500n, taxRate: null }], 'KWD');
    expect(kwd.subtotal.amount).toBe(501n); // 500.5 fils -> 501
  });

  it('property: the total always equals the sum of the lines, and each line is within half a minor unit of exact', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            price: fc.integer({ min: -1_000_000, max: 10_000_000 }),
            quantity: fc.integer({ min: 1, max: 10_000_000 }),
            rate: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
          }),
          { maxLength: 30 },
        ),
        (rows) => {
          const lines = rows.map((r) => ({ unitPrice: usd(r.price), quantity: BigInt(r.quantity), taxRate: r.rate }));
          const amounts = invoiceAmounts(lines, 'USD');
          const sum = amounts.lines.reduce((acc, l) => acc + l.total.amount, 0n);
          expect(amounts.total.amount).toBe(sum);
          lines.forEach((l, i) => {
            // |rounded × 1000 − exact × 1000| ≤ 500, i.e. within half a cent.
            const exact = l.unitPrice.amount * l.quantity;
            const diff = amounts.lines[i]!.subtotal.amount * 1000n - exact;
            expect(diff <= 500n && diff >= -500n).toBe(true);
          });
        },
      ),
    );
  });
});
