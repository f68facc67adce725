import type { CheckoutOutcome, SafeValues } from './sandbox-checkout.service.js';
import { SANDBOX_TEST_BANK_ACCOUNTS, SANDBOX_TEST_CARDS, SANDBOX_TEST_ROUTING_NUMBER } from './sandbox-test-numbers.js';

/**
 * Server-side HTML of the sandbox's hosted setup page: no script, no external asset, readable on a phone. The card/bank
 * switch is two radio buttons and CSS. Inputs have stable names and ids (browser tests fill them by name).
 */

type FormOutcome = Extract<CheckoutOutcome, { type: 'form' }>;
type AuthenticateOutcome = Extract<CheckoutOutcome, { type: 'authenticate' }>;
type ClosedOutcome = Extract<CheckoutOutcome, { type: 'closed' }>;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1a1f36}
main{max-width:30rem;margin:0 auto;padding:1rem}
.banner{background:#fff4d6;border:2px dashed #c98a00;color:#5c3d00;border-radius:.5rem;padding:.6rem .8rem;font-weight:600;margin-bottom:1rem}
.banner small{display:block;font-weight:400}
.card{background:#fff;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1.25rem}
h1{font-size:1.3rem;margin:0 0 1rem}
label{display:block;font-weight:600;font-size:.9rem;margin:.8rem 0 .25rem}
input,select{width:100%;font-size:16px;padding:.65rem .7rem;border:1px solid #c1c9d2;border-radius:.4rem;background:#fff}
input:focus,select:focus{outline:2px solid #635bff;border-color:#635bff}
.row{display:flex;gap:.75rem;align-items:flex-end}.row>div{flex:1;min-width:0}
button{width:100%;margin-top:1.2rem;padding:.8rem;font-size:1rem;font-weight:600;border:0;border-radius:.4rem;background:#635bff;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#c0123c;border:1px solid #c0123c}
.error{background:#fdecee;border:1px solid #c0123c;color:#8a0c2b;border-radius:.4rem;padding:.6rem .8rem;margin-bottom:1rem}
.kinds{display:flex;gap:.5rem;margin-bottom:.5rem}
.kind-radio{position:absolute;opacity:0;width:1px;height:1px;margin:0}
.kinds label{flex:1;margin:0;text-align:center;padding:.6rem;border:1px solid #c1c9d2;border-radius:.4rem;cursor:pointer;font-weight:600}
#kind-card:checked~.kinds label[for=kind-card],#kind-bank:checked~.kinds label[for=kind-bank]{border-color:#635bff;color:#635bff;background:#f2f1ff}
#kind-card:focus-visible~.kinds label[for=kind-card],#kind-bank:focus-visible~.kinds label[for=kind-bank]{outline:2px solid #635bff}
.bank-fields{display:none}
.single .bank-fields{display:block}
#kind-bank:checked~.card-fields{display:none}
#kind-bank:checked~.bank-fields{display:block}
.mandate{font-size:.8rem;color:#555;margin-top:.8rem}
.help{margin-top:1rem;font-size:.85rem}
.help table{width:100%;border-collapse:collapse}
.help td,.help th{text-align:left;padding:.25rem .3rem;border-bottom:1px solid #e3e8ee;vertical-align:top;overflow-wrap:anywhere}
.help code{font-size:.85rem;white-space:nowrap}
.cancel{display:block;text-align:center;margin-top:1rem;color:#635bff}
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} — Sandbox</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<div class="banner" role="note" id="sandbox-banner">Sandbox — test numbers only<small>No real card or bank account is accepted here and nothing is ever charged.</small></div>
${body}
</main>
</body>
</html>`;
}

function field(id: string, label: string, attrs: string, value = ''): string {
  return `<label for="${id}">${label}</label><input id="${id}" name="${id}" ${attrs} value="${escapeHtml(value)}">`;
}

function cardFields(v: SafeValues, required: string): string {
  return `<div class="card-fields">
${field('number', 'Card number', `type="text" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" maxlength="23"${required}`)}
<div class="row">
<div>${field('exp_month', 'Exp. month', `type="text" inputmode="numeric" autocomplete="cc-exp-month" placeholder="MM" maxlength="2"${required}`, v.exp_month)}</div>
<div>${field('exp_year', 'Exp. year', `type="text" inputmode="numeric" autocomplete="cc-exp-year" placeholder="YYYY" maxlength="4"${required}`, v.exp_year)}</div>
<div>${field('cvc', 'CVC', `type="text" inputmode="numeric" autocomplete="cc-csc" placeholder="123" maxlength="4"${required}`)}</div>
</div>
${field('name', 'Name on card', 'type="text" autocomplete="cc-name" maxlength="100"', v.name)}
</div>`;
}

function bankFields(v: SafeValues, required: string): string {
  const option = (value: string, label: string, current: string) =>
    `<option value="${value}"${value === current ? ' selected' : ''}>${label}</option>`;
  return `<div class="bank-fields">
${field('account_holder_name', 'Account holder name', `type="text" autocomplete="name" maxlength="100"${required}`, v.account_holder_name)}
${field('routing_number', 'Routing number', `type="text" inputmode="numeric" placeholder="${SANDBOX_TEST_ROUTING_NUMBER}" maxlength="9"${required}`, v.routing_number)}
${field('account_number', 'Account number', `type="text" inputmode="numeric" placeholder="000123456789" maxlength="17"${required}`)}
<div class="row">
<div><label for="account_type">Account type</label><select id="account_type" name="account_type">${option('checking', 'Checking', v.account_type)}${option('savings', 'Savings', v.account_type)}</select></div>
<div><label for="account_holder_type">Holder</label><select id="account_holder_type" name="account_holder_type">${option('individual', 'Individual', v.account_holder_type)}${option('company', 'Company', v.account_holder_type)}</select></div>
</div>
<p class="mandate">By saving this account you authorize the business that sent you this link to debit it for payments you agree to, until you revoke this authorization.</p>
</div>`;
}

function help(o: FormOutcome): string {
  const cards = o.kinds.includes('CARD')
    ? `<p><strong>Test cards</strong> — any future expiry, any 3-digit CVC (4 digits for American Express):</p>
<table><tbody>${SANDBOX_TEST_CARDS.map((c) => `<tr><td><code>${c.number.replace(/(\d{4})(?=\d)/g, '$1 ')}</code></td><td>${escapeHtml(c.description)}</td></tr>`).join('')}</tbody></table>`
    : '';
  const banks = o.kinds.includes('BANK_ACCOUNT')
    ? `<p><strong>Test bank accounts</strong> — routing number <code>${SANDBOX_TEST_ROUTING_NUMBER}</code> with:</p>
<table><tbody>${SANDBOX_TEST_BANK_ACCOUNTS.map((a) => `<tr><td><code>${a.accountNumber}</code></td><td>${escapeHtml(a.description)}</td></tr>`).join('')}</tbody></table>`
    : '';
  return `<details class="help" open><summary>Which numbers work here?</summary>${cards}${banks}<p>Any other number, including a real card or account, is refused.</p></details>`;
}

export function renderCheckoutForm(o: FormOutcome): string {
  const both = o.kinds.includes('CARD') && o.kinds.includes('BANK_ACCOUNT');
  // With both kinds, the hidden half of the form must not block submission, so the browser's `required` is only
  // used with one kind; the server checks every field either way.
  const required = both ? '' : ' required';
  const switcher = both
    ? `<input type="radio" class="kind-radio" name="kind" value="CARD" id="kind-card"${o.values.kind === 'CARD' ? ' checked' : ''}>
<input type="radio" class="kind-radio" name="kind" value="BANK_ACCOUNT" id="kind-bank"${o.values.kind === 'BANK_ACCOUNT' ? ' checked' : ''}>
<div class="kinds" role="radiogroup" aria-label="Payment method type"><label for="kind-card">Card</label><label for="kind-bank">Bank account</label></div>`
    : `<input type="hidden" name="kind" value="${o.kinds[0]}">`;
  const title = both ? 'Save a card or bank account' : o.kinds[0] === 'CARD' ? 'Save a card' : 'Save a bank account';
  const error = o.error ? `<div class="error" role="alert" id="error">${escapeHtml(o.error)}</div>` : '';
  return page(
    title,
    `<div class="card">
<h1>${title}</h1>
${error}
<form method="post" action="/sandbox-gateway/checkout/${encodeURIComponent(o.session.id)}" autocomplete="off"${both ? '' : ' class="single"'}>
${switcher}
${o.kinds.includes('CARD') ? cardFields(o.values, required) : ''}
${o.kinds.includes('BANK_ACCOUNT') ? bankFields(o.values, required) : ''}
<button type="submit" id="save">Save payment method</button>
</form>
<a class="cancel" href="${escapeHtml(o.cancelUrl)}" id="cancel">Cancel and go back</a>
</div>
${help(o)}`,
  );
}

export function renderAuthenticate(o: AuthenticateOutcome): string {
  const action = `/sandbox-gateway/checkout/${encodeURIComponent(o.session.id)}/authenticate`;
  return page(
    'Confirm your card',
    `<div class="card">
<h1>Confirm your card</h1>
<p>Your bank asks you to confirm the ${escapeHtml(o.card.brand)} card ending in ${escapeHtml(o.card.last4)} (3-D Secure). This is a test: choose what the bank answers.</p>
<form method="post" action="${action}"><input type="hidden" name="action" value="complete"><button type="submit" id="complete-authentication">Complete authentication</button></form>
<form method="post" action="${action}"><input type="hidden" name="action" value="fail"><button type="submit" class="secondary" id="fail-authentication">Fail authentication</button></form>
</div>`,
  );
}

export function renderClosed(o: ClosedOutcome): string {
  const next = o.continueUrl ? `<a class="cancel" href="${escapeHtml(o.continueUrl)}" id="continue">Continue</a>` : '';
  return page(o.title, `<div class="card"><h1>${escapeHtml(o.title)}</h1><p>${escapeHtml(o.message)}</p>${next}</div>`);
}
