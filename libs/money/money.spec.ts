import fc from 'fast-check';
import { CURRENCY_CODES, isCurrencyCode, minorUnits, Money, MoneyError, toCurrencyCode } from './index.js';

const usd = (minor: bigint | number): Money => Money.of(minor, 'USD');
const amounts = (list: readonly Money[]): bigint[] => list.map((m) => m.amount);

/** Runs `fn` and returns the MoneyError it throws, failing the test if it throws nothing or something else. */
function moneyError(fn: () => unknown): MoneyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MoneyError);
    return error as MoneyError;
  }
  throw new Error('expected a MoneyError');
}

// Amounts well beyond 2^53, of both signs, so nothing can be passing by way of float precision.
const HUGE = 2n ** 130n;
const anyAmount = fc.oneof(fc.bigInt({ min: -HUGE, max: HUGE }), fc.bigInt({ min: -1000n, max: 1000n }));
const anyCurrency = fc.constantFrom(...CURRENCY_CODES);
const anyRatios = fc
  .array(fc.oneof(fc.nat({ max: 10 }), fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 80n })), { minLength: 1, maxLength: 20 })
  .filter((ratios) => ratios.some((r) => BigInt(r) > 0n));

describe('currency table', () => {
  it('knows the exponent of each supported currency', () => {
    for (const code of ['USD', 'CAD', 'EUR', 'GBP', 'AUD', 'NZD', 'CHF', 'SEK', 'NOK', 'DKK', 'MXN', 'BRL', 'INR', 'CNY', 'HKD', 'SGD']) {
      expect(isCurrencyCode(code) && minorUnits(code)).toBe(2);
    }
    for (const code of ['JPY', 'KRW', 'CLP', 'ISK']) expect(isCurrencyCode(code) && minorUnits(code)).toBe(0);
    for (const code of ['KWD', 'BHD', 'JOD', 'OMR', 'TND']) expect(isCurrencyCode(code) && minorUnits(code)).toBe(3);
    expect(CURRENCY_CODES).toHaveLength(25);
  });

  it('recognizes only exact upper-case codes and ignores Object.prototype names', () => {
    expect(isCurrencyCode('USD')).toBe(true);
    expect(isCurrencyCode('usd')).toBe(false);
    expect(isCurrencyCode('XYZ')).toBe(false);
    expect(isCurrencyCode('toString')).toBe(false);
    expect(isCurrencyCode('__proto__')).toBe(false);
    expect(isCurrencyCode(42)).toBe(false);
  });

  it('normalizes and validates codes', () => {
    expect(toCurrencyCode('eur')).toBe('EUR');
    const error = moneyError(() => toCurrencyCode('XYZ'));
    expect(error.message).toBe("unknown currency 'XYZ'");
    expect(error.code).toBe('MONEY_UNKNOWN_CURRENCY');
    expect(moneyError(() => minorUnits('XYZ' as never)).message).toBe("unknown currency 'XYZ'");
  });
});

