import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

export enum IdentityErrorReason {
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  LOGIN_RATE_LIMITED = 'LOGIN_RATE_LIMITED',
  REFRESH_TOKEN_INVALID = 'REFRESH_TOKEN_INVALID',
  REFRESH_TOKEN_REUSED = 'REFRESH_TOKEN_REUSED',
  INVITATION_INVALID = 'INVITATION_INVALID',
  INVITATION_PENDING = 'INVITATION_PENDING',
  LAST_OWNER = 'LAST_OWNER',
  OWNER_ONLY = 'OWNER_ONLY',
}

const CODES: Record<IdentityErrorReason, ErrorCode> = {
  EMAIL_TAKEN: ErrorCode.CONFLICT,
  INVALID_CREDENTIALS: ErrorCode.UNAUTHENTICATED,
  LOGIN_RATE_LIMITED: ErrorCode.RATE_LIMITED,
  REFRESH_TOKEN_INVALID: ErrorCode.UNAUTHENTICATED,
  REFRESH_TOKEN_REUSED: ErrorCode.UNAUTHENTICATED,
  INVITATION_INVALID: ErrorCode.BAD_USER_INPUT,
  INVITATION_PENDING: ErrorCode.CONFLICT,
  LAST_OWNER: ErrorCode.CONFLICT,
  OWNER_ONLY: ErrorCode.FORBIDDEN,
};

/** The identity module's one error type: a reason from the enum, mapped to a stable GraphQL code. */
export class IdentityError extends ApplicationError {
  constructor(reason: IdentityErrorReason, message: string, extra?: Record<string, unknown>) {
    super(CODES[reason], message, reason, [], extra);
  }
}
