import { askForNewLink, escapeHtml, formatWhen, hostedErrorPages, hostedLayout } from '../../../platform/hosted-pages.js';
import type { PayDetails, PayOrganization, PayPage } from '../application/payment-request-page.js';

/**
 * Server-side HTML of the pay page, in the hosted pages' shared look (src/platform/hosted-pages.ts): no script, no
 * external asset, readable on a phone. Every value that comes from a person is escaped.
 */

type Page<T extends PayPage['type']> = Extract<PayPage, { type: T }>;

const EXTRA_STYLE = `
.amount{font-size:2.1rem;font-weight:800;letter-spacing:-.01em;margin:.2rem 0 .4rem}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:.6rem 0}
dl.facts dt{color:#4b5563}dl.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.declined{background:#fdecee;border:1px solid #b91c1c;color:#7f1d1d;border-radius:.4rem;padding:.6rem .8rem;margin-bottom:1rem}
.receipt{border:1px dashed #9ca3af;border-radius:.5rem;padding:1rem;margin-top:.6rem}
.receipt h2{margin-top:0}
.print-hint{margin-top:1rem}
form.card h2{margin-top:0}
@media print{
  body{background:#fff}
  header{background:#fff;color:#000;border-bottom:2px solid #000}
  .card{box-shadow:none;border:0}
  .print-hint,footer,.no-print{display:none}
}
`;

function layout(title: string, orgName: string | null, body: string): string {
  return hostedLayout(
    title,
    orgName,
    body,
    `Your card details are entered on the payment processor's secure page; ${
      orgName ? escapeHtml(orgName) : 'the business'
    } never sees the card number.`,
    EXTRA_STYLE,
  );
}

function askForNew(org: PayOrganization | null): string {
  return askForNewLink(org, (who) => `Please contact ${who} if you still need to pay: they can send you a new link.`);
}

function facts(d: PayDetails): string {
  return `<dl class="facts">
${d.reference ? `<dt>Reference</dt><dd id="reference">${escapeHtml(d.reference)}</dd>` : ''}
<dt>For</dt><dd id="description">${escapeHtml(d.description)}</dd>
</dl>`;
}

export function renderPayForm(p: Page<'form'>): string {
  const { details: d, organization: org } = p;
  const declined = p.lastFailure
    ? `<div class="declined" role="alert" id="last-failure"><strong>Your last payment did not go through:</strong> <span id="failure-reason">${escapeHtml(p.lastFailure)}</span><br>Nothing was charged. You can try again with the same or another card or account.</div>`
    : '';
  const error = p.error ? `<div class="summary" role="alert" id="form-errors">${escapeHtml(p.error)}</div>` : '';
  const consent = (id: string, text: string) =>
    `<div class="consent"><input type="checkbox" id="${id}" name="accept" value="yes" required><label for="${id}">${escapeHtml(text)}</label></div>`;
  const bank = p.bank
    ? `<form class="card" method="post" novalidate id="bank-form">
<input type="hidden" name="method" value="BANK_ACCOUNT">
<h2>Pay in full from a bank account</h2>
<p class="muted">You will enter a US bank account on the payment processor's secure page. Your bank confirms the payment in a few days.</p>
${consent('accept-bank', p.bank.acceptanceText)}
<button type="submit" id="pay-bank">Pay ${escapeHtml(d.amount)} from my bank account</button>
</form>`
    : '';
  const installments = p.installments
    ? `<form class="card" method="post" novalidate id="installments-form">
<input type="hidden" name="method" value="INSTALLMENTS">
<h2>Pay in 4 installments</h2>
<p class="muted">Your card is saved on the payment processor's secure page and charged 4 times:</p>
<dl class="facts" id="installment-schedule">
${p.installments.parts.map((part, i) => `<dt>${i === 0 ? 'Today' : escapeHtml(part.when)}</dt><dd>${escapeHtml(part.amount)}</dd>`).join('\n')}
</dl>
${consent('accept-installments', p.installments.acceptanceText)}
<button type="submit" id="pay-in-4">Pay in 4: ${escapeHtml(p.installments.parts[0]!.amount)} today</button>
</form>`
    : '';
  return layout(
    'Payment request',
    org.name,
    `<div class="card">
<h1>Payment request</h1>
<p>Hi ${escapeHtml(d.customerName)}, <strong>${escapeHtml(org.name)}</strong> is requesting a payment of</p>
<div class="amount" id="amount">${escapeHtml(d.amount)}</div>
${facts(d)}
<p class="muted" id="expires">This link works until ${escapeHtml(formatWhen(d.expiresAt, org.locale, org.timeZone))}.</p>
</div>
${declined || error ? `<div class="card">${declined}${error}</div>` : ''}
<form class="card" method="post" novalidate id="card-form">
<input type="hidden" name="method" value="CARD">
<h2>Pay in full by card</h2>
<p class="muted">You will enter your card on the payment processor's secure page, then come back here for your receipt.</p>
<button type="submit" id="pay">${p.lastFailure ? 'Try again' : 'Pay'} ${escapeHtml(d.amount)}</button>
</form>
${installments}
${bank}`,
  );
}

