import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

export enum InvoicingErrorReason {
  INVOICE_NOT_FOUND = 'INVOICE_NOT_FOUND',
  CREDIT_NOT_FOUND = 'CREDIT_NOT_FOUND',
  PAYMENT_NOT_FOUND = 'PAYMENT_NOT_FOUND',
  CUSTOMER_NOT_FOUND = 'CUSTOMER_NOT_FOUND',
  RECEIPT_NOT_FOUND = 'RECEIPT_NOT_FOUND',
  /** Bad input: `extensions.fields` names each field. */
  INVALID_INPUT = 'INVALID_INPUT',
  /** An amount is not in the organization's currency. */
  CURRENCY_MISMATCH = 'CURRENCY_MISMATCH',
  /** Only a draft can be edited or issued: an issued invoice is immutable (correct it with a credit note). */
  INVOICE_NOT_DRAFT = 'INVOICE_NOT_DRAFT',
  /** An invoice needs at least one line to be issued. */
  EMPTY_INVOICE = 'EMPTY_INVOICE',
  /** An invoice must total more than zero to be issued. */
  TOTAL_NOT_POSITIVE = 'TOTAL_NOT_POSITIVE',
  /** Its due date is before the day it would be issued. */
  DUE_BEFORE_ISSUE = 'DUE_BEFORE_ISSUE',
  /** Payments or credits settle part of it: reverse them first. */
  VOID_NOT_ALLOWED_WHEN_PAID = 'VOID_NOT_ALLOWED_WHEN_PAID',
  ALREADY_VOID = 'ALREADY_VOID',
  /** Drafts and voided invoices take no payment, credit or credit note. */
  INVOICE_NOT_ISSUED = 'INVOICE_NOT_ISSUED',
  /** More than the invoice still owes. */
  ALLOCATION_EXCEEDS_DUE = 'ALLOCATION_EXCEEDS_DUE',
  /** More than the payment has left to allocate. */
  ALLOCATION_EXCEEDS_PAYMENT = 'ALLOCATION_EXCEEDS_PAYMENT',
  /** More than the credit has left. */
  CREDIT_EXCEEDS_REMAINING = 'CREDIT_EXCEEDS_REMAINING',
  /** Credit notes against an invoice may not add up to more than it billed. */
  CREDIT_NOTE_EXCEEDS_INVOICE = 'CREDIT_NOTE_EXCEEDS_INVOICE',
  /** A payment or credit of one customer cannot settle another customer's invoice. */
  CUSTOMER_MISMATCH = 'CUSTOMER_MISMATCH',
  CUSTOMER_ARCHIVED = 'CUSTOMER_ARCHIVED',
  /** The payment was reversed: nothing more can be allocated from it. */
  PAYMENT_REVERSED = 'PAYMENT_REVERSED',
  /** The credit was cancelled (its source payment was reversed). */
  CREDIT_CANCELLED = 'CREDIT_CANCELLED',
  /** The same payment id was recorded before with another customer or amount. */
  PAYMENT_ID_CONFLICT = 'PAYMENT_ID_CONFLICT',
  /** Nothing of the payment is left to turn into account credit. */
  NOTHING_UNALLOCATED = 'NOTHING_UNALLOCATED',
  MASS_INVOICE_NOT_FOUND = 'MASS_INVOICE_NOT_FOUND',
  /** The mass invoice is completed or cancelled: it cannot be resumed or cancelled again. */
  MASS_INVOICE_FINISHED = 'MASS_INVOICE_FINISHED',
  // Installment plans
  INSTALLMENT_PLAN_NOT_FOUND = 'INSTALLMENT_PLAN_NOT_FOUND',
  INSTALLMENT_NOT_FOUND = 'INSTALLMENT_NOT_FOUND',
  /** The invoice is already covered by an active installment plan (cancel that one first). */
  INSTALLMENT_PLAN_EXISTS = 'INSTALLMENT_PLAN_EXISTS',
  /** The invoice or balance owes nothing (or everything it owes is already under a plan). */
  NOTHING_OWED = 'NOTHING_OWED',
  /** The saved method cannot be charged without the customer: removed, expired, or no consent to future charges. */
  PAYMENT_METHOD_NOT_CHARGEABLE = 'PAYMENT_METHOD_NOT_CHARGEABLE',
  /** Custom installments that do not add up to what is owed; the message names the difference. */
  INSTALLMENTS_DO_NOT_ADD_UP = 'INSTALLMENTS_DO_NOT_ADD_UP',
  /** The plan is completed or cancelled. */
  INSTALLMENT_PLAN_NOT_ACTIVE = 'INSTALLMENT_PLAN_NOT_ACTIVE',
  /** Only a SCHEDULED installment can be skipped or rescheduled. */
  INSTALLMENT_NOT_SCHEDULED = 'INSTALLMENT_NOT_SCHEDULED',
  /** The last scheduled installment has no later one to take its amount. */
  LAST_INSTALLMENT_NOT_SKIPPABLE = 'LAST_INSTALLMENT_NOT_SKIPPABLE',
  /** Staff reverse only offline payments; a card or bank payment is reversed by Payments (refund, returned debit). */
  PAYMENT_NOT_OFFLINE = 'PAYMENT_NOT_OFFLINE',
}

