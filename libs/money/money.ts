import { type CurrencyCode, minorUnits, toCurrencyCode } from './currency.js';
import { MoneyError } from './money.error.js';

/**
 * How to round an exact quotient that falls between two minor units.
 * - `HALF_UP`: ties go away from zero (commercial rounding: 0.5 -> 1, -0.5 -> -1).
 * - `HALF_EVEN`: ties go to the even neighbour (banker's rounding: 0.5 -> 0, 1.5 -> 2), which has no drift when summed.
 * Non-ties always go to the nearest minor unit.
 */
export type RoundingMode = 'HALF_UP' | 'HALF_EVEN';

/** Wire shape of a {@link Money}: minor units as a decimal string, because JSON numbers lose precision past 2^53. */
export interface MoneyJson {
  amount: string;
  currency: CurrencyCode;
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Renders a rejected input for an error message without risking a throw from a hostile toString. */
function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value);
  return String(value);
}

/** Accepts a bigint, a safe-integer number or an integer string; anything else would silently lose precision. */
function toInteger(value: unknown, what: string, code: 'MONEY_INVALID_AMOUNT' | 'MONEY_INVALID_ARGUMENT'): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER.test(value)) return BigInt(value);
  throw new MoneyError(`${what}, got ${show(value)}`, code);
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

/** Exact `numerator / denominator` rounded to an integer; the denominator must be positive. */
function divideRounded(numerator: bigint, denominator: bigint, rounding: RoundingMode): bigint {
  const quotient = numerator / denominator; // truncates toward zero
  const twiceRemainder = abs(numerator % denominator) * 2n;
  const awayFromZero = numerator < 0n ? -1n : 1n;
  if (twiceRemainder > denominator) return quotient + awayFromZero;
  if (twiceRemainder < denominator) return quotient;
  // Exactly half way.
  if (rounding === 'HALF_UP') return quotient + awayFromZero;
  return quotient % 2n === 0n ? quotient : quotient + awayFromZero;
}

function checkRounding(rounding: unknown): RoundingMode {
  if (rounding === 'HALF_UP' || rounding === 'HALF_EVEN') return rounding;
  throw new MoneyError(`rounding must be 'HALF_UP' or 'HALF_EVEN', got ${show(rounding)}`);
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(locale: string, currency: CurrencyCode): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let found = formatters.get(key);
  if (!found) {
    const digits = minorUnits(currency);
    // Pin the digits to our ISO exponent so Intl never rounds or pads differently from the stored amount.
    found = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    formatters.set(key, found);
  }
  return found;
}

/**
 * An immutable amount of one currency, held as an exact `bigint` count of minor units (cents, yen, fils).
 * No operation ever goes through a float: use the methods, not `+`, `<` or `Number(...)`.
 */
export class Money {
  private constructor(
    private readonly _amount: bigint,
    private readonly _currency: CurrencyCode,
  ) {
    Object.freeze(this);
  }

  /** `minor` is in minor units: `Money.of(1234, 'USD')` is $12.34. Numbers must be safe integers. */
  static of(minor: bigint | number | string, currency: string): Money {
    const code = toCurrencyCode(currency);
    const amount = toInteger(minor, 'amount must be an integer number of minor units', 'MONEY_INVALID_AMOUNT');
    return new Money(amount, code);
  }

  static zero(currency: string): Money {
    return new Money(0n, toCurrencyCode(currency));
  }

  /**
   * Exact parse of a major-unit decimal such as `"12.34"` or `"-0.5"`. Fewer decimals than the currency has are padded;
   * more are refused rather than rounded, because a silent rounding here would hide a bug upstream.
   */
  static fromDecimalString(value: string, currency: string): Money {
    const code = toCurrencyCode(currency);
    const match = typeof value === 'string' ? DECIMAL.exec(value) : null;
    if (!match) {
      throw new MoneyError(`amount must be a decimal string like '12.34', got ${show(value)}`, 'MONEY_INVALID_AMOUNT');
    }
    const [, sign, whole, fraction = ''] = match;
    const digits = minorUnits(code);
    if (fraction.length > digits) {
      throw new MoneyError(
        `amount '${value}' has ${fraction.length} decimal places but ${code} allows at most ${digits}`,
        'MONEY_INVALID_AMOUNT',
      );
    }
    const magnitude = BigInt(whole + fraction.padEnd(digits, '0'));
    return new Money(sign ? -magnitude : magnitude, code);
  }