export function renderPayPaid(p: Page<'paid'>): string {
  const { details: d, organization: org, receipt: r } = p;
  return layout(
    'Payment received',
    org.name,
    `<div class="card" id="paid">
<div class="ok no-print" aria-hidden="true">✓</div>
<h1>Thank you, your payment was received</h1>
<p class="no-print">${r.emailedTo ? `A receipt is also emailed to <strong>${escapeHtml(r.emailedTo)}</strong>.` : 'Keep this receipt for your records.'}</p>
<div class="receipt" id="receipt">
<h2>Receipt — ${escapeHtml(org.name)}</h2>
<dl class="facts">
${
  r.installments
    ? `<dt>Paid today</dt><dd id="receipt-amount">${escapeHtml(r.installments.paidToday)} (installment 1 of ${r.installments.parts.length})</dd>
<dt>Total</dt><dd id="receipt-total">${escapeHtml(r.amount)}</dd>`
    : `<dt>Amount paid</dt><dd id="receipt-amount">${escapeHtml(r.amount)}</dd>`
}
<dt>Date</dt><dd id="receipt-date">${escapeHtml(formatWhen(r.paidAt, org.locale, org.timeZone))}</dd>
<dt>Paid with</dt><dd id="receipt-method">${escapeHtml(r.methodLabel)}</dd>
${d.reference ? `<dt>Reference</dt><dd id="receipt-reference">${escapeHtml(d.reference)}</dd>` : ''}
<dt>For</dt><dd>${escapeHtml(d.description)}</dd>
<dt>Paid by</dt><dd>${escapeHtml(d.customerName)}</dd>
<dt>Confirmation</dt><dd id="receipt-confirmation">${escapeHtml(r.paymentId.slice(0, 8).toUpperCase())}</dd>
</dl>
${
  r.installments
    ? `<h2>Your installments</h2>
<dl class="facts" id="installment-plan">
${r.installments.parts.map((i) => `<dt>${escapeHtml(i.when)}</dt><dd>${escapeHtml(i.amount)} — ${i.status === 'PAID' ? 'paid' : i.status === 'SCHEDULED' ? 'scheduled' : escapeHtml(i.status.toLowerCase())}</dd>`).join('\n')}
</dl>
<p class="muted">The next installments are charged to ${escapeHtml(r.methodLabel)} on these dates; you get a reminder before each.</p>`
    : ''
}
</div>
<p class="muted print-hint">To print this receipt or save it as a PDF, use your browser's Print command.</p>
</div>`,
  );
}

export function renderPayProcessing(p: Page<'processing'>): string {
  if (p.bank) {
    return layout(
      'Payment processing',
      p.organization.name,
      `<div class="card" id="processing" data-method="bank">
<h1>Your payment is processing — your bank will confirm it in a few days</h1>
<p>Your bank payment of <strong>${escapeHtml(p.details.amount)}</strong> was sent to your bank. There is nothing more to do: open this link again in a few days to see your receipt. If your bank returns the payment, nothing is taken and you can pay again on this link.</p>
</div>`,
    );
  }
  return layout(
    'Payment in progress',
    p.organization.name,
    `<div class="card" id="processing">
<h1>Your payment is being processed</h1>
<p>Your payment of <strong>${escapeHtml(p.details.amount)}</strong> is being confirmed with the payment processor. Open this link again in a few minutes to see the result; you will not be charged twice.</p>
</div>`,
  );
}

export function renderPayClosed(p: Page<'closed'>): string {
  const at = p.at ? escapeHtml(formatWhen(p.at, p.organization.locale, p.organization.timeZone)) : null;
  const [title, what] =
    p.reason === 'CANCELLED'
      ? ['This payment request was cancelled', `${escapeHtml(p.organization.name)} cancelled it${at ? ` on ${at}` : ''}. Nothing was charged.`]
      : ['This payment link has expired', `It stopped working${at ? ` on ${at}` : ''}. Nothing was charged.`];
  return layout(
    title,
    p.organization.name,
    `<div class="card" id="link-closed" data-reason="${p.reason}">
<h1>${title}</h1>
<p>${what}</p>
<p>${askForNew(p.organization)}</p>
</div>`,
  );
}

export function renderPayLeft(p: Page<'left'>): string {
  return layout(
    'Not paid yet',
    p.organization?.name ?? null,
    `<div class="card" id="left-gateway">
<h1>You have not paid yet</h1>
<p>You left the secure payment page before paying. Nothing was charged. To pay, open the link from your email or text message again: it works until it expires.</p>
</div>`,
  );
}

export function renderPayRefused(p: Page<'refused'>): string {
  return layout(
    'Payment not possible',
    p.organization.name,
    `<div class="card" id="refused">
<h1>This payment cannot be made here</h1>
<p>${escapeHtml(p.message)}</p>
<p>${askForNew(p.organization)}</p>
</div>`,
  );
}

const errorPages = hostedErrorPages(layout, { link: 'payment link', askForNew: false, nothingDone: 'Nothing was charged.' });
export const renderPayUnknown = errorPages.unknown;
export const renderPayUnavailable = errorPages.unavailable;
export const renderPayTooMany = errorPages.tooMany;
