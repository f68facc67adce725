// `npm run demo [base-url]`: seed 001 ("Automated Billing") against a running Settle (`npm start`), in the sandbox,
// over GraphQL and the hosted pages — the customer's side is done with fetch, posting the forms a browser would.
//
//   npm start                          # in another terminal (PORT, DATA_DIR as you like; no SMTP_URL)
//   npm run demo                       # or: npm run demo -- http://localhost:3456, or SETTLE_URL=... npm run demo
//
// The customer's emails are read where the sandbox mailer writes them (DATA_DIR/mail, DATA_DIR defaulting to .data,
// as for the app): run the demo with the same DATA_DIR as `npm start`. Runs with Node's own TypeScript support.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';

const BASE = (process.argv[2] ?? process.env.SETTLE_URL ?? process.env.PUBLIC_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
const MAIL_DIR = path.resolve(process.env.DATA_DIR ?? '.data', 'mail');
const WAIT_MS = 30_000;

let step = 0;
const say = (text: string) => console.log(`\n${String(++step).padStart(2, ' ')}. ${text}`);
const detail = (text: string) => console.log(`    ${text}`);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function gql(token: string | null, query: string, variables: Json = {}): Promise<Json> {
  const res = await fetch(`${BASE}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Json; errors?: { message: string; extensions?: Json }[] };
  if (body.errors?.length) {
    const e = body.errors[0]!;
    throw new Error(`GraphQL: ${e.message} (${String(e.extensions?.code ?? res.status)})`);
  }
  return body.data!;
}

/** What a browser does with a page: GET or POST a form, without following redirects (we follow them ourselves). */
async function browse(url: string, form?: Record<string, string>) {
  const res = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: { 'user-agent': 'SettleDemo/1.0 (like a phone browser)', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form) : undefined,
  });
  const location = res.headers.get('location');
  return { status: res.status, html: await res.text(), location: location ? new URL(location, url).toString() : null };
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${WAIT_MS / 1000}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const seen = new Set<string>();
/** The next email to `to` whose text matches, from DATA_DIR/mail (each is read once). */
async function nextMail(to: string, match: RegExp): Promise<{ subject: string; text: string }> {
  return until(`an email to ${to} (in ${MAIL_DIR})`, async () => {
    if (!existsSync(MAIL_DIR)) return null;
    for (const file of readdirSync(MAIL_DIR).sort()) {
      if (seen.has(file)) continue;
      const mail = await simpleParser(readFileSync(path.join(MAIL_DIR, file)));
      if (!JSON.stringify(mail.to ?? '').includes(to) || !match.test(mail.text ?? '')) continue;
      seen.add(file);
      return { subject: mail.subject ?? '', text: mail.text ?? '' };
    }
    return null;
  });
}

/** The card form of the sandbox gateway's hosted page, posted as a customer would type it. */
const card = (number: string) => ({ kind: 'CARD', number, exp_month: '12', exp_year: String(new Date().getUTCFullYear() + 3), cvc: '123', name: 'Jordan Blake' });

/** Every named input of a server-rendered form, with its value (what the browser would send back). */
function formValues(html: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const tag of html.match(/<input\b[^>]*>/g) ?? []) {
    const name = /\bname="([^"]*)"/.exec(tag)?.[1];
    if (!name || /type="(checkbox|radio)"/.test(tag)) continue;
    values[name] = (/\bvalue="([^"]*)"/.exec(tag)?.[1] ?? '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return values;
}

const text = (html: string, id: string) => new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html)?.[1]?.trim() ?? '';

async function main(): Promise<void> {
  console.log(`Settle demo — seed 001 "Automated Billing", against ${BASE} (sandbox gateway; emails read from ${MAIL_DIR})`);
  const health = await fetch(`${BASE}/health`).catch(() => null);
  if (!health) throw new Error(`Nothing answers at ${BASE}: start Settle first (npm start), or pass its URL: npm run demo -- http://localhost:3456`);

  const suffix = Math.random().toString(36).slice(2, 8);
  say('A pool service company signs up for Settle.');
  const signUp = (
    await gql(null, `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { organization { id name } } } }`, {
      i: { organizationName: `Blue Lagoon Pools (demo ${suffix})`, name: 'Olive Owner', email: `owner-${suffix}@demo.example`, password: 'demo password 1234', timeZone: 'UTC' },
    })
  ).signUp;
  const owner = signUp.accessToken as string;
  detail(`Organization "${signUp.user.organization.name}" — you are its OWNER.`);

  say('Its dunning policy: suspend an agreement as soon as its payment fails (off by default).');
  await gql(owner, `mutation { updateDunningPolicy(input: { suspend: true, when: IMMEDIATELY }) { suspend when } }`);
  detail('dunningPolicy: suspend = true, when = IMMEDIATELY');

  say('A customer, and a quote for a monthly service agreement.');
  const email = `jordan-${suffix}@demo.example`;
  const customer = (
    await gql(owner, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id name } }`, {
      i: { name: 'Jordan Blake', email, billingAddress: { line1: '12 Main St', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US' } },
    })
  ).createCustomer;
  const today = new Date().toISOString().slice(0, 10);
  const day = Number(today.slice(8, 10));
  // An agreement starts on its billing day (1–28): today, or the 28th just past at the very end of a month.
  const startDate = day <= 28 ? today : `${today.slice(0, 8)}28`;
  const quote = (
    await gql(owner, `mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id name status total { formatted } } }`, {
      i: {
        customerId: customer.id,
        name: 'Weekly pool care',
        terms: 'We clean your pool every week. Either party may end this agreement with 30 days notice.',
        lines: [{ description: 'Weekly cleaning (4 visits)', quantity: '4', unitPrice: '4500' }],
        frequency: 'MONTHLY',
        startDate,
      },
    })
  ).createAgreementQuote;
  const id = quote.id as string;
  detail(`"${quote.name}" for ${customer.name}: ${quote.total.formatted} a month from ${startDate} — ${quote.status}`);

  say('The office sends it: the customer gets an email with a sign-up link.');
  await gql(owner, `mutation($id: ID!) { sendAgreement(id: $id) { status } }`, { id });
  const signupMail = await nextMail(email, /\/a\/[A-Za-z0-9_-]{43}/);
  const signupLink = signupMail.text.match(/https?:\/\/\S+\/a\/[A-Za-z0-9_-]{43}/)![0];
  detail(`Email "${signupMail.subject}" with the link ${signupLink.replace(/[A-Za-z0-9_-]{43}$/, '…')}`);

  say('The customer opens it, accepts the terms and puts a card on file: 4000 0000 0000 0341 (it saves fine, but charges to it are declined).');
  const opened = await browse(signupLink);
  if (opened.status !== 200) throw new Error(`The sign-up page answered ${opened.status}`);
  const version = /name="version" value="(\d+)"/.exec(opened.html)?.[1] ?? '1';
  const accepted = await browse(signupLink, { accept: 'yes', version });
  const saved = await browse(accepted.location!, card('4000000000000341'));
  const done = await browse(saved.location!);
  detail(`Page: "${text(done.html, 'saved-method') || 'saved'}" — the agreement is now ${(await gql(owner, `query($id: ID!) { agreement(id: $id) { status } }`, { id })).agreement.status}`);

  say('An ADMIN gives the final approval: billing starts and the visits are scheduled.');
  await gql(owner, `mutation($id: ID!) { approveAgreement(id: $id) { status } }`, { id });
  const dispatch = async () =>
    ((await gql(owner, `query($f: String!, $t: String!) { dispatchableWorkOrders(from: $f, to: $t, first: 50) { nodes { agreementId scheduledFor } } }`, { f: startDate, t: '2099-12-31' }))
      .dispatchableWorkOrders.nodes as { agreementId: string; scheduledFor: string }[]).filter((w) => w.agreementId === id).map((w) => w.scheduledFor);
  detail(`Technicians' list of visits to make: ${(await dispatch()).join(', ')}`);

  const billAll = async () => {
    const started = (await gql(owner, `mutation { billAgreements { id } }`)).billAgreements;
    return until('the billing run to finish', async () => {
      const run = (await gql(owner, `query($id: ID!) { billingRun(id: $id) { status invoiced charged failed skipped periods(first: 10) { nodes { paymentId label status failureReason } } } }`, { id: started.id })).billingRun;
      return run.status.startsWith('COMPLETED') ? run : null;
    });
  };
  say('One click: "bill all unbilled agreements up to today".');
  const first = await billAll();
  detail(`Billing run ${first.status}: ${first.invoiced} invoiced, ${first.charged} charged, ${first.failed} failed`);
  const period = first.periods.nodes[0];
  detail(`${period.label}: ${period.status} — ${period.failureReason}`);

  say('Dunning: the office is told, the customer gets ONE email with a link to update the card, and the agreement is suspended.');
  const updateMail = await nextMail(email, /\/p\/[A-Za-z0-9_-]{43}/);
  const updateLink = updateMail.text.match(/https?:\/\/\S+\/p\/[A-Za-z0-9_-]{43}/)![0];
  detail(`Email "${updateMail.subject}" with a secure link ${updateLink.replace(/[A-Za-z0-9_-]{43}$/, '…')}`);
  const suspended = await until('the suspension', async () => {
    const a = (await gql(owner, `query($id: ID!) { agreement(id: $id) { status paymentMethodId transitions { to reason } workOrders { scheduledFor status } } }`, { id })).agreement;
    return a.status === 'SUSPENDED' ? a : null;
  });
  detail(`Agreement ${suspended.status}: ${suspended.transitions.at(-1).reason}`);
  detail(`Its visits: ${suspended.workOrders.map((w: Json) => `${w.scheduledFor} ${w.status}`).join(', ')}`);
  detail(`Technicians' list now: ${(await dispatch()).join(', ') || '(nothing — no one is sent to a suspended customer)'}`);
  const inbox = (await gql(owner, `{ myNotifications(first: 5) { nodes { title } } }`)).myNotifications.nodes.map((n: Json) => n.title);
  detail(`The office's notifications: ${inbox.slice(0, 3).map((t: string) => `“${t}”`).join('; ')}`);

  say('The customer follows the link and replaces the card with 4242 4242 4242 4242.');
  const form = await browse(updateLink);
  if (form.status !== 200) throw new Error(`The update page answered ${form.status}`);
  const posted = await browse(updateLink, { ...formValues(form.html), consent: 'yes' });
  if (!posted.location) throw new Error('The update page did not accept the form');
  const replaced = await browse(posted.location, card('4242424242424242'));
  const thanks = await browse(replaced.location!);
  detail(`Page: "${text(thanks.html, 'saved-method') || 'saved'}"`);
  await until('the agreement to bill the new card', async () =>
    (await gql(owner, `query($id: ID!) { agreement(id: $id) { paymentMethodId } }`, { id })).agreement.paymentMethodId !== suspended.paymentMethodId,
  );

  say('The office retries the failed payment (Payment Action Center) — it goes through on the new card.');
  const retried = (await gql(owner, `mutation($id: ID!) { retryPayment(paymentId: $id) { status methodLabel attemptCount amount { formatted } } }`, { id: period.paymentId })).retryPayment;
  detail(`${retried.amount.formatted} ${retried.status} with ${retried.methodLabel} (attempt ${retried.attemptCount})`);

  say('One click reactivates the agreement: its visits are back on the technicians\' list.');
  const reactivated = await until('the reactivation', async () => {
    try {
      return (await gql(owner, `mutation($id: ID!) { reactivateAgreement(id: $id) { status } }`, { id })).reactivateAgreement;
    } catch (error) {
      if (/cannot be reactivated yet/.test((error as Error).message)) return null; // the payment's events are still being handled
      throw error;
    }
  });
  detail(`Agreement ${reactivated.status}; technicians' list: ${(await dispatch()).join(', ')}`);
  await nextMail(email, /active again|reactivated/i).then((m) => detail(`The customer is told: "${m.subject}"`));

  say('Billing again today bills nothing twice (next month, the run bills only the new period).');
  const again = await billAll();
  detail(`Billing run ${again.status}: ${again.invoiced} invoiced, ${again.charged} charged`);

  console.log(`\nDone in the sandbox. Sign in as owner-${suffix}@demo.example / "demo password 1234" to look around (GraphQL at ${BASE}/graphql).`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`\nThe demo stopped: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
