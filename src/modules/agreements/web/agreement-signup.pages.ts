import { askForNewLink, escapeHtml, formatWhen, hostedErrorPages, hostedLayout } from '../../../platform/hosted-pages.js';
import { frequencyWords, type SignupPage } from '../application/signup.hosted-page.js';

/**
 * Server-side HTML of the agreement sign-up pages, in the hosted pages' shared look (src/platform/hosted-pages.ts): no
 * script, no external asset, readable on a phone. Every value that comes from a person is escaped.
 */

type Page<T extends SignupPage['type']> = Extract<SignupPage, { type: T }>;

const EXTRA_STYLE = `
table.lines{width:100%;border-collapse:collapse;font-size:.92rem;margin:.4rem 0}
table.lines th,table.lines td{padding:.45rem .3rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
table.lines td.num,table.lines th.num{text-align:right;white-space:nowrap}
table.lines tfoot td{border-bottom:0;font-weight:600}
table.lines tfoot tr.total td{font-size:1.05rem;border-top:2px solid #1f2937}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:.6rem 0}
dl.facts dt{color:#4b5563}dl.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.terms{white-space:pre-wrap;overflow-wrap:anywhere;max-height:22rem;overflow:auto;border:1px solid #d1d5db;border-radius:.4rem;padding:.7rem;background:#f9fafb;font-size:.92rem}
`;

function layout(title: string, orgName: string | null, body: string): string {
  return hostedLayout(
    title,
    orgName,
    body,
    `Your card or bank details are entered on the payment processor's secure page. ${
      orgName ? escapeHtml(orgName) : 'The organization'
    } keeps only the last 4 digits, the expiry and your billing address.`,
    EXTRA_STYLE,
  );
}

