/** Machine-readable reason for a {@link MoneyError}, so callers can map it without parsing messages. */
export type MoneyErrorCode =
  | 'MONEY_INVALID_AMOUNT'
  | 'MONEY_UNKNOWN_CURRENCY'
  | 'MONEY_CURRENCY_MISMATCH'
  | 'MONEY_INVALID_ARGUMENT';

/**
 * Thrown for any misuse of the money library (bad amount, unknown currency, mixed currencies, bad ratios).
 * It is a programming or input error, never a transient one, so it is not meant to be retried.
 */
export class MoneyError extends Error {
  constructor(
    message: string,
    readonly code: MoneyErrorCode = 'MONEY_INVALID_ARGUMENT',
  ) {
    super(message);
    this.name = new.target.name;
  }
}