describe('Money.of', () => {
  it('accepts bigint, safe-integer number and integer string minor units', () => {
    expect(Money.of(1234n, 'USD').amount).toBe(1234n);
    expect(Money.of(-5, 'USD').amount).toBe(-5n);
    expect(Money.of('-98765432109876543210', 'USD').amount).toBe(-98765432109876543210n);
    expect(Money.of(-0, 'USD').amount).toBe(0n);
  });

  it('normalizes the currency to upper case', () => {
    expect(Money.of(1, 'usd').currency).toBe('USD');
    expect(Money.of(1, 'Jpy').currency).toBe('JPY');
  });

  it.each([
    [10.5, 'amount must be an integer number of minor units, got 10.5'],
    [Number.NaN, 'amount must be an integer number of minor units, got NaN'],
    [Number.POSITIVE_INFINITY, 'amount must be an integer number of minor units, got Infinity'],
    [2 ** 53, 'amount must be an integer number of minor units, got 9007199254740992'],
    ['12.34', "amount must be an integer number of minor units, got '12.34'"],
    ['', "amount must be an integer number of minor units, got ''"],
    [' 12', "amount must be an integer number of minor units, got ' 12'"],
    ['1e3', "amount must be an integer number of minor units, got '1e3'"],
    ['+5', "amount must be an integer number of minor units, got '+5'"],
  ])('rejects %p', (input, message) => {
    const error = moneyError(() => Money.of(input, 'USD'));
    expect(error.message).toBe(message);
    expect(error.code).toBe('MONEY_INVALID_AMOUNT');
    expect(error.name).toBe('MoneyError');
  });

  it('rejects non-numeric inputs from untyped callers', () => {
    expect(moneyError(() => Money.of(null as never, 'USD')).message).toBe(
      'amount must be an integer number of minor units, got null',
    );
    expect(moneyError(() => Money.of({} as never, 'USD')).message).toBe(
      'amount must be an integer number of minor units, got [object Object]',
    );
  });

  it('rejects unknown currencies', () => {
    const error = moneyError(() => Money.of(1, 'XYZ'));
    expect(error.message).toBe("unknown currency 'XYZ'");
    expect(error.code).toBe('MONEY_UNKNOWN_CURRENCY');
    expect(moneyError(() => Money.of(1, '')).message).toBe("unknown currency ''");
  });

  it('builds zero', () => {
    const zero = Money.zero('eur');
    expect(zero.amount).toBe(0n);
    expect(zero.currency).toBe('EUR');
    expect(zero.isZero()).toBe(true);
    expect(() => Money.zero('XYZ')).toThrow("unknown currency 'XYZ'");
  });

  it('is immutable', () => {
    const m = usd(100);
    expect(Object.isFrozen(m)).toBe(true);
    expect(() => {
      (m as unknown as { _amount: bigint })._amount = 5n;
    }).toThrow(TypeError);
    m.add(usd(1));
    m.negate();
    expect(m.amount).toBe(100n);
  });
});

describe('decimal strings', () => {
  it.each([
    ['12.34', 'USD', 1234n, '12.34'],
    ['12.3', 'USD', 1230n, '12.30'],
    ['12', 'USD', 1200n, '12.00'],
    ['-0.05', 'USD', -5n, '-0.05'],
    ['-0.00', 'USD', 0n, '0.00'],
    ['0', 'USD', 0n, '0.00'],
    ['1200', 'JPY', 1200n, '1200'],
    ['-7', 'KRW', -7n, '-7'],
    ['1.5', 'KWD', 1500n, '1.500'],
    ['0.001', 'BHD', 1n, '0.001'],
    ['12345678901234567890.12', 'EUR', 1234567890123456789012n, '12345678901234567890.12'],
  ])('parses %p %s exactly', (input, currency, minor, decimal) => {
    const m = Money.fromDecimalString(input, currency);
    expect(m.amount).toBe(minor);
    expect(m.toDecimalString()).toBe(decimal);
  });

  it('refuses more decimals than the currency has', () => {
    const error = moneyError(() => Money.fromDecimalString('12.345', 'USD'));
    expect(error.message).toBe("amount '12.345' has 3 decimal places but USD allows at most 2");
    expect(error.code).toBe('MONEY_INVALID_AMOUNT');
    expect(moneyError(() => Money.fromDecimalString('1200.0', 'JPY')).message).toBe(
      "amount '1200.0' has 1 decimal places but JPY allows at most 0",
    );
  });

  it.each(['', 'abc', '.5', '5.', '+5', '1,000.00', ' 1.00', '1.00 ', '1e3', '--1', '1.2.3', 'NaN', 'Infinity', '0x10'])(
    'refuses garbage %p',
    (input) => {
      const error = moneyError(() => Money.fromDecimalString(input, 'USD'));
      expect(error.message).toBe(`amount must be a decimal string like '12.34', got '${input}'`);
    },
  );

  it('refuses unknown currencies', () => {
    expect(moneyError(() => Money.fromDecimalString('1.00', 'XYZ')).message).toBe("unknown currency 'XYZ'");
  });

  it('formats small amounts with leading zeros', () => {
    expect(usd(5).toDecimalString()).toBe('0.05');
    expect(usd(-105).toDecimalString()).toBe('-1.05');
    expect(Money.of(7, 'KWD').toDecimalString()).toBe('0.007');
  });
});