function day(date: string, locale: string): string {
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${date}T12:00:00Z`));
  } catch {
    return date;
  }
}

export function renderSignupForm(p: Page<'form'>): string {
  const { quote: q, organization: org } = p;
  const money = (m: { format(locale: string): string }) => escapeHtml(m.format(org.locale));
  const rows = q.priced.lines
    .map(
      (l) => `<tr><td>${escapeHtml(l.line.description)}${l.line.taxRate ? `<br><span class="muted">tax ${escapeHtml(l.line.taxRate)}%</span>` : ''}</td>
<td class="num">${escapeHtml(l.line.quantity)}</td><td class="num">${money(l.unitPrice)}</td><td class="num">${money(l.subtotal)}</td></tr>`,
    )
    .join('\n');
  const error = p.error
    ? `<div class="summary" role="alert" id="form-errors"><strong>Please check:</strong> <span id="accept-error">${escapeHtml(p.error)}</span></div>`
    : '';
  return layout(
    'Your service agreement',
    org.name,
    `<div class="card">
<h1 id="agreement-name">${escapeHtml(q.name)}</h1>
<p>Hi ${escapeHtml(q.customerName)}, here is the service agreement <strong>${escapeHtml(org.name)}</strong> prepared for you. Read it, accept it, and put a card or bank account on file for automatic billing.</p>
<p class="muted">This link works once and until ${escapeHtml(formatWhen(q.expiresAt, org.locale, org.timeZone))}.</p>
</div>
<div class="card">
<h2>Services</h2>
<table class="lines" id="lines"><thead><tr><th>Service</th><th class="num">Qty</th><th class="num">Price</th><th class="num">Amount</th></tr></thead>
<tbody>${rows}</tbody>
<tfoot><tr><td colspan="3">Subtotal</td><td class="num" id="subtotal">${money(q.priced.subtotal)}</td></tr>
<tr><td colspan="3">Tax</td><td class="num" id="tax">${money(q.priced.tax)}</td></tr>
<tr class="total"><td colspan="3">Total ${escapeHtml(frequencyWords(q.frequency))}</td><td class="num" id="total">${money(q.priced.total)}</td></tr></tfoot></table>
<dl class="facts">
<dt>Billed</dt><dd id="frequency">${escapeHtml(frequencyWords(q.frequency))}, on ${escapeHtml(q.billingDay)} of the month</dd>
<dt>Starts</dt><dd id="start-date">${escapeHtml(day(q.startDate, org.locale))}</dd>
<dt>Ends</dt><dd id="end-date">${q.endDate ? escapeHtml(day(q.endDate, org.locale)) : 'No end date: it continues until you or they close it'}</dd>
</dl>
</div>
<div class="card">
<h2>Terms</h2>
<div class="terms" id="terms">${escapeHtml(q.terms)}</div>
</div>
<form class="card${p.error ? ' invalid' : ''}" method="post" novalidate>
${error}
<input type="hidden" name="version" value="${q.version}">
<h2>Your acceptance</h2>
<p class="muted">The agreement starts only with your acceptance and a payment method on file. You can withdraw your authorization at any time by contacting ${escapeHtml(org.name)}.</p>
<div class="consent"><input type="checkbox" id="accept" name="accept" value="yes"${p.accepted ? ' checked' : ''} required${
      p.error ? ' aria-invalid="true" aria-describedby="accept-error"' : ''
    }><label for="accept">${escapeHtml(q.acceptanceText)}</label></div>
<button type="submit" id="continue">Accept and add a payment method</button>
</form>`,
  );
}

export function renderSignupClosed(p: Page<'closed'>): string {
  const at = p.at ? escapeHtml(formatWhen(p.at, p.organization.locale, p.organization.timeZone)) : null;
  const [title, what] =
    p.reason === 'USED'
      ? ['This link has already been used', `The agreement was signed with it${at ? ` on ${at}` : ''}, and each link works only once. Nothing has been changed.`]
      : p.reason === 'CANCELLED'
        ? ['This link is no longer valid', `${escapeHtml(p.organization.name)} withdrew it or sent a newer one${at ? ` (${at})` : ''}. Nothing was changed.`]
        : ['This link has expired', `It stopped working${at ? ` on ${at}` : ''}. Nothing was changed.`];
  return layout(
    title,
    p.organization.name,
    `<div class="card" id="link-closed" data-reason="${p.reason}">
<h1>${title}</h1>
<p>${what}</p>
<p>${p.reason === 'USED' ? 'If you have questions about your agreement, contact them. ' : ''}${askForNewLink(p.organization)}</p>
</div>`,
  );
}

export function renderSignupLeft(p: Page<'left'>): string {
  return layout(
    'Your agreement is not signed yet',
    p.organization?.name ?? null,
    `<div class="card" id="left-gateway">
<h1>Your agreement is not signed yet</h1>
<p>You left the secure payment page before adding a payment method. To continue, open the link from your email again: it still works until it is used or expires.</p>
</div>`,
  );
}

export function renderSignupDone(p: Page<'done'>): string {
  return layout(
    'Agreement signed',
    p.organization.name,
    `<div class="card" id="thank-you">
<div class="ok" aria-hidden="true">✓</div>
<h1>Thank you, your agreement is signed</h1>
<p>You accepted <strong>${escapeHtml(p.agreementName)}</strong> and put <strong id="saved-method">${escapeHtml(p.methodLabel)}</strong> on file for its automatic payments.
${escapeHtml(p.organization.name)} will review it and let you know when it starts.</p>
<p class="muted">You can close this page. This link will not work again.</p>
</div>`,
  );
}

export function renderSignupRefused(p: Page<'refused'>): string {
  return layout(
    'Agreement not signed',
    p.organization.name,
    `<div class="card" id="refused">
<h1>Your agreement was not signed</h1>
<p>${escapeHtml(p.message)}</p>
<p>${
      p.retry
        ? `Nothing was charged. You can open the link from your email again and try another card or account, or contact ${escapeHtml(p.organization.name)}.`
        : askForNewLink(p.organization)
    }</p>
</div>`,
  );
}

const errorPages = hostedErrorPages(layout, { link: 'link', askForNew: true, nothingDone: 'Nothing was saved or charged.' });
export const renderSignupUnknown = errorPages.unknown;
export const renderSignupUnavailable = errorPages.unavailable;
export const renderSignupTooMany = errorPages.tooMany;
