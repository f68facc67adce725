import { GatewayError, GatewayErrorCode } from '../../../infra/payment-gateway/index.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';

const DECLINE_MESSAGES: Partial<Record<GatewayErrorCode, string>> = {
  [GatewayErrorCode.CARD_DECLINED]: 'The card was declined by the bank; ask the customer for another card',
  [GatewayErrorCode.INSUFFICIENT_FUNDS]: 'The card was declined for insufficient funds',
  [GatewayErrorCode.EXPIRED_CARD]: 'The card has expired; check the expiry date or use another card',
  [GatewayErrorCode.INCORRECT_CVC]: "The card's security code (CVC) is incorrect",
  [GatewayErrorCode.INCORRECT_NUMBER]: 'The card number is incorrect',
  [GatewayErrorCode.BANK_ACCOUNT_REJECTED]: 'The bank refused the account',
};

/** A gateway refusal as the wallet's error, with a reason a person can act on. */
export function gatewayFailure(error: GatewayError, field = 'token'): WalletError {
  const extra = { gatewayCode: error.gatewayCode ?? error.code };
  switch (error.code) {
    case GatewayErrorCode.UNAVAILABLE:
      return new WalletError(
        WalletErrorReason.GATEWAY_UNAVAILABLE,
        'The payment processor did not answer; nothing was saved. Try again in a moment.',
        undefined,
        extra,
      );
    case GatewayErrorCode.AUTHENTICATION_REQUIRED:
      return new WalletError(
        WalletErrorReason.AUTHENTICATION_REQUIRED,
        "The customer's bank requires them to authenticate this card: send them a payment profile request so they can save it themselves",
        field,
        extra,
      );
    case GatewayErrorCode.NOT_FOUND:
    case GatewayErrorCode.INVALID_REQUEST:
    case GatewayErrorCode.NOT_A_TEST_NUMBER:
      return new WalletError(WalletErrorReason.TOKEN_INVALID, `${field}: ${error.message}`, field, extra);
    default:
      return new WalletError(
        WalletErrorReason.DECLINED,
        `${DECLINE_MESSAGES[error.code] ?? 'The payment method was refused'} (${error.message})`,
        field,
        extra,
      );
  }
}