describe('format', () => {
  it('uses Intl with the currency and the exact digits', () => {
    expect(usd(123450).format()).toBe('$1,234.50');
    expect(usd(-5).format('en-US')).toBe('-$0.05');
    expect(Money.of(123450, 'EUR').format('de-DE')).toBe('1.234,50\u00a0€');
    expect(Money.of(1200, 'JPY').format('en-US')).toBe('¥1,200');
    expect(Money.of(1234, 'KWD').format('en-US')).toBe('KWD\u00a01.234');
  });

  it('never rounds through a float, even past 2^53', () => {
    const m = Money.fromDecimalString('12345678901234567890.99', 'USD');
    expect(m.format('en-US')).toBe('$12,345,678,901,234,567,890.99');
  });
});

describe('arithmetic', () => {
  it('adds and subtracts', () => {
    expect(usd(150).add(usd(-50)).amount).toBe(100n);
    expect(usd(150).subtract(usd(200)).amount).toBe(-50n);
  });

  it('refuses to mix currencies', () => {
    const error = moneyError(() => usd(1).add(Money.of(1, 'EUR')));
    expect(error.message).toBe('currency mismatch: USD vs EUR');
    expect(error.code).toBe('MONEY_CURRENCY_MISMATCH');
    expect(() => usd(1).subtract(Money.of(1, 'EUR'))).toThrow('currency mismatch: USD vs EUR');
    expect(() => usd(1).compare(Money.of(1, 'JPY'))).toThrow('currency mismatch: USD vs JPY');
  });

  it('negates and takes the absolute value', () => {
    expect(usd(5).negate().amount).toBe(-5n);
    expect(usd(-5).negate().amount).toBe(5n);
    expect(usd(0).negate().amount).toBe(0n);
    expect(usd(-5).abs().amount).toBe(5n);
    expect(usd(5).abs().amount).toBe(5n);
  });

  it('multiplies by integers only', () => {
    expect(usd(250).multiply(3).amount).toBe(750n);
    expect(usd(250).multiply(-2n).amount).toBe(-500n);
    expect(usd(2n ** 60n).multiply(2n ** 60n).amount).toBe(2n ** 120n);
    expect(moneyError(() => usd(1).multiply(1.5)).message).toBe('factor must be an integer, got 1.5');
    expect(moneyError(() => usd(1).multiply(Number.NaN)).code).toBe('MONEY_INVALID_ARGUMENT');
  });

  it('sums a list in one currency', () => {
    expect(Money.sum([usd(1), usd(2), usd(3)], 'usd').amount).toBe(6n);
    const empty = Money.sum([], 'JPY');
    expect(empty.amount).toBe(0n);
    expect(empty.currency).toBe('JPY');
    expect(() => Money.sum([usd(1), Money.of(1, 'EUR')], 'USD')).toThrow('currency mismatch: USD vs EUR');
  });

  it('refuses implicit conversion to a primitive', () => {
    const a = usd(1);
    expect(() => Number(a)).toThrow(MoneyError);
    expect(() => (a as unknown as number) < (usd(2) as unknown as number)).toThrow(MoneyError);
    expect(`${a}`).toBe('USD 0.01');
  });
});