  /** Inverse of {@link toJSON}. */
  static fromJSON(json: MoneyJson): Money {
    return Money.of(json.amount, json.currency);
  }

  /** Total of `list`; `currency` is required so an empty list still has a currency. */
  static sum(list: readonly Money[], currency: string): Money {
    const code = toCurrencyCode(currency);
    let total = 0n;
    for (const item of list) {
      if (item._currency !== code) throw Money.mismatch(code, item._currency);
      total += item._amount;
    }
    return new Money(total, code);
  }

  /** Largest of the values (the first one on ties). */
  static max(...values: Money[]): Money {
    return Money.pick(values, 'max', (candidate, best) => candidate.greaterThan(best));
  }

  /** Smallest of the values (the first one on ties). */
  static min(...values: Money[]): Money {
    return Money.pick(values, 'min', (candidate, best) => candidate.lessThan(best));
  }

  get amount(): bigint {
    return this._amount;
  }

  get currency(): CurrencyCode {
    return this._currency;
  }

  add(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this._amount + other._amount, this._currency);
  }

  subtract(other: Money): Money {
    this.assertSameCurrency(other);
    return new Money(this._amount - other._amount, this._currency);
  }

  negate(): Money {
    return new Money(-this._amount, this._currency);
  }

  abs(): Money {
    return this._amount < 0n ? this.negate() : this;
  }

  /** Multiplies by a whole number (quantities). For fractional factors use {@link percentage} or {@link multiplyRatio}. */
  multiply(factor: bigint | number): Money {
    const n = toInteger(factor, 'factor must be an integer', 'MONEY_INVALID_ARGUMENT');
    return new Money(this._amount * n, this._currency);
  }

  /**
   * `amount * numerator / denominator`, computed exactly in integers and rounded once at the end
   * (see {@link RoundingMode}; the sign is applied after rounding the magnitude, so results are symmetric around zero).
   */
  multiplyRatio(numerator: bigint | number, denominator: bigint | number, rounding: RoundingMode = 'HALF_EVEN'): Money {
    let num = toInteger(numerator, 'numerator must be an integer', 'MONEY_INVALID_ARGUMENT');
    let den = toInteger(denominator, 'denominator must be an integer', 'MONEY_INVALID_ARGUMENT');
    const mode = checkRounding(rounding);
    if (den === 0n) throw new MoneyError('denominator must not be zero');
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    return new Money(divideRounded(this._amount * num, den, mode), this._currency);
  }

  /**
   * `basisPoints / 10000` of this amount (100 bp = 1%, so 825 bp of $10.00 is $0.825, rounded to $0.82 HALF_EVEN
   * or $0.83 HALF_UP). Basis points must be whole; for finer rates like 8.875% use `multiplyRatio(8875n, 100000n)`.
   */
  percentage(basisPoints: bigint | number, rounding: RoundingMode = 'HALF_EVEN'): Money {
    const bp = toInteger(basisPoints, 'basis points must be an integer', 'MONEY_INVALID_ARGUMENT');
    return this.multiplyRatio(bp, 10_000n, rounding);
  }

  /**
   * Splits into parts proportional to `ratios` (non-negative integers, at least one positive) that always sum exactly
   * to this amount. Largest-remainder method: each part gets the floor of its exact share, then the leftover minor
   * units go one each to the parts with the largest remainders, ties to the earlier index. So every part is within
   * one minor unit of its exact share. Negative amounts are allocated by magnitude and then negated.
   */
  allocate(ratios: readonly (bigint | number)[]): Money[] {
    if (!Array.isArray(ratios) || ratios.length === 0) {
      throw new MoneyError('ratios must be a non-empty array');
    }
    const weights = ratios.map((ratio) => {
      const weight = toInteger(ratio, 'ratios must be non-negative integers', 'MONEY_INVALID_ARGUMENT');
      if (weight < 0n) throw new MoneyError(`ratios must be non-negative integers, got ${show(ratio)}`);
      return weight;
    });
    const total = weights.reduce((acc, weight) => acc + weight, 0n);
    if (total === 0n) throw new MoneyError('ratios must include at least one positive value');

    const magnitude = abs(this._amount);
    const parts = weights.map((weight) => (magnitude * weight) / total);
    const remainders = weights.map((weight) => (magnitude * weight) % total);
    // Less than ratios.length, and fewer than the parts with a non-zero remainder, so zero-ratio parts never get one.
    let leftover = magnitude - parts.reduce((acc, part) => acc + part, 0n);
    const order = remainders
      .map((remainder, index) => ({ remainder, index }))
      .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
    for (const { index } of order) {
      if (leftover === 0n) break;
      parts[index] += 1n;
      leftover -= 1n;
    }
    const sign = this._amount < 0n ? -1n : 1n;
    return parts.map((part) => new Money(part * sign, this._currency));
  }

  /** `n` parts as equal as possible, earlier parts taking the extra minor units: 100 / 3 -> [34, 33, 33]. */
  split(n: number): Money[] {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new MoneyError(`split count must be a positive integer, got ${show(n)}`);
    }
    const count = BigInt(n);
    const magnitude = abs(this._amount);
    const base = magnitude / count;
    const extra = magnitude % count;
    const sign = this._amount < 0n ? -1n : 1n;
    return Array.from({ length: n }, (_, i) => new Money((BigInt(i) < extra ? base + 1n : base) * sign, this._currency));
  }

  isZero(): boolean {
    return this._amount === 0n;
  }

  isPositive(): boolean {
    return this._amount > 0n;
  }

  isNegative(): boolean {
    return this._amount < 0n;
  }

  /** Same currency and amount. Never throws: different currencies are simply not equal. */
  equals(other: Money): boolean {
    return other instanceof Money && this._currency === other._currency && this._amount === other._amount;
  }

  /** -1, 0 or 1; throws on a currency mismatch because there is no exchange rate here. */
  compare(other: Money): -1 | 0 | 1 {
    this.assertSameCurrency(other);
    if (this._amount === other._amount) return 0;
    return this._amount < other._amount ? -1 : 1;
  }

  greaterThan(other: Money): boolean {
    return this.compare(other) > 0;
  }

  lessThan(other: Money): boolean {
    return this.compare(other) < 0;
  }

  greaterThanOrEqual(other: Money): boolean {
    return this.compare(other) >= 0;
  }

  lessThanOrEqual(other: Money): boolean {
    return this.compare(other) <= 0;
  }

  /** Major units with exactly the currency's decimals: "12.34", "-0.05", "1200" (JPY), "1.500" (KWD). */
  toDecimalString(): string {
    const digits = minorUnits(this._currency);
    const text = abs(this._amount).toString();
    const sign = this._amount < 0n ? '-' : '';
    if (digits === 0) return sign + text;
    const padded = text.padStart(digits + 1, '0');
    return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
  }

  /** Localized display, e.g. "$1,234.50" or "1.234,50 €". Intl gets the exact decimal string, never a float. */
  format(locale = 'en-US'): string {
    return formatter(locale, this._currency).format(this.toDecimalString() as Intl.StringNumericLiteral);
  }

  toJSON(): MoneyJson {
    return { amount: this._amount.toString(), currency: this._currency };
  }

  /** For logs and debugging: "USD 12.34". */
  toString(): string {
    return `${this._currency} ${this.toDecimalString()}`;
  }

  /**
   * Refuses implicit conversion so `a + b`, `a < b` or `Number(a)` fail loudly instead of comparing strings or
   * producing NaN (the same choice Temporal makes). Template literals still work: they use toString.
   */
  valueOf(): never {
    throw new MoneyError('Money cannot be converted to a primitive; use compare(), add() or toDecimalString()');
  }

  private assertSameCurrency(other: Money): void {
    if (!(other instanceof Money)) throw new MoneyError(`expected a Money, got ${show(other)}`);
    if (other._currency !== this._currency) throw Money.mismatch(this._currency, other._currency);
  }

  private static mismatch(left: CurrencyCode, right: CurrencyCode): MoneyError {
    return new MoneyError(`currency mismatch: ${left} vs ${right}`, 'MONEY_CURRENCY_MISMATCH');
  }

  private static pick(values: readonly Money[], what: string, better: (candidate: Money, best: Money) => boolean): Money {
    const [first, ...rest] = values;
    if (first === undefined) throw new MoneyError(`${what} needs at least one value`);
    let best = first;
    for (const candidate of rest) if (better(candidate, best)) best = candidate;
    return best;
  }
}
