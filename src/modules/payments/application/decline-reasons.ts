import { GatewayErrorCode } from '../../../infra/payment-gateway/index.js';

/**
 * A refusal in words a person understands, for the staff member at the counter, the customer's PAYMENT_FAILED
 * message and the Payment Action Center: "The card has insufficient funds." The gateway's own message is kept on the
 * attempt (failureMessage there is ours too; gatewayCode keeps the raw decline_code).
 */
export type DeclinedMethod = 'CARD' | 'BANK_ACCOUNT';

const BY_CODE: Record<GatewayErrorCode, (method: DeclinedMethod) => string> = {
  [GatewayErrorCode.CARD_DECLINED]: () => 'The card was declined by its bank.',
  [GatewayErrorCode.INSUFFICIENT_FUNDS]: (m) => (m === 'CARD' ? 'The card has insufficient funds.' : 'The bank account has insufficient funds.'),
  [GatewayErrorCode.EXPIRED_CARD]: () => 'The card has expired.',
  [GatewayErrorCode.INCORRECT_CVC]: () => "The card's security code (CVC) is incorrect.",
  [GatewayErrorCode.INCORRECT_NUMBER]: () => 'The card number is incorrect.',
  [GatewayErrorCode.AUTHENTICATION_REQUIRED]: () =>
    "The card's bank asks the customer to confirm this payment themselves (3-D Secure); ask them to pay with a payment link.",
  [GatewayErrorCode.BANK_ACCOUNT_REJECTED]: () => 'The bank refused the debit (the account may be closed or the debit not authorized).',
  [GatewayErrorCode.NOT_A_TEST_NUMBER]: () => 'The sandbox accepts only test card numbers; nothing was charged.',
  [GatewayErrorCode.NOT_FOUND]: (m) => (m === 'CARD' ? 'The card can no longer be charged; ask the customer for a new one.' : 'The bank account can no longer be debited; ask the customer for another payment method.'),
  [GatewayErrorCode.INVALID_REQUEST]: () => 'The payment gateway refused the request.',
  [GatewayErrorCode.UNAVAILABLE]: () => 'The payment gateway did not answer; the outcome is being checked.',
};

/** Decline codes (Stripe's decline_code) that say more than their GatewayErrorCode. */
const BY_GATEWAY_CODE: Record<string, string> = {
  lost_card: 'The card was reported lost; ask the customer for another card.',
  stolen_card: 'The card was reported stolen; ask the customer for another card.',
  card_velocity_exceeded: 'The card has reached its spending limit.',
  withdrawal_count_limit_exceeded: 'The card has reached its spending limit.',
  do_not_honor: 'The card was declined by its bank; the customer should call their bank.',
  account_closed: 'The bank account is closed.',
  no_account: 'The bank account does not exist.',
  debit_not_authorized: 'The customer told their bank this debit was not authorized.',
};

/** Our sentence for a refusal; `code` is GatewayErrorCode (or our own failure code), `gatewayCode` Stripe's decline_code. */
export function declineReason(code: string, gatewayCode: string | null, method: DeclinedMethod): string {
  if (gatewayCode && BY_GATEWAY_CODE[gatewayCode]) return BY_GATEWAY_CODE[gatewayCode];
  const words = BY_CODE[code as GatewayErrorCode];
  return words ? words(method) : 'The payment was refused.';
}