describe('comparison', () => {
  it('classifies sign', () => {
    expect(usd(0).isZero()).toBe(true);
    expect(usd(1).isZero()).toBe(false);
    expect(usd(1).isPositive()).toBe(true);
    expect(usd(0).isPositive()).toBe(false);
    expect(usd(-1).isNegative()).toBe(true);
    expect(usd(0).isNegative()).toBe(false);
  });

  it('compares', () => {
    expect(usd(1).compare(usd(2))).toBe(-1);
    expect(usd(2).compare(usd(2))).toBe(0);
    expect(usd(3).compare(usd(2))).toBe(1);
    expect(usd(3).greaterThan(usd(2))).toBe(true);
    expect(usd(2).greaterThan(usd(2))).toBe(false);
    expect(usd(2).greaterThanOrEqual(usd(2))).toBe(true);
    expect(usd(1).greaterThanOrEqual(usd(2))).toBe(false);
    expect(usd(1).lessThan(usd(2))).toBe(true);
    expect(usd(2).lessThan(usd(2))).toBe(false);
    expect(usd(2).lessThanOrEqual(usd(2))).toBe(true);
    expect(usd(3).lessThanOrEqual(usd(2))).toBe(false);
  });

  it('tests equality without throwing across currencies', () => {
    expect(usd(5).equals(Money.of('5', 'usd'))).toBe(true);
    expect(usd(5).equals(usd(6))).toBe(false);
    expect(usd(5).equals(Money.of(5, 'CAD'))).toBe(false);
  });

  it('picks max and min, the first on ties', () => {
    const a = usd(5);
    const b = usd(5);
    expect(Money.max(usd(1), a, usd(-3), b)).toBe(a);
    expect(Money.min(usd(1), usd(-3), usd(9)).amount).toBe(-3n);
    expect(Money.min(a, b)).toBe(a);
    expect(moneyError(() => Money.max()).message).toBe('max needs at least one value');
    expect(moneyError(() => Money.min()).message).toBe('min needs at least one value');
    expect(() => Money.max(usd(1), Money.of(1, 'EUR'))).toThrow('currency mismatch: EUR vs USD');
  });
});

describe('percentage and multiplyRatio', () => {
  it('takes basis points of an amount', () => {
    expect(usd(10000).percentage(825).amount).toBe(825n); // 8.25% of $100.00
    expect(usd(1000).percentage(1000).amount).toBe(100n); // 10% of $10.00
    expect(usd(1000).percentage(-1000).amount).toBe(-100n); // a discount
  });

  it('rounds ties half-even by default and half-up on request', () => {
    // 825 bp of $10.00 is 82.5 cents exactly.
    expect(usd(1000).percentage(825).amount).toBe(82n);
    expect(usd(1000).percentage(825, 'HALF_UP').amount).toBe(83n);
    // 875 bp of $10.00 is 87.5 cents: the even neighbour is 88.
    expect(usd(1000).percentage(875).amount).toBe(88n);
    // Symmetric around zero.
    expect(usd(-1000).percentage(825).amount).toBe(-82n);
    expect(usd(-1000).percentage(825, 'HALF_UP').amount).toBe(-83n);
    // Non-ties go to the nearest unit whatever the mode: 1 cent * 0.4 = 0, 1 cent * 0.6 = 1.
    expect(usd(1).percentage(4000, 'HALF_UP').amount).toBe(0n);
    expect(usd(1).percentage(6000, 'HALF_EVEN').amount).toBe(1n);
    expect(usd(-1).percentage(6000, 'HALF_EVEN').amount).toBe(-1n);
  });

  it('multiplies by an exact ratio', () => {
    expect(usd(10000).multiplyRatio(8875n, 100000n).amount).toBe(888n); // 8.875% of $100.00 = 887.5 -> 888
    expect(usd(100).multiplyRatio(1n, 3n).amount).toBe(33n);
    expect(usd(100).multiplyRatio(2n, 3n).amount).toBe(67n);
    expect(usd(5).multiplyRatio(1n, 2n, 'HALF_EVEN').amount).toBe(2n);
    expect(usd(5).multiplyRatio(1n, 2n, 'HALF_UP').amount).toBe(3n);
    expect(usd(5).multiplyRatio(1n, -2n, 'HALF_UP').amount).toBe(-3n);
    expect(usd(-5).multiplyRatio(-1n, -2n, 'HALF_EVEN').amount).toBe(-2n);
  });

  it('rejects bad arguments', () => {
    expect(moneyError(() => usd(1).multiplyRatio(1n, 0n)).message).toBe('denominator must not be zero');
    expect(moneyError(() => usd(1).multiplyRatio(0.5, 1n)).message).toBe('numerator must be an integer, got 0.5');
    expect(moneyError(() => usd(1).percentage(887.5)).message).toBe('basis points must be an integer, got 887.5');
    expect(moneyError(() => usd(1).percentage(1, 'UP' as never)).message).toBe(
      "rounding must be 'HALF_UP' or 'HALF_EVEN', got 'UP'",
    );
  });
});

