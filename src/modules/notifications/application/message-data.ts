import type { Money } from '#libs/money/index.js';

/**
 * Values for a message's placeholders, as typed values: the template renderer formats amounts and dates in the
 * organization's locale, currency and time zone. Each field fills the placeholder named beside it.
 */
export interface MessageData {
  customerName?: string; // {Customer Name}
  amount?: Money; // {Amount}
  date?: Date; // {Date}
  dueDate?: Date; // {Due Date}
  reference?: string; // {Reference}
  description?: string; // {Description}
  secureLink?: string; // {Secure Link}
  expiresAt?: Date; // {Expires At}
  reason?: string; // {Reason}
  paymentMethod?: string; // {Payment Method}, e.g. "Visa ending in 4242"
  agreementName?: string; // {Agreement Name}
  endDate?: Date; // {End Date}
  title?: string; // {Title}
  body?: string; // {Body}
}

export interface RenderedMessage {
  /** Email only. */
  subject: string | null;
  text: string;
  /** Email only: the HTML part (the text part is always sent too). */
  html: string | null;
}
