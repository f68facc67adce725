import { registerEnumType } from '@nestjs/graphql';

/** Every message the product sends. Each has default templates and a list of placeholders. */
export enum MessageKind {
  RECEIPT = 'RECEIPT',
  PAYMENT_FAILED = 'PAYMENT_FAILED',
  PAYMENT_REQUEST = 'PAYMENT_REQUEST',
  PAYMENT_PROFILE_REQUEST = 'PAYMENT_PROFILE_REQUEST',
  PAYMENT_METHOD_SAVED = 'PAYMENT_METHOD_SAVED',
  /** A service agreement to review and sign: a link to the hosted sign-up page. */
  AGREEMENT_SIGNUP = 'AGREEMENT_SIGNUP',
  AGREEMENT_APPROVED = 'AGREEMENT_APPROVED',
  AGREEMENT_SUSPENDED = 'AGREEMENT_SUSPENDED',
  AGREEMENT_REACTIVATED = 'AGREEMENT_REACTIVATED',
  RENEWAL_NOTICE = 'RENEWAL_NOTICE',
  UPCOMING_INSTALLMENT = 'UPCOMING_INSTALLMENT',
  /** A saved card is expiring or expired: a link to replace it. */
  CARD_EXPIRING = 'CARD_EXPIRING',
  /** Money given back from a payment (a full or partial refund). */
  REFUND_ISSUED = 'REFUND_ISSUED',
  /** A bank debit cancelled before it settled: nothing will be taken. */
  PAYMENT_CANCELLED = 'PAYMENT_CANCELLED',
  /** In-app (and optionally email) messages to staff. */
  STAFF_ALERT = 'STAFF_ALERT',
}
registerEnumType(MessageKind, { name: 'MessageKind', description: 'A kind of message Settle sends' });

export enum Channel {
  EMAIL = 'EMAIL',
  SMS = 'SMS',
}
registerEnumType(Channel, { name: 'Channel' });

/**
 * Placeholders, as written in templates. Values are supplied by the module that sends the message; amounts and
 * dates are formatted in the organization's locale, currency and time zone.
 */
export const Placeholder = {
  CUSTOMER_NAME: '{Customer Name}',
  ORGANIZATION_NAME: '{Organization Name}',
  AMOUNT: '{Amount}',
  DATE: '{Date}',
  DUE_DATE: '{Due Date}',
  REFERENCE: '{Reference}',
  DESCRIPTION: '{Description}',
  SECURE_LINK: '{Secure Link}',
  EXPIRES_AT: '{Expires At}',
  REASON: '{Reason}',
  PAYMENT_METHOD: '{Payment Method}',
  AGREEMENT_NAME: '{Agreement Name}',
  END_DATE: '{End Date}',
  TITLE: '{Title}',
  BODY: '{Body}',
} as const;
export type PlaceholderToken = (typeof Placeholder)[keyof typeof Placeholder];

export interface KindSpec {
  /** Marketing notices respect a customer's opt-out; transactional ones do not. */
  marketing: boolean;
  /** Placeholders a saved template must keep (a message without them is useless). */
  required: PlaceholderToken[];
  /** Placeholders a template may use. */
  available: PlaceholderToken[];
}

const P = Placeholder;
const COMMON: PlaceholderToken[] = [P.CUSTOMER_NAME, P.ORGANIZATION_NAME];

export const KIND_SPECS: Record<MessageKind, KindSpec> = {
  RECEIPT: { marketing: false, required: [P.AMOUNT], available: [...COMMON, P.AMOUNT, P.DATE, P.REFERENCE, P.DESCRIPTION, P.PAYMENT_METHOD, P.SECURE_LINK] },
  PAYMENT_FAILED: { marketing: false, required: [P.AMOUNT, P.REASON], available: [...COMMON, P.AMOUNT, P.DATE, P.REASON, P.REFERENCE, P.PAYMENT_METHOD, P.SECURE_LINK] },
  PAYMENT_REQUEST: { marketing: false, required: [P.SECURE_LINK, P.AMOUNT], available: [...COMMON, P.AMOUNT, P.REFERENCE, P.DESCRIPTION, P.SECURE_LINK, P.EXPIRES_AT] },
  PAYMENT_PROFILE_REQUEST: { marketing: false, required: [P.SECURE_LINK], available: [...COMMON, P.SECURE_LINK, P.EXPIRES_AT] },
  PAYMENT_METHOD_SAVED: { marketing: false, required: [P.PAYMENT_METHOD], available: [...COMMON, P.PAYMENT_METHOD, P.DATE] },
  AGREEMENT_SIGNUP: { marketing: false, required: [P.AGREEMENT_NAME, P.SECURE_LINK], available: [...COMMON, P.AGREEMENT_NAME, P.AMOUNT, P.DESCRIPTION, P.SECURE_LINK, P.EXPIRES_AT] },
  AGREEMENT_APPROVED: { marketing: false, required: [P.AGREEMENT_NAME], available: [...COMMON, P.AGREEMENT_NAME, P.DATE, P.AMOUNT] },
  AGREEMENT_SUSPENDED: { marketing: false, required: [P.AGREEMENT_NAME], available: [...COMMON, P.AGREEMENT_NAME, P.DATE, P.REASON, P.SECURE_LINK] },
  AGREEMENT_REACTIVATED: { marketing: false, required: [P.AGREEMENT_NAME], available: [...COMMON, P.AGREEMENT_NAME, P.DATE] },
  RENEWAL_NOTICE: { marketing: true, required: [P.AGREEMENT_NAME, P.END_DATE], available: [...COMMON, P.AGREEMENT_NAME, P.END_DATE, P.AMOUNT, P.SECURE_LINK] },
  UPCOMING_INSTALLMENT: { marketing: false, required: [P.AMOUNT, P.DUE_DATE], available: [...COMMON, P.AMOUNT, P.DUE_DATE, P.REFERENCE, P.PAYMENT_METHOD] },
  CARD_EXPIRING: { marketing: false, required: [P.PAYMENT_METHOD, P.SECURE_LINK], available: [...COMMON, P.PAYMENT_METHOD, P.END_DATE, P.SECURE_LINK, P.EXPIRES_AT] },
  REFUND_ISSUED: { marketing: false, required: [P.AMOUNT], available: [...COMMON, P.AMOUNT, P.DATE, P.REASON, P.REFERENCE, P.PAYMENT_METHOD] },
  PAYMENT_CANCELLED: { marketing: false, required: [P.AMOUNT], available: [...COMMON, P.AMOUNT, P.DATE, P.REASON, P.REFERENCE, P.PAYMENT_METHOD] },
  STAFF_ALERT: { marketing: false, required: [P.TITLE], available: [P.ORGANIZATION_NAME, P.TITLE, P.BODY] },
};
