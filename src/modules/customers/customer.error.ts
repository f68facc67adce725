import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

export enum CustomerErrorReason {
  NOT_FOUND = 'NOT_FOUND',
  MEMBER_NOT_FOUND = 'MEMBER_NOT_FOUND',
  /** One or more fields are invalid; `extensions.fields` names each. */
  INVALID_INPUT = 'INVALID_INPUT',
  EXTERNAL_REFERENCE_TAKEN = 'EXTERNAL_REFERENCE_TAKEN',
  /** The customer is archived: reactivate them before changing their status. */
  CUSTOMER_ARCHIVED = 'CUSTOMER_ARCHIVED',
  /** A customer with saved payment methods keeps a billing address. */
  BILLING_ADDRESS_REQUIRED = 'BILLING_ADDRESS_REQUIRED',
  MEMBER_LIMIT_REACHED = 'MEMBER_LIMIT_REACHED',
}

const CODES: Record<CustomerErrorReason, ErrorCode> = {
  NOT_FOUND: ErrorCode.NOT_FOUND,
  MEMBER_NOT_FOUND: ErrorCode.NOT_FOUND,
  INVALID_INPUT: ErrorCode.BAD_USER_INPUT,
  EXTERNAL_REFERENCE_TAKEN: ErrorCode.CONFLICT,
  CUSTOMER_ARCHIVED: ErrorCode.CONFLICT,
  BILLING_ADDRESS_REQUIRED: ErrorCode.CONFLICT,
  MEMBER_LIMIT_REACHED: ErrorCode.CONFLICT,
};

/** The customers module's one error type: a reason from the enum, mapped to a stable GraphQL code. */
export class CustomerError extends ApplicationError {
  constructor(reason: CustomerErrorReason, message: string, fields: FieldProblem[] = [], extra?: Record<string, unknown>) {
    super(CODES[reason], message, reason, fields, extra);
  }

  /** "Customer <id> was not found" (also for another organization's customer: whether it exists is not revealed). */
  static customerNotFound(id?: string): CustomerError {
    return new CustomerError(CustomerErrorReason.NOT_FOUND, id ? `Customer ${id} was not found` : 'Customer was not found');
  }

  static memberNotFound(id?: string): CustomerError {
    return new CustomerError(
      CustomerErrorReason.MEMBER_NOT_FOUND,
      id ? `Customer member ${id} was not found` : 'Customer member was not found',
    );
  }

  /** BAD_USER_INPUT naming every field that is wrong: "email: ...; phone: ...". */
  static invalid(problems: FieldProblem[]): CustomerError {
    return new CustomerError(
      CustomerErrorReason.INVALID_INPUT,
      problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      problems,
    );
  }
}
