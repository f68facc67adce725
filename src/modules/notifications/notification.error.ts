import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

export enum NotificationErrorReason {
  MISSING_EMAIL = 'MISSING_EMAIL',
  MISSING_PHONE = 'MISSING_PHONE',
  INVALID_PHONE = 'INVALID_PHONE',
  INVALID_EMAIL = 'INVALID_EMAIL',
  NO_CHANNEL = 'NO_CHANNEL',
  TEMPLATE_MISSING_PLACEHOLDER = 'TEMPLATE_MISSING_PLACEHOLDER',
  TEMPLATE_UNKNOWN_PLACEHOLDER = 'TEMPLATE_UNKNOWN_PLACEHOLDER',
  TEMPLATE_INVALID = 'TEMPLATE_INVALID',
  NOT_RESENDABLE = 'NOT_RESENDABLE',
}

const CODES: Record<NotificationErrorReason, ErrorCode> = {
  MISSING_EMAIL: ErrorCode.BAD_USER_INPUT,
  MISSING_PHONE: ErrorCode.BAD_USER_INPUT,
  INVALID_PHONE: ErrorCode.BAD_USER_INPUT,
  INVALID_EMAIL: ErrorCode.BAD_USER_INPUT,
  NO_CHANNEL: ErrorCode.BAD_USER_INPUT,
  TEMPLATE_MISSING_PLACEHOLDER: ErrorCode.BAD_USER_INPUT,
  TEMPLATE_UNKNOWN_PLACEHOLDER: ErrorCode.BAD_USER_INPUT,
  TEMPLATE_INVALID: ErrorCode.BAD_USER_INPUT,
  NOT_RESENDABLE: ErrorCode.CONFLICT,
};

/** The notifications module's one error type. */
export class NotificationError extends ApplicationError {
  constructor(reason: NotificationErrorReason, message: string, field?: string) {
    super(CODES[reason], message, reason, field ? [{ field, message }] : []);
  }
}
