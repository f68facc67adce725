/**
 * The error codes every client can rely on (GraphQL `extensions.code`).
 * Modules define their own error class with an enum of specific reasons, each mapped to one of these.
 */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  /** An outside service (the payment gateway) did not answer; nothing was changed, try again later. */
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export interface FieldProblem {
  /** Dotted path of the input field, e.g. `input.email`. */
  field: string;
  message: string;
}

/** Base class of every error meant to reach a client with a stable code and a human message. */
export class ApplicationError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** A machine-readable reason within the module, e.g. `INVITATION_EXPIRED`. */
    readonly reason?: string,
    readonly fields: FieldProblem[] = [],
    /** Further extensions for the client, e.g. `retryAfterSeconds`. */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }

  static notFound(what: string, id?: string): ApplicationError {
    return new ApplicationError(ErrorCode.NOT_FOUND, id ? `${what} ${id} was not found` : `${what} was not found`, 'NOT_FOUND');
  }

  static badInput(field: string, message: string, reason = 'INVALID_INPUT'): ApplicationError {
    return new ApplicationError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, reason, [{ field, message }]);
  }
}
