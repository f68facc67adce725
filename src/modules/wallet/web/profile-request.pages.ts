import { askForNewLink, escapeHtml, formatWhen, hostedErrorPages, hostedLayout } from '../../../platform/hosted-pages.js';
import type { FormField, HostedPage } from '../application/profile-requests.hosted-page.js';
import { PaymentMethodKind } from '../domain/payment-method.entity.js';
import { ProfileRequestPurpose } from '../domain/payment-profile-request.entity.js';

/**
 * Server-side HTML of the payment profile request pages: no script, no external asset, readable on a phone. Every
 * value that comes from a person (names, the staff note, what was typed) is escaped. Inputs have stable names and
 * ids (browser tests fill them by name).
 */

type Page<T extends HostedPage['type']> = Extract<HostedPage, { type: T }>;

export { escapeHtml };

function layout(title: string, orgName: string | null, body: string): string {
  return hostedLayout(
    title,
    orgName,
    body,
    `Your card or bank details are entered on the payment processor's secure page. ${
      orgName ? escapeHtml(orgName) : 'The organization'
    } keeps only the last 4 digits, the expiry and your billing address.`,
  );
}

const when = formatWhen;

const LABELS: Record<FormField | 'consent', string> = {
  name: 'Full name',
  email: 'Email',
  phone: 'Mobile phone',
  line1: 'Street address',
  line2: 'Apartment, suite, unit',
  city: 'City',
  region: 'State / province',
  postalCode: 'ZIP / postal code',
  country: 'Country code',
  kind: 'Payment method',
  consent: 'Authorization',
};

export function renderForm(p: Page<'form'>): string {
  const errorOf = (f: FormField | 'consent') => p.errors[f];
  const input = (f: FormField, attrs: string, optional = false) => {
    const error = errorOf(f);
    return `<div class="${error ? 'invalid' : ''}">
<label for="${f}">${LABELS[f]}${optional ? ' <span class="opt">(optional)</span>' : ''}</label>
<input id="${f}" name="${f}" value="${escapeHtml(p.values[f])}" ${attrs}${error ? ` aria-invalid="true" aria-describedby="${f}-error"` : ''}>
${error ? `<p class="field-error" id="${f}-error">${escapeHtml(error)}</p>` : ''}
</div>`;
  };
  const problems = Object.entries(p.errors) as [FormField | 'consent', string][];
  const summary = problems.length
    ? `<div class="summary" role="alert" id="form-errors"><strong>Please check ${problems.length === 1 ? 'this field' : 'these fields'}:</strong><ul>${problems
        .map(([f, m]) => `<li><a href="#${f}">${LABELS[f]}</a>: ${escapeHtml(m)}</li>`)
        .join('')}</ul></div>`
    : '';
  const kindChoice =
    p.kinds.length > 1
      ? `<fieldset class="${errorOf('kind') ? 'invalid' : ''}"><legend>What would you like to add?</legend>
${[PaymentMethodKind.CARD, PaymentMethodKind.BANK_ACCOUNT]
  .map(
    (k) =>
      `<label class="choice"><input type="radio" name="kind" id="kind-${k === PaymentMethodKind.CARD ? 'card' : 'bank'}" value="${k}"${
        p.values.kind === k ? ' checked' : ''
      } required> ${k === PaymentMethodKind.CARD ? 'Credit or debit card' : 'Bank account (eCheck / ACH)'}</label>`,
  )
  .join('\n')}
${errorOf('kind') ? `<p class="field-error" id="kind-error">${escapeHtml(errorOf('kind')!)}</p>` : ''}</fieldset>`
      : `<input type="hidden" name="kind" value="${escapeHtml(p.kinds[0]!)}">`;
  const what =
    p.purpose === ProfileRequestPurpose.REPLACE_CARD
      ? `a new card${p.replacing ? ` to replace your ${escapeHtml(p.replacing)}` : ''}`
      : p.kinds.length > 1
        ? 'a card or bank account'
        : p.kinds[0] === PaymentMethodKind.CARD
          ? 'a card'
          : 'a bank account';
  const consentError = errorOf('consent');
  return layout(
    'Add a payment method',
    p.organization.name,
    `<div class="card">
<h1>Add a payment method</h1>
<p>Hi ${escapeHtml(p.customerName)}, <strong>${escapeHtml(p.organization.name)}</strong> asked you to add ${what} to your account.
First check your details and billing address, then you will enter the ${p.kinds.length > 1 ? 'card or bank details' : p.kinds[0] === PaymentMethodKind.CARD ? 'card details' : 'bank details'} on the secure payment page.</p>
${p.note ? `<p class="note" id="staff-note">${escapeHtml(p.note)}</p>` : ''}
<p class="muted">This link works once and until ${escapeHtml(when(p.expiresAt, p.locale, p.timeZone))}.</p>
</div>
<form class="card" method="post" novalidate>
${summary}
<h2>Your details</h2>
${input('name', 'type="text" autocomplete="name" maxlength="200" required')}
${input('email', 'type="email" autocomplete="email" maxlength="320"', true)}
${input('phone', 'type="tel" autocomplete="tel" maxlength="40"', true)}
<h2>Billing address</h2>
<p class="muted">The address your card or bank statements go to. The payment processor checks it.</p>
${input('line1', 'type="text" autocomplete="address-line1" maxlength="200" required')}
${input('line2', 'type="text" autocomplete="address-line2" maxlength="200"', true)}
${input('city', 'type="text" autocomplete="address-level2" maxlength="100" required')}
<div class="row"><div>${input('region', 'type="text" autocomplete="address-level1" maxlength="100"', true)}</div>
<div>${input('postalCode', 'type="text" autocomplete="postal-code" maxlength="20" required')}</div></div>
${input('country', 'type="text" autocomplete="country" maxlength="2" placeholder="US" required')}
${kindChoice}
<div class="${consentError ? 'invalid' : ''}">
<h2>Your authorization</h2>
<p class="muted">${escapeHtml(p.organization.name)} can only keep a payment method on file and charge it for purchases you agree to if you authorize it. You can withdraw this at any time by contacting them.</p>
<div class="consent"><input type="checkbox" id="consent" name="consent" value="yes"${p.consentChecked ? ' checked' : ''} required${
      consentError ? ' aria-invalid="true" aria-describedby="consent-error"' : ''
    }><label for="consent">${escapeHtml(p.consentText)}</label></div>
${consentError ? `<p class="field-error" id="consent-error">${escapeHtml(consentError)}</p>` : ''}
</div>
<button type="submit" id="continue">Continue to secure payment page</button>
</form>`,
  );
}

