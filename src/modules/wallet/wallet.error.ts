import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

export enum WalletErrorReason {
  NOT_FOUND = 'NOT_FOUND',
  CUSTOMER_ARCHIVED = 'CUSTOMER_ARCHIVED',
  BILLING_ADDRESS_REQUIRED = 'BILLING_ADDRESS_REQUIRED',
  LIMIT_REACHED = 'LIMIT_REACHED',
  TOKEN_INVALID = 'TOKEN_INVALID',
  DECLINED = 'DECLINED',
  AUTHENTICATION_REQUIRED = 'AUTHENTICATION_REQUIRED',
  GATEWAY_UNAVAILABLE = 'GATEWAY_UNAVAILABLE',
  CONSENT_REQUIRED = 'CONSENT_REQUIRED',
  NOT_A_CARD = 'NOT_A_CARD',
  METHOD_REMOVED = 'METHOD_REMOVED',
  CARD_EXPIRED = 'CARD_EXPIRED',
  EXPIRY_INVALID = 'EXPIRY_INVALID',
  ALREADY_IN_STATE = 'ALREADY_IN_STATE',
  /** A payment profile request that was completed, cancelled or expired cannot be changed. */
  PROFILE_REQUEST_CLOSED = 'PROFILE_REQUEST_CLOSED',
  /** Only the sender of a payment profile request, or an OWNER, ADMIN or PAYMENT_MANAGER, may cancel it. */
  NOT_THE_SENDER = 'NOT_THE_SENDER',
}

const CODES: Record<WalletErrorReason, ErrorCode> = {
  NOT_FOUND: ErrorCode.NOT_FOUND,
  CUSTOMER_ARCHIVED: ErrorCode.CONFLICT,
  BILLING_ADDRESS_REQUIRED: ErrorCode.BAD_USER_INPUT,
  LIMIT_REACHED: ErrorCode.CONFLICT,
  TOKEN_INVALID: ErrorCode.BAD_USER_INPUT,
  DECLINED: ErrorCode.BAD_USER_INPUT,
  AUTHENTICATION_REQUIRED: ErrorCode.BAD_USER_INPUT,
  GATEWAY_UNAVAILABLE: ErrorCode.SERVICE_UNAVAILABLE,
  CONSENT_REQUIRED: ErrorCode.CONFLICT,
  NOT_A_CARD: ErrorCode.BAD_USER_INPUT,
  METHOD_REMOVED: ErrorCode.CONFLICT,
  CARD_EXPIRED: ErrorCode.CONFLICT,
  EXPIRY_INVALID: ErrorCode.BAD_USER_INPUT,
  ALREADY_IN_STATE: ErrorCode.CONFLICT,
  PROFILE_REQUEST_CLOSED: ErrorCode.CONFLICT,
  NOT_THE_SENDER: ErrorCode.FORBIDDEN,
};

/** The wallet module's one error type: a reason from the enum, mapped to a stable GraphQL code. */
export class WalletError extends ApplicationError {
  constructor(reason: WalletErrorReason, message: string, field?: string, extra?: Record<string, unknown>) {
    super(CODES[reason], message, reason, field ? [{ field, message }] : [], extra);
  }

  static override notFound(id: string): WalletError {
    return new WalletError(WalletErrorReason.NOT_FOUND, `Payment method ${id} was not found`);
  }
}