describe('allocate and split', () => {
  it('splits by ratios with largest remainders', () => {
    expect(amounts(usd(100).allocate([1, 1, 1]))).toEqual([34n, 33n, 33n]);
    expect(amounts(usd(5).allocate([3, 7]))).toEqual([2n, 3n]); // 1.5 / 3.5: tie on remainder -> earlier
    expect(amounts(usd(100).allocate([70, 20, 10]))).toEqual([70n, 20n, 10n]);
    expect(amounts(usd(10).allocate([1, 2, 3]))).toEqual([2n, 3n, 5n]); // 1.67, 3.33, 5 -> largest remainder first
    expect(amounts(usd(100).allocate([0, 1, 0]))).toEqual([0n, 100n, 0n]);
    expect(amounts(usd(0).allocate([1, 2]))).toEqual([0n, 0n]);
    expect(amounts(usd(7).allocate([1n, 2n ** 70n]))).toEqual([0n, 7n]);
  });

  it('allocates negative amounts by magnitude', () => {
    expect(amounts(usd(-100).allocate([1, 1, 1]))).toEqual([-34n, -33n, -33n]);
    expect(usd(-100).allocate([1, 1, 1]).every((m) => m.currency === 'USD')).toBe(true);
  });

  it.each([
    [[], 'ratios must be a non-empty array'],
    [[0, 0], 'ratios must include at least one positive value'],
    [[1, -1], 'ratios must be non-negative integers, got -1'],
    [[1, -1n], 'ratios must be non-negative integers, got -1'],
    [[1, 0.5], 'ratios must be non-negative integers, got 0.5'],
    [[1, Number.NaN], 'ratios must be non-negative integers, got NaN'],
  ])('rejects ratios %p', (ratios, message) => {
    const error = moneyError(() => usd(100).allocate(ratios));
    expect(error.message).toBe(message);
    expect(error.code).toBe('MONEY_INVALID_ARGUMENT');
  });

  it('splits into n equal parts, earlier parts getting the extra units', () => {
    expect(amounts(usd(100).split(3))).toEqual([34n, 33n, 33n]);
    expect(amounts(usd(101).split(3))).toEqual([34n, 34n, 33n]);
    expect(amounts(usd(-100).split(3))).toEqual([-34n, -33n, -33n]);
    expect(amounts(usd(2).split(4))).toEqual([1n, 1n, 0n, 0n]);
    expect(amounts(usd(9).split(1))).toEqual([9n]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects split count %p', (n) => {
    expect(moneyError(() => usd(100).split(n)).message).toBe(`split count must be a positive integer, got ${n}`);
  });
});

describe('serialization', () => {
  it('exposes amount and currency', () => {
    const m = Money.of(1234, 'usd');
    expect(m.amount).toBe(1234n);
    expect(m.currency).toBe('USD');
  });

  it('serializes to JSON with a string amount in minor units', () => {
    const m = Money.of(2n ** 64n, 'EUR');
    expect(m.toJSON()).toEqual({ amount: '18446744073709551616', currency: 'EUR' });
    expect(JSON.stringify({ total: usd(-5) })).toBe('{"total":{"amount":"-5","currency":"USD"}}');
    expect(Money.fromJSON(m.toJSON()).equals(m)).toBe(true);
  });

  it('prints for humans', () => {
    expect(usd(1234).toString()).toBe('USD 12.34');
    expect(Money.of(1200, 'JPY').toString()).toBe('JPY 1200');
    expect(String(usd(-5))).toBe('USD -0.05');
  });

  it('works with jest structural equality', () => {
    expect(usd(5)).toEqual(Money.of('5', 'USD'));
    expect(usd(5)).not.toEqual(usd(6));
    expect(usd(5)).not.toEqual(Money.of(5, 'CAD'));
  });
});

describe('properties', () => {
  it('allocate: parts sum to the original, count matches, each within one unit of its exact share', () => {
    fc.assert(
      fc.property(anyAmount, anyRatios, (amount, ratios) => {
        const parts = usd(amount).allocate(ratios);
        expect(parts).toHaveLength(ratios.length);
        expect(parts.reduce((acc, p) => acc + p.amount, 0n)).toBe(amount);
        const total = ratios.reduce<bigint>((acc, r) => acc + BigInt(r), 0n);
        parts.forEach((part, i) => {
          // |part - amount * r / total| < 1  <=>  |part * total - amount * r| < total, exact in integers.
          const diff = part.amount * total - amount * BigInt(ratios[i]);
          expect(diff < 0n ? -diff : diff).toBeLessThan(total);
          expect(part.currency).toBe('USD');
        });
      }),
      { numRuns: 500 },
    );
  });

  it('split: n parts summing to the original that differ by at most one unit, larger ones first', () => {
    fc.assert(
      fc.property(anyAmount, fc.integer({ min: 1, max: 50 }), (amount, n) => {
        const parts = amounts(usd(amount).split(n));
        expect(parts).toHaveLength(n);
        expect(parts.reduce((acc, p) => acc + p, 0n)).toBe(amount);
        const magnitudes = parts.map((p) => (p < 0n ? -p : p));
        const max = magnitudes.reduce((a, b) => (a > b ? a : b));
        const min = magnitudes.reduce((a, b) => (a < b ? a : b));
        expect(max - min <= 1n).toBe(true);
        // Non-increasing magnitudes: the earlier parts take the extra unit.
        magnitudes.slice(1).forEach((m, i) => expect(m <= magnitudes[i]).toBe(true));
        // Same as allocating with equal ratios.
        expect(amounts(usd(amount).allocate(Array.from({ length: n }, () => 1)))).toEqual(parts);
      }),
      { numRuns: 300 },
    );
  });

  it('add and subtract round-trip', () => {
    fc.assert(
      fc.property(anyAmount, anyAmount, anyCurrency, (a, b, currency) => {
        const x = Money.of(a, currency);
        const y = Money.of(b, currency);
        expect(x.add(y).subtract(y).equals(x)).toBe(true);
        expect(x.subtract(y).add(y).equals(x)).toBe(true);
        expect(x.add(y).equals(y.add(x))).toBe(true);
        expect(x.add(x.negate()).isZero()).toBe(true);
      }),
    );
  });

  it('fromDecimalString(toDecimalString(x)) equals x for every currency', () => {
    fc.assert(
      fc.property(anyAmount, anyCurrency, (amount, currency) => {
        const x = Money.of(amount, currency);
        const text = x.toDecimalString();
        expect(Money.fromDecimalString(text, currency).equals(x)).toBe(true);
        // The string always carries exactly the currency's decimals.
        const decimals = text.includes('.') ? text.split('.')[1].length : 0;
        expect(decimals).toBe(minorUnits(x.currency));
      }),
      { numRuns: 500 },
    );
  });

  it('JSON and integer-string inputs round-trip', () => {
    fc.assert(
      fc.property(anyAmount, anyCurrency, (amount, currency) => {
        const x = Money.of(amount, currency);
        expect(Money.fromJSON(JSON.parse(JSON.stringify(x)) as ReturnType<Money['toJSON']>).equals(x)).toBe(true);
        expect(Money.of(amount.toString(), currency).equals(x)).toBe(true);
      }),
    );
  });

  it('multiplyRatio is within half a unit of the exact value and symmetric around zero', () => {
    fc.assert(
      fc.property(
        anyAmount,
        fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.constantFrom('HALF_UP' as const, 'HALF_EVEN' as const),
        (amount, num, den, rounding) => {
          const result = usd(amount).multiplyRatio(num, den, rounding).amount;
          // |result - amount * num / den| <= 1/2  <=>  |2 * (result * den - amount * num)| <= den.
          const diff = 2n * (result * den - amount * num);
          expect((diff < 0n ? -diff : diff) <= den).toBe(true);
          expect(usd(-amount).multiplyRatio(num, den, rounding).amount).toBe(-result);
        },
      ),
    );
  });

  it('compare agrees with bigint order', () => {
    fc.assert(
      fc.property(anyAmount, anyAmount, (a, b) => {
        expect(usd(a).compare(usd(b))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });
});
