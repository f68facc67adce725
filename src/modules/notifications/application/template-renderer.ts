/**
 * Pure functions that turn a template and a message's values into the text, subject and HTML that are sent.
 * No I/O: TemplateService picks the template (the organization's own or the default) and calls these.
 */
import type { OrganizationProfile } from '../../identity/index.js';
import { Channel, KIND_SPECS, type MessageKind, Placeholder, type PlaceholderToken } from '../domain/message-kind.js';
import { NotificationError, NotificationErrorReason } from '../notification.error.js';
import type { TemplateText } from './default-templates.js';
import type { MessageData, RenderedMessage } from './message-data.js';

/** The organization fields rendering needs. */
export type RenderOrganization = Pick<OrganizationProfile, 'name' | 'locale' | 'timeZone'>;

/** Placeholder token (e.g. `{Amount}`) → its value, already formatted. */
export type PlaceholderValues = Partial<Record<string, string>>;

/**
 * Anything written like a placeholder: a brace, a letter, up to 48 more characters on one line, a closing brace.
 * Wider than the real tokens (`{Word Word}`) on purpose, so a typo such as `{customer name}` or `{Amount }` is
 * reported as an unknown placeholder when a template is saved instead of being sent to customers as is.
 */
const TOKEN = /\{[A-Za-z][^{}\r\n]{0,48}\}/g;

/** The placeholder tokens of a text, each once, in order of first appearance. */
export function placeholdersIn(text: string): string[] {
  return [...new Set(text.match(TOKEN) ?? [])];
}

/**
 * Replaces every placeholder of `template` with its value, in one pass (a value that itself looks like a placeholder
 * is left as it is). A placeholder without a value is a bug of the sender: it throws an Error naming it. Values the
 * template does not use are ignored.
 */
