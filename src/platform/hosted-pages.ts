import { createHash } from 'node:crypto';
import type { Response } from 'express';

/*
 * What every hosted page (the customer's side of a secure link: payment profile requests /p, agreement sign-up /a,
 * payment requests /pay) shares: the token's hash, the response headers, the escaping, the look and the error pages
 * (the HTTP side is hosted-link-controller.ts). Server-side HTML, no script, no external
 * asset, readable on a phone.
 */

/** A well-formed link token: 32 bytes of base64url (SealedLinks). Anything else is not looked up at all. */
export const LINK_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** SHA-256 (hex) of a link's token: the only form in which Settle keeps it. */
export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The token is in the URL: keep it out of caches, Referer headers (to the gateway's page) and frames. */
export function setHostedPageHeaders(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Robots-Tag', 'noindex, nofollow');
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'",
  );
}

export const HOSTED_PAGE_STYLE = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1f2937}
header{background:#1f2937;color:#fff;padding:.9rem 1rem}
header .org{max-width:34rem;margin:0 auto;font-size:1.15rem;font-weight:700;overflow-wrap:anywhere}
main{max-width:34rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1.25rem;margin-bottom:1rem}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 .5rem}
h2{font-size:1.05rem;margin:1.4rem 0 .2rem}
p{margin:.4rem 0 .8rem}
.muted{color:#4b5563;font-size:.9rem}
.note{background:#eef2ff;border-left:4px solid #4f46e5;padding:.6rem .8rem;border-radius:.3rem;white-space:pre-line;overflow-wrap:anywhere}
label{display:block;font-weight:600;font-size:.92rem;margin:.8rem 0 .25rem}
label .opt{font-weight:400;color:#6b7280}
input[type=text],input[type=email],input[type=tel]{width:100%;font-size:16px;padding:.65rem .7rem;border:1px solid #9ca3af;border-radius:.4rem;background:#fff;color:inherit}
input:focus{outline:3px solid #a5b4fc;border-color:#4f46e5}
.row{display:flex;gap:.75rem;align-items:flex-end}.row>div{flex:1;min-width:0}
@media (max-width:22rem){.row{display:block}}
.invalid input[type=text],.invalid input[type=email],.invalid input[type=tel]{border-color:#b91c1c;background:#fff7f7}
.field-error{color:#b91c1c;font-size:.88rem;margin:.25rem 0 0;font-weight:600}
.summary{background:#fdecee;border:1px solid #b91c1c;color:#7f1d1d;border-radius:.4rem;padding:.6rem .8rem;margin-bottom:1rem}
.summary ul{margin:.3rem 0 0;padding-left:1.2rem}
fieldset{border:0;padding:0;margin:1rem 0 0}
legend{font-weight:600;font-size:.92rem;padding:0}
.choice{display:flex;align-items:center;gap:.6rem;border:1px solid #9ca3af;border-radius:.4rem;padding:.7rem .8rem;margin-top:.5rem;font-weight:600}
.choice input{width:1.25rem;height:1.25rem;margin:0;flex:none}
.consent{display:flex;gap:.7rem;align-items:flex-start;border:1px solid #9ca3af;border-radius:.4rem;padding:.8rem;margin-top:1rem;background:#f9fafb}
.consent input{width:1.4rem;height:1.4rem;margin:.1rem 0 0;flex:none}
.consent label{margin:0;font-weight:400;font-size:.95rem}
.invalid .consent{border-color:#b91c1c;background:#fff7f7}
button{width:100%;margin-top:1.2rem;padding:.9rem;font-size:1.05rem;font-weight:700;border:0;border-radius:.5rem;background:#4f46e5;color:#fff;cursor:pointer}
button:focus{outline:3px solid #a5b4fc}
.ok{font-size:2.5rem;line-height:1;margin-bottom:.4rem}
footer{max-width:34rem;margin:0 auto;padding:0 1rem 2rem;font-size:.82rem;color:#6b7280}
`;

/** A whole page: the organization's name in the header, the body, and a footer line (plain HTML, already escaped). */
export function hostedLayout(title: string, orgName: string | null, body: string, footer: string, extraStyle = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(orgName ? `${title} — ${orgName}` : title)}</title>
<style>${HOSTED_PAGE_STYLE}${extraStyle}</style>
</head>
<body>
<header><div class="org" id="organization-name">${escapeHtml(orgName ?? 'Secure link')}</div></header>
<main>
${body}
</main>
<footer>${footer}</footer>
</body>
</html>`;
}

/** "March 3, 2026 at 4:05 PM" in the organization's locale and time zone. */
export function formatWhen(date: Date, locale: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone }).format(date);
  } catch {
    return date.toISOString();
  }
}

/** Who sent a link: the organization, and the staff member who sent it when they are still active. */
export interface LinkSender {
  name: string;
  contactName: string | null;
  contactEmail: string | null;
}

/**
 * "Please ask <strong>Acme Pools</strong> (Olive Owner, olive@acme.test) to send you a new link." (escaped HTML);
 * `sentence` words it around the organization and its contact.
 */
export function askForNewLink(org: LinkSender | null, sentence = (who: string) => `Please ask ${who} to send you a new link.`): string {
  if (!org) return 'Please ask the business that sent you the link for a new one.';
  const who = org.contactName
    ? ` (${escapeHtml(org.contactName)}${org.contactEmail ? `, <a href="mailto:${escapeHtml(org.contactEmail)}">${escapeHtml(org.contactEmail)}</a>` : ''})`
    : '';
  return sentence(`<strong>${escapeHtml(org.name)}</strong>${who}`);
}

/** A hosted page's layout: title, the organization's name (null: not known) and the body. */
export type HostedPageLayout = (title: string, orgName: string | null, body: string) => string;

export interface HostedErrorPages {
  /** 404: no link has this token. */
  unknown(): string;
  /** 503: the payment processor (or the database) did not answer. */
  unavailable(): string;
  /** 429: too many unknown links from the client's address (LinkRateLimiter). */
  tooMany(retryAfterSeconds: number): string;
}

/**
 * The error pages every hosted page shows in its own layout. `link` names what was not found ("link", "payment
 * link"), `askForNew` adds "ask the business for a new one" to it, `nothingDone` says what did not happen in an
 * outage ("Nothing was charged.").
 */
export function hostedErrorPages(layout: HostedPageLayout, wording: { link: string; askForNew: boolean; nothingDone: string }): HostedErrorPages {
  return {
    unknown: () =>
      layout(
        'Link not found',
        null,
        `<div class="card" id="link-unknown">
<h1>This link does not work</h1>
<p>We could not find this ${wording.link}. It may be incomplete: try opening it again from the email or text message, or copy the whole address.</p>
${wording.askForNew ? `<p>${askForNewLink(null)}</p>\n` : ''}</div>`,
      ),
    unavailable: () =>
      layout(
        'Please try again',
        null,
        `<div class="card" id="unavailable">
<h1>Something went wrong on our side</h1>
<p>The payment processor did not answer. ${wording.nothingDone} Please try again in a few minutes.</p>
</div>`,
      ),
    tooMany: (retryAfterSeconds) =>
      layout(
        'Too many attempts',
        null,
        `<div class="card" id="rate-limited">
<h1>Too many attempts</h1>
<p>Too many links that do not exist were opened from your connection. Please wait ${Math.ceil(retryAfterSeconds / 60)} minutes and open your link again.</p>
</div>`,
      ),
  };
}
