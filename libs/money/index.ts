export { Money, type MoneyJson, type RoundingMode } from './money.js';
export { MoneyError, type MoneyErrorCode } from './money.error.js';
export { CURRENCY_CODES, isCurrencyCode, minorUnits, toCurrencyCode, type CurrencyCode } from './currency.js';
