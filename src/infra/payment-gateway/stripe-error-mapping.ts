import { GatewayError, GatewayErrorCode } from './payment-gateway.js';

/** The parts of a Stripe error body (`{ error: { type, code, decline_code, message, param } }`) we act on. */
export interface StripeErrorFields {
  /** card_error, invalid_request_error, api_error, authentication_error, rate_limit_error, idempotency_error, ... */
  type?: string | null;
  code?: string | null;
  decline_code?: string | null;
  message?: string | null;
  param?: string | null;
  /** The HTTP status, when there was a response. */
  statusCode?: number | null;
}

const DECLINE_CODES: Record<string, GatewayErrorCode> = {
  insufficient_funds: GatewayErrorCode.INSUFFICIENT_FUNDS,
  expired_card: GatewayErrorCode.EXPIRED_CARD,
  incorrect_cvc: GatewayErrorCode.INCORRECT_CVC,
  incorrect_number: GatewayErrorCode.INCORRECT_NUMBER,
  invalid_number: GatewayErrorCode.INCORRECT_NUMBER,
  authentication_required: GatewayErrorCode.AUTHENTICATION_REQUIRED,
};

/** Stripe's `code` values that say the bank (not the request) refused an account. */
const BANK_CODES = new Set([
  'bank_account_declined',
  'bank_account_unusable',
  'bank_account_restricted',
  'bank_account_verification_failed',
  'account_closed',
  'no_account',
  'debit_not_authorized',
]);

const FORMAT_CODES = new Set(['invalid_expiry_month', 'invalid_expiry_year', 'invalid_cvc']);

/**
 * One mapping from Stripe's error vocabulary to ours, used by the Stripe adapter (errors from the SDK) and by the
 * sandbox (which speaks the same vocabulary), so both gateways refuse the same test card with the same code.
 * `decline_code` is more specific than `code` (a `card_declined` may say `insufficient_funds`), so it wins.
 */
export function gatewayErrorFromStripe(e: StripeErrorFields): GatewayError {
  const message = e.message?.trim() || 'The payment gateway refused the request';
  const status = e.statusCode ?? 0;
  const gatewayCode = e.decline_code || e.code || e.type || null;

  if (e.type === 'api_error' || e.type === 'rate_limit_error' || status === 429 || status >= 500) {
    return new GatewayError(GatewayErrorCode.UNAVAILABLE, message, gatewayCode, true);
  }
  if (e.type === 'idempotency_error' && status === 409) {
    // Not a refusal of the charge: another request under the same key is still in flight (the janitor and a slow
    // sender, two runs). That request may well charge, so the outcome is unknown and worth asking again — never a
    // FAILED payment that would hide money taken. (A key reused with other parameters, a 400, is our request's fault
    // and stays INVALID_REQUEST, as the contract tests say for both gateways.)
    return new GatewayError(GatewayErrorCode.UNAVAILABLE, message, 'idempotency_error', true);
  }
  if (e.type === 'authentication_error' || e.type === 'permission_error' || status === 401 || status === 403) {
    // Our configuration, not the customer's method: retrying will not help until STRIPE_SECRET_KEY is fixed.
    return new GatewayError(
      GatewayErrorCode.UNAVAILABLE,
      `The payment gateway refused Settle's credentials (check STRIPE_SECRET_KEY): ${message}`,
      gatewayCode,
      false,
    );
  }
  if (e.code === 'resource_missing') return new GatewayError(GatewayErrorCode.NOT_FOUND, message, 'resource_missing');
  if (e.code === 'not_a_test_number') return new GatewayError(GatewayErrorCode.NOT_A_TEST_NUMBER, message, 'not_a_test_number');
  if ((e.code && BANK_CODES.has(e.code)) || (e.decline_code && BANK_CODES.has(e.decline_code))) {
    return new GatewayError(GatewayErrorCode.BANK_ACCOUNT_REJECTED, message, gatewayCode);
  }
  // Malformed details (a month of 13, a CVC of 2 digits) are the request's fault, not a decline.
  if (e.code && FORMAT_CODES.has(e.code)) return new GatewayError(GatewayErrorCode.INVALID_REQUEST, message, e.code);
  const specific = (e.decline_code && DECLINE_CODES[e.decline_code]) || (e.code && DECLINE_CODES[e.code]);
  if (specific) return new GatewayError(specific, message, gatewayCode);
  if (e.type === 'card_error' || e.code === 'card_declined') {
    return new GatewayError(GatewayErrorCode.CARD_DECLINED, message, gatewayCode);
  }
  return new GatewayError(GatewayErrorCode.INVALID_REQUEST, message, gatewayCode);
}
