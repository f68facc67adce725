import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

export enum PaymentsErrorReason {
  PAYMENT_NOT_FOUND = 'PAYMENT_NOT_FOUND',
  CUSTOMER_NOT_FOUND = 'CUSTOMER_NOT_FOUND',
  /** Bad input: `extensions.fields` names each field. */
  INVALID_INPUT = 'INVALID_INPUT',
  /** The same idempotency key was used before for another request (other amount, customer, method or invoices). */
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  /** The gateway refused the charge (declined card, returned debit); the message says why in words. */
  PAYMENT_DECLINED = 'PAYMENT_DECLINED',
  /** The payment's state forbids the action (e.g. refunding a failed payment, retrying a succeeded one). */
  INVALID_STATE = 'INVALID_STATE',
  /** The saved method cannot be charged (no consent, removed, expired). */
  METHOD_NOT_CHARGEABLE = 'METHOD_NOT_CHARGEABLE',
  /** More than was paid, summed over refunds. */
  REFUND_EXCEEDS_PAYMENT = 'REFUND_EXCEEDS_PAYMENT',
  /** The gateway did not answer; nothing was changed or the outcome is being checked. */
  GATEWAY_UNAVAILABLE = 'GATEWAY_UNAVAILABLE',
  // --- mass charge ---
  MASS_CHARGE_NOT_FOUND = 'MASS_CHARGE_NOT_FOUND',
  /** A listed customer id is not a customer of the organization (`fields` names each). */
  MASS_CHARGE_CUSTOMER_NOT_FOUND = 'MASS_CHARGE_CUSTOMER_NOT_FOUND',
  /** The mass charge has finished (or was cancelled): it cannot be resumed or cancelled. */
  MASS_CHARGE_FINISHED = 'MASS_CHARGE_FINISHED',
  // --- payment requests ---
  PAYMENT_REQUEST_NOT_FOUND = 'PAYMENT_REQUEST_NOT_FOUND',
  /** The request is no longer open (paid, expired, cancelled) or a payment on its link is in progress. */
  PAYMENT_REQUEST_CLOSED = 'PAYMENT_REQUEST_CLOSED',
  /** Only a paid (COMPLETED) request can be consolidated. */
  PAYMENT_REQUEST_NOT_PAID = 'PAYMENT_REQUEST_NOT_PAID',
  /** Only the staff member who created the request may do this (mark it read, cancel it unless OWNER/ADMIN/PAYMENT_MANAGER). */
  NOT_THE_CREATOR = 'NOT_THE_CREATOR',
}

const CODES: Record<PaymentsErrorReason, ErrorCode> = {
  PAYMENT_NOT_FOUND: ErrorCode.NOT_FOUND,
  CUSTOMER_NOT_FOUND: ErrorCode.NOT_FOUND,
  INVALID_INPUT: ErrorCode.BAD_USER_INPUT,
  IDEMPOTENCY_KEY_REUSED: ErrorCode.CONFLICT,
  PAYMENT_DECLINED: ErrorCode.BAD_USER_INPUT,
  INVALID_STATE: ErrorCode.CONFLICT,
  METHOD_NOT_CHARGEABLE: ErrorCode.BAD_USER_INPUT,
  REFUND_EXCEEDS_PAYMENT: ErrorCode.CONFLICT,
  GATEWAY_UNAVAILABLE: ErrorCode.SERVICE_UNAVAILABLE,
  MASS_CHARGE_NOT_FOUND: ErrorCode.NOT_FOUND,
  MASS_CHARGE_CUSTOMER_NOT_FOUND: ErrorCode.NOT_FOUND,
  MASS_CHARGE_FINISHED: ErrorCode.CONFLICT,
  PAYMENT_REQUEST_NOT_FOUND: ErrorCode.NOT_FOUND,
  PAYMENT_REQUEST_CLOSED: ErrorCode.CONFLICT,
  PAYMENT_REQUEST_NOT_PAID: ErrorCode.CONFLICT,
  NOT_THE_CREATOR: ErrorCode.FORBIDDEN,
};

/** The payments module's one error type: a reason from the enum, mapped to a stable GraphQL code. */
export class PaymentsError extends ApplicationError {
  constructor(reason: PaymentsErrorReason, message: string, field?: string | FieldProblem[], extra?: Record<string, unknown>) {
    const fields = Array.isArray(field) ? field : field ? [{ field, message }] : [];
    super(CODES[reason], message, reason, fields, extra);
  }

  static override notFound(id?: string): PaymentsError {
    return new PaymentsError(PaymentsErrorReason.PAYMENT_NOT_FOUND, id ? `Payment ${id} was not found` : 'Payment was not found');
  }

  static invalid(problems: FieldProblem[]): PaymentsError {
    return new PaymentsError(PaymentsErrorReason.INVALID_INPUT, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
  }
}