export function renderText(template: string, values: PlaceholderValues): string {
  return template.replace(TOKEN, (token) => {
    const value = values[token];
    if (value === undefined || value === null) {
      throw new Error(`No value for the placeholder ${token}: the sender of this message must supply it`);
    }
    return value;
  });
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(locale: string, timeZone: string, withTime: boolean): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}|${withTime}`;
  let found = dateFormats.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, { dateStyle: 'long', ...(withTime ? { timeStyle: 'short' } : {}), timeZone });
    dateFormats.set(key, found);
  }
  return found;
}

/** A date as the organization's customers read it: its locale, in its time zone, e.g. "March 1, 2026". */
export function formatDate(date: Date, org: RenderOrganization, withTime = false): string {
  return dateFormat(org.locale, org.timeZone, withTime).format(date);
}

const TEXT_FIELDS = {
  customerName: Placeholder.CUSTOMER_NAME,
  reference: Placeholder.REFERENCE,
  description: Placeholder.DESCRIPTION,
  secureLink: Placeholder.SECURE_LINK,
  reason: Placeholder.REASON,
  paymentMethod: Placeholder.PAYMENT_METHOD,
  agreementName: Placeholder.AGREEMENT_NAME,
  title: Placeholder.TITLE,
  body: Placeholder.BODY,
} as const satisfies Partial<Record<keyof MessageData, PlaceholderToken>>;

const DATE_FIELDS = {
  date: Placeholder.DATE,
  dueDate: Placeholder.DUE_DATE,
  endDate: Placeholder.END_DATE,
} as const satisfies Partial<Record<keyof MessageData, PlaceholderToken>>;

/**
 * The message's values as text, by placeholder token. Amounts are formatted in the organization's locale (in the
 * amount's own currency), dates in its locale and time zone ({Expires At} with the time of day too).
 * `{Organization Name}` always has a value; the others only when the sender supplied them.
 */
export function formatValues(data: MessageData, org: RenderOrganization): Partial<Record<PlaceholderToken, string>> {
  const values: Partial<Record<PlaceholderToken, string>> = { [Placeholder.ORGANIZATION_NAME]: org.name };
  for (const [field, token] of Object.entries(TEXT_FIELDS) as [keyof typeof TEXT_FIELDS, PlaceholderToken][]) {
    const value = data[field];
    if (value !== undefined && value !== null) values[token] = String(value);
  }
  for (const [field, token] of Object.entries(DATE_FIELDS) as [keyof typeof DATE_FIELDS, PlaceholderToken][]) {
    const value = data[field];
    if (value) values[token] = formatDate(value, org);
  }
  if (data.expiresAt) values[Placeholder.EXPIRES_AT] = formatDate(data.expiresAt, org, true);
  if (data.amount) values[Placeholder.AMOUNT] = data.amount.format(org.locale);
  return values;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** http(s) URLs; punctuation that ends a sentence is left out of the link. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** One line of text as HTML: everything escaped, http(s) URLs as links. */
function lineToHtml(line: string): string {
  let html = '';
  let last = 0;
  for (const match of line.matchAll(URL_PATTERN)) {
    const url = match[0].replace(TRAILING, '');
    const start = match.index;
    html += escapeHtml(line.slice(last, start));
    const href = escapeHtml(url);
    html += `<a href="${href}" style="color:#1d4ed8;text-decoration:underline;word-break:break-all;">${href}</a>`;
    last = start + url.length;
  }
  return html + escapeHtml(line.slice(last));
}

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;";

export interface HtmlLayout {
  /** Shown as the header of the email. */
  organizationName: string;
  /** The email's subject, as the document title. */
  title?: string | null;
  /** BCP 47 language of the text, e.g. the organization's locale. */
  lang?: string;
}

/**
 * The HTML part of an email, built from its text part: every character of the text is escaped (so values such as a
 * customer's name can never inject markup), blank lines separate paragraphs, single newlines become `<br>`, and
 * http(s) URLs become links. Wrapped in a minimal layout with inline styles (what email clients support), headed by
 * the organization's name.
 */
export function toHtml(text: string, layout: HtmlLayout): string {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p.trim() !== '')
    .map((p) => `<p style="margin:0 0 16px 0;">${p.split('\n').map(lineToHtml).join('<br>\n')}</p>`)
    .join('\n');
  const lang = escapeHtml(layout.lang ?? 'en');
  const title = escapeHtml(layout.title ?? layout.organizationName);
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px;background-color:#ffffff;border:1px solid #e5e7eb;border-radius:8px;">
<tr><td style="padding:20px 32px;border-bottom:1px solid #e5e7eb;${FONT}font-size:20px;font-weight:600;color:#111827;">${escapeHtml(layout.organizationName)}</td></tr>
<tr><td style="padding:24px 32px 8px 32px;${FONT}font-size:16px;line-height:1.5;color:#1f2937;">
${paragraphs}
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
}

/**
 * Renders a template for one message. EMAIL gives a subject (on one line), the text and its HTML part; SMS gives the
 * text only. Throws an Error naming the placeholder when the template uses one the data has no value for.
 */
export function renderMessage(
  template: TemplateText,
  kind: MessageKind,
  channel: Channel,
  org: RenderOrganization,
  data: MessageData,
): RenderedMessage {
  const values = formatValues(data, org);
  // An organization may use any available placeholder; one the sender has no value for reads as empty. Only a
  // required one missing is the sender's bug (it throws below).
  const spec = KIND_SPECS[kind];
  for (const token of spec.available) if (!(token in values) && !spec.required.includes(token)) values[token] = '';
  try {
    const text = renderText(template.body, values).trim();
    if (channel === Channel.SMS) return { subject: null, text, html: null };
    const subject = renderText(template.subject ?? '', values).replace(/\s+/g, ' ').trim();
    return { subject, text, html: toHtml(text, { organizationName: org.name, title: subject, lang: org.locale }) };
  } catch (error) {
    throw new Error(`Cannot render the ${kind} ${channel} message: ${(error as Error).message}`, { cause: error });
  }
}

// --- Rules for an organization's own templates -------------------------------------------------------------------

export const MAX_EMAIL_BODY = 5000;
export const MAX_SMS_BODY = 1000;
export const MAX_SUBJECT = 300;

const ALL_TOKENS = Object.values(Placeholder) as string[];
const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

function listTokens(tokens: readonly string[]): string {
  if (tokens.length <= 1) return tokens.join('');
  return `${tokens.slice(0, -1).join(', ')} and ${tokens.at(-1)}`;
}

function invalid(message: string, field: string): NotificationError {
  return new NotificationError(NotificationErrorReason.TEMPLATE_INVALID, message, field);
}

/**
 * Checks an organization's wording of a message and returns it normalized (trimmed, `\n` line ends, no subject for
 * SMS). Throws a NotificationError (BAD_USER_INPUT) with reason:
 * - TEMPLATE_INVALID: empty body, no subject for EMAIL, a subject for SMS or on several lines, too long;
 * - TEMPLATE_UNKNOWN_PLACEHOLDER: a placeholder this kind of message does not have (the message lists the allowed ones);
 * - TEMPLATE_MISSING_PLACEHOLDER: a required placeholder is missing (for EMAIL it may be in the subject or the body).
 */
export function validateTemplate(
  kind: MessageKind,
  channel: Channel,
  input: { subject?: string | null; body: string },
): TemplateText {
  const spec = KIND_SPECS[kind];
  const body = (input.body ?? '').replace(/\r\n?/g, '\n').trim();
  const rawSubject = (input.subject ?? '').trim();
  if (!body) throw invalid('The message body must not be empty', 'body');

  let subject: string | null = null;
  if (channel === Channel.EMAIL) {
    if (!rawSubject) throw invalid('An email needs a subject', 'subject');
    if (/[\r\n]/.test(rawSubject)) throw invalid('The subject must be on one line', 'subject');
    if (rawSubject.length > MAX_SUBJECT) throw invalid(`The subject must be at most ${MAX_SUBJECT} characters long`, 'subject');
    if (body.length > MAX_EMAIL_BODY) {
      throw invalid(`An email body must be at most ${MAX_EMAIL_BODY} characters long (it has ${body.length})`, 'body');
    }
    subject = rawSubject;
  } else {
    if (rawSubject) throw invalid('An SMS has no subject: leave it empty', 'subject');
    if (body.length > MAX_SMS_BODY) {
      throw invalid(`An SMS must be at most ${MAX_SMS_BODY} characters long (it has ${body.length})`, 'body');
    }
  }

  const inBody = placeholdersIn(body);
  const used = [...new Set([...placeholdersIn(subject ?? ''), ...inBody])];
  const allowed: readonly string[] = spec.available;
  const unknown = used.filter((token) => !allowed.includes(token));
  if (unknown.length) {
    const hints = unknown
      .map((token) => {
        const close = ALL_TOKENS.find((t) => squash(t) === squash(token));
        if (!close || close === token) return null;
        return allowed.includes(close) ? `did you mean ${close} instead of ${token}?` : null;
      })
      .filter(Boolean);
    const what = unknown.length === 1 ? 'is not a placeholder' : 'are not placeholders';
    throw new NotificationError(
      NotificationErrorReason.TEMPLATE_UNKNOWN_PLACEHOLDER,
      `${listTokens(unknown)} ${what} of ${kind} messages${hints.length ? ` (${hints.join('; ')})` : ''}. ` +
        `Placeholders you can use: ${allowed.join(', ')}`,
      unknown.some((token) => inBody.includes(token)) ? 'body' : 'subject',
    );
  }

  const missing = spec.required.filter((token) => !used.includes(token));
  if (missing.length) {
    const where = channel === Channel.EMAIL ? ' (in its subject or body)' : '';
    throw new NotificationError(
      NotificationErrorReason.TEMPLATE_MISSING_PLACEHOLDER,
      `A ${kind} message must contain ${listTokens(missing)}${where}`,
      'body',
    );
  }
  return { subject, body };
}