const CODES: Record<InvoicingErrorReason, ErrorCode> = {
  INVOICE_NOT_FOUND: ErrorCode.NOT_FOUND,
  CREDIT_NOT_FOUND: ErrorCode.NOT_FOUND,
  PAYMENT_NOT_FOUND: ErrorCode.NOT_FOUND,
  CUSTOMER_NOT_FOUND: ErrorCode.NOT_FOUND,
  RECEIPT_NOT_FOUND: ErrorCode.NOT_FOUND,
  INVALID_INPUT: ErrorCode.BAD_USER_INPUT,
  CURRENCY_MISMATCH: ErrorCode.BAD_USER_INPUT,
  INVOICE_NOT_DRAFT: ErrorCode.CONFLICT,
  EMPTY_INVOICE: ErrorCode.CONFLICT,
  TOTAL_NOT_POSITIVE: ErrorCode.CONFLICT,
  DUE_BEFORE_ISSUE: ErrorCode.CONFLICT,
  VOID_NOT_ALLOWED_WHEN_PAID: ErrorCode.CONFLICT,
  ALREADY_VOID: ErrorCode.CONFLICT,
  INVOICE_NOT_ISSUED: ErrorCode.CONFLICT,
  ALLOCATION_EXCEEDS_DUE: ErrorCode.CONFLICT,
  ALLOCATION_EXCEEDS_PAYMENT: ErrorCode.CONFLICT,
  CREDIT_EXCEEDS_REMAINING: ErrorCode.CONFLICT,
  CREDIT_NOTE_EXCEEDS_INVOICE: ErrorCode.CONFLICT,
  CUSTOMER_MISMATCH: ErrorCode.BAD_USER_INPUT,
  CUSTOMER_ARCHIVED: ErrorCode.CONFLICT,
  PAYMENT_REVERSED: ErrorCode.CONFLICT,
  CREDIT_CANCELLED: ErrorCode.CONFLICT,
  PAYMENT_ID_CONFLICT: ErrorCode.CONFLICT,
  NOTHING_UNALLOCATED: ErrorCode.CONFLICT,
  MASS_INVOICE_NOT_FOUND: ErrorCode.NOT_FOUND,
  MASS_INVOICE_FINISHED: ErrorCode.CONFLICT,
  INSTALLMENT_PLAN_NOT_FOUND: ErrorCode.NOT_FOUND,
  INSTALLMENT_NOT_FOUND: ErrorCode.NOT_FOUND,
  INSTALLMENT_PLAN_EXISTS: ErrorCode.CONFLICT,
  NOTHING_OWED: ErrorCode.CONFLICT,
  PAYMENT_METHOD_NOT_CHARGEABLE: ErrorCode.CONFLICT,
  INSTALLMENTS_DO_NOT_ADD_UP: ErrorCode.BAD_USER_INPUT,
  INSTALLMENT_PLAN_NOT_ACTIVE: ErrorCode.CONFLICT,
  INSTALLMENT_NOT_SCHEDULED: ErrorCode.CONFLICT,
  LAST_INSTALLMENT_NOT_SKIPPABLE: ErrorCode.CONFLICT,
  PAYMENT_NOT_OFFLINE: ErrorCode.CONFLICT,
};

/**
 * The invoicing module's one error type: a reason from the enum, mapped to a stable GraphQL code. Messages name the
 * field and the amounts involved; `field`, when given, is also listed in `extensions.fields`.
 */
export class InvoicingError extends ApplicationError {
  constructor(reason: InvoicingErrorReason, message: string, field?: string | FieldProblem[], extra?: Record<string, unknown>) {
    const fields = Array.isArray(field) ? field : field ? [{ field, message }] : [];
    super(CODES[reason], message, reason, fields, extra);
  }

  static invoiceNotFound(id?: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.INVOICE_NOT_FOUND, id ? `Invoice ${id} was not found` : 'Invoice was not found');
  }

  static creditNotFound(id?: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.CREDIT_NOT_FOUND, id ? `Credit ${id} was not found` : 'Credit was not found');
  }

  static paymentNotFound(id?: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.PAYMENT_NOT_FOUND, id ? `Payment ${id} was not found` : 'Payment was not found');
  }

  /** BAD_USER_INPUT naming every field that is wrong: "lines.0.quantity: ...; dueDate: ...". */
  static invalid(problems: FieldProblem[]): InvoicingError {
    return new InvoicingError(
      InvoicingErrorReason.INVALID_INPUT,
      problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      problems,
    );
  }
}
