import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

export enum AgreementsErrorReason {
  AGREEMENT_NOT_FOUND = 'AGREEMENT_NOT_FOUND',
  WORK_ORDER_NOT_FOUND = 'WORK_ORDER_NOT_FOUND',
  CUSTOMER_NOT_FOUND = 'CUSTOMER_NOT_FOUND',
  /** Bad input: `extensions.fields` names each field. */
  INVALID_INPUT = 'INVALID_INPUT',
  /** The agreement's status does not allow this transition; `extensions.from` / `extensions.to` name them. */
  ILLEGAL_TRANSITION = 'ILLEGAL_TRANSITION',
  /** Only a QUOTE can be edited. */
  NOT_A_QUOTE = 'NOT_A_QUOTE',
  CUSTOMER_ARCHIVED = 'CUSTOMER_ARCHIVED',
  /** The customer has no email or phone for the sign-up link or a notice. */
  NO_CONTACT = 'NO_CONTACT',
  /** The agreement's saved method cannot be charged off-session (none, removed, expired, or no consent). */
  PAYMENT_METHOD_NOT_CHARGEABLE = 'PAYMENT_METHOD_NOT_CHARGEABLE',
  /** An open-ended agreement has nothing to renew. */
  NOT_RENEWABLE = 'NOT_RENEWABLE',
  /** The work order's status does not allow it (completed, cancelled, suspended, ...). */
  WORK_ORDER_STATE = 'WORK_ORDER_STATE',
  /** The agreement already has a visit on that date. */
  WORK_ORDER_EXISTS = 'WORK_ORDER_EXISTS',
  /** The work order already has its invoice. */
  WORK_ORDER_ALREADY_INVOICED = 'WORK_ORDER_ALREADY_INVOICED',
  /** Dunning: the agreement still has overdue invoices its policy suspends for (`extensions.invoiceIds`). */
  AGREEMENT_OVERDUE = 'AGREEMENT_OVERDUE',
  /** Billing runs: the run has finished; start a new one. */
  BILLING_RUN_FINISHED = 'BILLING_RUN_FINISHED',
}

const CODES: Record<AgreementsErrorReason, ErrorCode> = {
  AGREEMENT_NOT_FOUND: ErrorCode.NOT_FOUND,
  WORK_ORDER_NOT_FOUND: ErrorCode.NOT_FOUND,
  CUSTOMER_NOT_FOUND: ErrorCode.NOT_FOUND,
  INVALID_INPUT: ErrorCode.BAD_USER_INPUT,
  ILLEGAL_TRANSITION: ErrorCode.CONFLICT,
  NOT_A_QUOTE: ErrorCode.CONFLICT,
  CUSTOMER_ARCHIVED: ErrorCode.CONFLICT,
  NO_CONTACT: ErrorCode.BAD_USER_INPUT,
  PAYMENT_METHOD_NOT_CHARGEABLE: ErrorCode.CONFLICT,
  NOT_RENEWABLE: ErrorCode.CONFLICT,
  WORK_ORDER_STATE: ErrorCode.CONFLICT,
  WORK_ORDER_EXISTS: ErrorCode.CONFLICT,
  WORK_ORDER_ALREADY_INVOICED: ErrorCode.CONFLICT,
  AGREEMENT_OVERDUE: ErrorCode.CONFLICT,
  BILLING_RUN_FINISHED: ErrorCode.CONFLICT,
};

/** The agreements module's one error type: a reason from the enum, mapped to a stable GraphQL code. */
export class AgreementsError extends ApplicationError {
  constructor(reason: AgreementsErrorReason, message: string, field?: string | FieldProblem[], extra?: Record<string, unknown>) {
    const fields = Array.isArray(field) ? field : field ? [{ field, message }] : [];
    super(CODES[reason], message, reason, fields, extra);
  }

  static agreementNotFound(id?: string): AgreementsError {
    return new AgreementsError(AgreementsErrorReason.AGREEMENT_NOT_FOUND, id ? `Agreement ${id} was not found` : 'Agreement was not found');
  }

  static workOrderNotFound(id?: string): AgreementsError {
    return new AgreementsError(AgreementsErrorReason.WORK_ORDER_NOT_FOUND, id ? `Work order ${id} was not found` : 'Work order was not found');
  }

  /** BAD_USER_INPUT naming every field that is wrong. Nothing was written. */
  static invalid(problems: FieldProblem[]): AgreementsError {
    return new AgreementsError(AgreementsErrorReason.INVALID_INPUT, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
  }
}