export function renderClosed(p: Page<'closed'>): string {
  const at = p.at ? escapeHtml(when(p.at, p.locale, p.timeZone)) : null;
  const [title, what] =
    p.reason === 'COMPLETED'
      ? [
          'This link has already been used',
          `It was used${at ? ` on ${at}` : ''}${p.methodLabel ? ` to save ${escapeHtml(p.methodLabel)}` : ''}, and each link works only once. Nothing has been changed.`,
        ]
      : p.reason === 'CANCELLED'
        ? ['This link was cancelled', `${escapeHtml(p.organization.name)} cancelled it${at ? ` on ${at}` : ''}. Nothing was changed.`]
        : ['This link has expired', `It stopped working${at ? ` on ${at}` : ''}. Nothing was changed.`];
  return layout(
    title,
    p.organization.name,
    `<div class="card" id="link-closed" data-reason="${p.reason}">
<h1>${title}</h1>
<p>${what}</p>
<p>${p.reason === 'COMPLETED' ? 'If you need to add another payment method, p' : 'P'}${askForNewLink(p.organization).slice(1)}</p>
</div>`,
  );
}

export function renderLeft(p: Page<'left'>): string {
  return layout(
    'No payment method was saved',
    p.organization?.name ?? null,
    `<div class="card" id="left-gateway">
<h1>No payment method was saved</h1>
<p>You left the secure payment page before saving anything. To continue, open the link from your email or text message again: it still works until it is used or expires.</p>
</div>`,
  );
}

export function renderDone(p: Page<'done'>): string {
  return layout(
    'Payment method saved',
    p.organization.name,
    `<div class="card" id="thank-you">
<div class="ok" aria-hidden="true">✓</div>
<h1>Thank you, your payment method is saved</h1>
<p><strong id="saved-method">${escapeHtml(p.methodLabel)}</strong> is now on file with ${escapeHtml(p.organization.name)}${
      p.replaced ? `, replacing your ${escapeHtml(p.replaced)}` : ''
    }. It will be charged only for purchases you agree to, and you can withdraw your authorization at any time by contacting them.</p>
<p class="muted">You can close this page. This link will not work again.</p>
</div>`,
  );
}

export function renderRefused(p: Page<'refused'>): string {
  return layout(
    'Payment method not saved',
    p.organization.name,
    `<div class="card" id="refused">
<h1>Your payment method was not saved</h1>
<p>${escapeHtml(p.message)}</p>
<p>${
      p.retry
        ? 'Nothing was charged. You can open the link from your email or text message again and try another card or account, or contact ' +
          escapeHtml(p.organization.name) +
          '.'
        : askForNewLink(p.organization)
    }</p>
</div>`,
  );
}

const errorPages = hostedErrorPages(layout, { link: 'link', askForNew: true, nothingDone: 'Nothing was saved or charged.' });
export const renderUnknown = errorPages.unknown;
export const renderUnavailable = errorPages.unavailable;
export const renderTooMany = errorPages.tooMany;
