import { MoneyError } from './money.error.js';

/**
 * ISO 4217 minor-unit exponents: how many decimal places the currency's smallest unit has.
 * Null prototype so lookups of names like `toString` or `__proto__` never hit Object.prototype.
 */
const EXPONENTS = Object.freeze(
  Object.assign(Object.create(null) as object, {
    // 2 decimals
    USD: 2,
    CAD: 2,
    EUR: 2,
    GBP: 2,
    AUD: 2,
    NZD: 2,
    CHF: 2,
    SEK: 2,
    NOK: 2,
    DKK: 2,
    MXN: 2,
    BRL: 2,
    INR: 2,
    CNY: 2,
    HKD: 2,
    SGD: 2,
    // 0 decimals
    JPY: 0,
    KRW: 0,
    CLP: 0,
    ISK: 0,
    // 3 decimals
    KWD: 3,
    BHD: 3,
    JOD: 3,
    OMR: 3,
    TND: 3,
  } as const),
);

/** An upper-case ISO 4217 code this library knows the exponent of. */
export type CurrencyCode = keyof typeof EXPONENTS;

/** Every supported currency code, in table order. */
export const CURRENCY_CODES: readonly CurrencyCode[] = Object.freeze(Object.keys(EXPONENTS) as CurrencyCode[]);

/** True for a supported code, exactly as written (no case folding: `'usd'` is not a code, `Money.of` normalizes). */
export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && Object.hasOwn(EXPONENTS, value);
}

/** Number of decimal places of the currency's minor unit, e.g. 2 for USD (cents), 0 for JPY, 3 for KWD. */
export function minorUnits(code: CurrencyCode): number {
  // Re-checked at runtime because callers outside TypeScript (JSON, GraphQL) can pass anything.
  if (!isCurrencyCode(code)) {
    throw new MoneyError(`unknown currency '${String(code)}'`, 'MONEY_UNKNOWN_CURRENCY');
  }
  return EXPONENTS[code];
}

/** Upper-cases and validates a currency code; throws {@link MoneyError} for anything unsupported. */
export function toCurrencyCode(value: string): CurrencyCode {
  const code = typeof value === 'string' ? value.toUpperCase() : value;
  if (!isCurrencyCode(code)) {
    throw new MoneyError(`unknown currency '${String(value)}'`, 'MONEY_UNKNOWN_CURRENCY');
  }
  return code;
}
