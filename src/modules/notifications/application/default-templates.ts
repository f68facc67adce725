import { Money, minorUnits, toCurrencyCode } from '#libs/money/index.js';
import { Channel, MessageKind } from '../domain/message-kind.js';
import type { MessageData } from './message-data.js';

/** The wording of one message on one channel. `subject` is set for EMAIL and null for SMS. */
export interface TemplateText {
  subject: string | null;
  body: string;
}

export type KindDefaults = Record<Channel, TemplateText>;

const email = (subject: string, body: string): TemplateText => ({ subject, body });
const sms = (body: string): TemplateText => ({ subject: null, body });

/**
 * Settle's own wording of every message, used until an organization saves its own (see TemplateService).
 *
 * Each default holds its kind's required placeholders and only placeholders available to that kind (the unit spec
 * checks it). A sender must supply a value for every placeholder the template uses, so the defaults stay with
 * values their senders always have; docs/notification-templates.md lists them per kind. SMS defaults stay short: about
 * 160 to 320 characters once filled in.
 */
export const DEFAULT_TEMPLATES: Readonly<Record<MessageKind, KindDefaults>> = {
  [MessageKind.RECEIPT]: {
    EMAIL: email(
      'Your receipt from {Organization Name}',
      `Hi {Customer Name},

Thank you for your payment of {Amount} to {Organization Name} on {Date}.

Reference: {Reference}

Your receipt (PDF): {Secure Link}

Please keep this email for your records. If you have any questions about this payment, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: thank you! We received your payment of {Amount} on {Date}. Reference: {Reference}'),
  },

  [MessageKind.PAYMENT_FAILED]: {
    EMAIL: email(
      "Your payment to {Organization Name} didn't go through",
      `Hi {Customer Name},

We tried to process your payment of {Amount} on {Date}, but it didn't go through.

Reason: {Reason}

Please verify your payment method, or contact us to update it, so your account stays in good standing.

Thank you,
{Organization Name}`,
    ),
    SMS: sms(
      "{Organization Name}: your payment of {Amount} didn't go through ({Reason}). Please verify your payment method or contact us.",
    ),
  },

  [MessageKind.PAYMENT_REQUEST]: {
    EMAIL: email(
      'Payment request from {Organization Name}: {Amount}',
      `Hi {Customer Name},

{Organization Name} is requesting a payment of {Amount}.

You can pay securely online with this link:
{Secure Link}

If you have any questions, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name} is requesting a payment of {Amount}. Pay securely here: {Secure Link}'),
  },

  [MessageKind.PAYMENT_PROFILE_REQUEST]: {
    EMAIL: email(
      '{Organization Name}: please add your payment method',
      `Hi {Customer Name},

{Organization Name} has asked you to add a payment method to your account, so your payments can be made automatically.

Use this secure link to enter your card or bank details:
{Secure Link}

For your security, the link works only once and expires on {Expires At}. Your details are entered on a secure page and are never sent by email.

Thank you,
{Organization Name}`,
    ),
    SMS: sms(
      '{Organization Name}: please add your payment method with this secure link (single use, expires {Expires At}): {Secure Link}',
    ),
  },

  [MessageKind.PAYMENT_METHOD_SAVED]: {
    EMAIL: email(
      'A new payment method was saved to your account',
      `Hi {Customer Name},

A new payment method, {Payment Method}, was saved to your account with {Organization Name} on {Date}.

If you made this change, there's nothing else to do. If you didn't, please contact us right away.

Thank you,
{Organization Name}`,
    ),
    SMS: sms(
      "{Organization Name}: {Payment Method} was saved as a payment method on your account. If this wasn't you, please contact us right away.",
    ),
  },

  [MessageKind.AGREEMENT_SIGNUP]: {
    EMAIL: email(
      '{Organization Name}: your service agreement "{Agreement Name}" is ready to sign',
      `Hi {Customer Name},

{Organization Name} has prepared your service agreement "{Agreement Name}".

Review the services, the price and the terms, accept them and put a card or bank account on file for automatic billing here:
{Secure Link}

For your security, the link works only once and expires on {Expires At}. Your card or bank details are entered on a secure page and are never sent by email.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your service agreement "{Agreement Name}" is ready to sign: {Secure Link} (expires {Expires At})'),
  },

  [MessageKind.AGREEMENT_APPROVED]: {
    EMAIL: email(
      'Your agreement with {Organization Name} is approved',
      `Hi {Customer Name},

Good news: your agreement "{Agreement Name}" with {Organization Name} was approved on {Date}.

Thank you for choosing us. If you have any questions, just get in touch.

{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: good news! Your agreement "{Agreement Name}" is approved. Thank you for choosing us.'),
  },

  [MessageKind.AGREEMENT_SUSPENDED]: {
    EMAIL: email(
      'Your agreement with {Organization Name} is suspended',
      `Hi {Customer Name},

Your agreement "{Agreement Name}" with {Organization Name} was suspended on {Date}.

Reason: {Reason}

Please contact us so we can sort this out and reactivate your agreement.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your agreement "{Agreement Name}" is suspended ({Reason}). Please contact us to reactivate it.'),
  },

  [MessageKind.AGREEMENT_REACTIVATED]: {
    EMAIL: email(
      'Your agreement with {Organization Name} is active again',
      `Hi {Customer Name},

Your agreement "{Agreement Name}" with {Organization Name} was reactivated on {Date}. Everything is back to normal.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your agreement "{Agreement Name}" is active again. Thank you!'),
  },

  [MessageKind.RENEWAL_NOTICE]: {
    EMAIL: email(
      'Your agreement with {Organization Name} ends on {End Date}',
      `Hi {Customer Name},

This is a friendly reminder that your agreement "{Agreement Name}" with {Organization Name} ends on {End Date}.

We'd love to keep working with you. To renew, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your agreement "{Agreement Name}" ends on {End Date}. Contact us to renew.'),
  },

  [MessageKind.UPCOMING_INSTALLMENT]: {
    EMAIL: email(
      'Upcoming payment of {Amount} on {Due Date}',
      `Hi {Customer Name},

This is a friendly reminder that your next payment of {Amount} to {Organization Name} is due on {Due Date}.

If your payment method is on file, there's nothing to do: it will be charged automatically. If you have any questions, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: reminder, your next payment of {Amount} is due on {Due Date}.'),
  },

  [MessageKind.CARD_EXPIRING]: {
    EMAIL: email(
      'Please update your card on file with {Organization Name}',
      `Hi {Customer Name},

The card you saved with {Organization Name}, {Payment Method}, has an expiry date of {End Date}. To keep your payments going without interruption, please add your new card.

Use this secure link to enter it:
{Secure Link}

For your security, the link works only once and expires on {Expires At}. Your card details are entered on a secure page and are never sent by email.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your card {Payment Method} expires {End Date}. Please add your new card with this secure link: {Secure Link}'),
  },

  [MessageKind.REFUND_ISSUED]: {
    EMAIL: email(
      'Your refund from {Organization Name}',
      `Hi {Customer Name},

{Organization Name} has refunded {Amount} to {Payment Method} on {Date}.

Reason: {Reason}

Depending on your bank, it can take 5 to 10 business days to appear on your statement. If you have any questions, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: we refunded {Amount} to {Payment Method}. It can take 5-10 business days to appear.'),
  },

  [MessageKind.PAYMENT_CANCELLED]: {
    EMAIL: email(
      'Your payment to {Organization Name} was cancelled',
      `Hi {Customer Name},

Your bank payment of {Amount} from {Payment Method} was cancelled on {Date} before it was taken from your account. Nothing will be debited.

Reason: {Reason}

If you have any questions, just get in touch with us.

Thank you,
{Organization Name}`,
    ),
    SMS: sms('{Organization Name}: your bank payment of {Amount} from {Payment Method} was cancelled. Nothing will be debited.'),
  },

  [MessageKind.STAFF_ALERT]: {
    EMAIL: email(
      '[{Organization Name}] {Title}',
      `{Title}

{Body}

You are receiving this because you are a member of {Organization Name} on Settle.`,
    ),
    SMS: sms('{Organization Name}: {Title}'),
  },
};

export function defaultTemplate(kind: MessageKind, channel: Channel): TemplateText {
  return DEFAULT_TEMPLATES[kind][channel];
}

const DAY = 86_400_000;

/**
 * Made-up values for every placeholder, for previews: an admin sees what a customer would receive. The amount is
 * 125 in the organization's currency.
 */
export function sampleMessageData(now: Date, currency: string, secureLinkBase = 'https://pay.example.com'): Required<MessageData> {
  const code = toCurrencyCode(currency);
  const at = (days: number) => new Date(now.getTime() + days * DAY);
  return {
    customerName: 'Jordan Rivera',
    amount: Money.of(125n * 10n ** BigInt(minorUnits(code)), code),
    date: now,
    dueDate: at(7),
    reference: 'INV-1042',
    description: 'Monthly lawn care',
    secureLink: `${secureLinkBase.replace(/\/$/, '')}/s/sample-secure-link`,
    expiresAt: at(3),
    reason: 'The card was declined by the bank',
    paymentMethod: 'Visa ending in 4242',
    agreementName: 'Weekly Lawn Care',
    endDate: at(30),
    title: 'A payment failed',
    body: 'The payment of Jordan Rivera for INV-1042 was declined.',
  };
}
