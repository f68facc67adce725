import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../src/config/index.js';
import { PaymentGateway, type SandboxGateway } from '../../src/infra/payment-gateway/index.js';
import { signWebhook } from '../../src/infra/payment-gateway/sandbox/sandbox-webhook-signature.js';
import { REDIS } from '../../src/infra/redis.js';
import { createCustomer } from '../support/builders.js';
import { signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';
import { call, clip, dispatchMessages, type Failure, FUZZ_SEED, fuzzRuns, lastLinkTo, report, stackTraceIn } from './support/fuzz.js';

/**
 * The public HTTP surface outside GraphQL: the hosted pages' forms (/p profile requests, /a agreement sign-up, the
 * sandbox checkout page, /r receipts, /pay if present) with random, huge and unicode fields and bad tokens, and the
 * webhook endpoint with random bodies and headers (malformed JSON, huge bodies, bad signatures, and correctly signed
 * garbage). Every answer: a 2xx/3xx/4xx (webhooks: 200 or 400), never a 5xx, never a stack trace in the body.
 */

const SEED = FUZZ_SEED;

const POISON = ['', ' ', 'nul\u0000byte', 'lone \uD800', '\u202Eevil', 'שלום', '👨‍👩‍👧‍👦', '<script>alert(1)</script>', "' or 1=1 --", 'x'.repeat(20_000),
  '😀'.repeat(5_000), '-1', '1e30', '99999999999999999999999999', 'yes', 'no', 'CARD', 'BANK_ACCOUNT', '4242424242424242', '12', '2031', '123'];
const FIELDS = ['name', 'email', 'phone', 'line1', 'line2', 'city', 'region', 'postalCode', 'country', 'kind', 'consent', 'accept', 'version',
  'number', 'exp_month', 'exp_year', 'cvc', 'action', 'routing_number', 'account_number', 'account_holder_type', '__proto__', 'constructor', 'a[b][c]', 'x[]'];

describe('fuzz: hosted pages and the webhook endpoint', () => {
  let t: TestApp;
  let redis: Redis;
  let secret: string;
  const tokens: Record<string, string[]> = { p: [], a: [], r: [], checkout: [] };
  let chargeIds: string[] = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'settle-fuzz-pages-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    redis = t.app.get<Redis>(REDIS);
    secret = (t.app.get(PaymentGateway) as SandboxGateway).webhookSecret();
    const owner = await signUpOrganization(t.gql, 'Hosted Fuzz Co');

    // A profile-request link (/p) and, through its form, a sandbox checkout session.
    for (let i = 0; i < 2; i++) {
      const customer = await createCustomer(owner.client);
      await owner.client.ok(`mutation($i: SendPaymentProfileRequestInput!) { sendPaymentProfileRequest(input: $i) { id } }`, {
        i: { customerId: customer.id, channels: ['EMAIL'] },
      });
      await dispatchMessages(t);
      const link = await lastLinkTo(t, dataDir, customer.email, '/p');
      if (!link) continue;
      tokens.p!.push(link.split('/p/')[1]!);
      if (i === 0) {
        const form = { name: 'Pat Rivera', email: customer.email, phone: '+1 802 555 0199', line1: '40 Lake Rd', city: 'Stowe', region: 'VT',
          postalCode: '05672', country: 'US', kind: 'CARD', consent: 'yes' };
        const res = await call(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
        const session = /\/sandbox-gateway\/checkout\/([^/?#]+)/.exec(res.headers.get('location') ?? '')?.[1];
        if (session) tokens.checkout!.push(session);
      }
    }
    // An agreement sign-up link (/a).
    const signer = await createCustomer(owner.client);
    const quote = await owner.client.ok(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id } }`, {
      i: { customerId: signer.id, name: 'Pool care', terms: 'Weekly cleaning.', frequency: 'MONTHLY', startDate: '2027-04-01',
        lines: [{ description: 'Weekly pool cleaning', quantity: '4', unitPrice: '4500' }] },
    });
    await owner.client.ok(`mutation($id: ID!) { sendAgreement(id: $id) { id } }`, { id: quote.createAgreementQuote.id });
    await dispatchMessages(t);
    const agreementLink = await lastLinkTo(t, dataDir, signer.email, '/a');
    if (agreementLink) tokens.a!.push(agreementLink.split('/a/')[1]!);
    // A receipt link (/r): the receipt email carries {Secure Link} with this template.
    await owner.client.ok(`mutation($i: SaveNotificationTemplateInput!) { saveNotificationTemplate(input: $i) { kind } }`, {
      i: { kind: 'RECEIPT', channel: 'EMAIL', subject: 'Receipt', body: 'Receipt {Reference} for {Amount}: {Secure Link}' },
    });
    const payer = await createCustomer(owner.client);
    await owner.client.ok(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
      i: { customerId: payer.id, method: 'CASH', amount: { amount: '5000', currency: 'USD' } },
    }).catch(() => undefined);
    await t.drainOutbox();
    await dispatchMessages(t);
    const receiptLink = await lastLinkTo(t, dataDir, payer.email, '/r');
    if (receiptLink) tokens.r!.push(receiptLink.split('/r/')[1]!);
    // A real sandbox charge, so signed webhooks can name it.
    const paid = await owner.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId: payer.id, token: 'pm_card_visa', consentGiven: true },
    });
    const payment = await owner.client.request(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { gatewayChargeId } }`, {
      i: { customerId: payer.id, paymentMethodId: paid.savePaymentMethod.paymentMethod.id, amount: { amount: '700', currency: 'USD' } },
    });
    chargeIds = [payment.data?.takePayment?.gatewayChargeId].filter(Boolean);
  });
  afterAll(() => t?.close());

  /** Forgets the unknown-link counts, so the real links stay reachable for the whole pass (the limiter is tested elsewhere). */
  async function resetLinkLimits(): Promise<void> {
    const keys = await redis.keys(`${t.app.get(AppConfig).queuePrefix}:*:miss:*`);
    if (keys.length) await redis.del(...keys);
  }

  it('found real links to fuzz behind (profile request, agreement, checkout session)', () => {
    expect(tokens.p!.length).toBeGreaterThan(0);
    expect(tokens.a!.length).toBeGreaterThan(0);
    expect(tokens.checkout!.length).toBeGreaterThan(0);
  });

  it(`hosted pages answer random forms and tokens without a 5xx or a stack trace (${fuzzRuns(150)} requests)`, async () => {
    const badToken = fc.oneof(
      fc.constantFrom('x'.repeat(43), 'short', '%00', '..%2F..%2Fetc', '%F0%9F%98%80', 'a'.repeat(5_000), '%E0%A4%A', 'session', '%uD800'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }).map(encodeURIComponent),
    );
    const route = fc.oneof(
      fc.constantFrom('p', 'a', 'r', 'checkout', 'pay').chain((r) =>
        fc.oneof(
          { arbitrary: fc.constantFrom(...(tokens[r]?.length ? tokens[r]! : ['x'.repeat(43)])), weight: 2 },
          { arbitrary: badToken, weight: 1 },
        ).map((tok) => (r === 'checkout' ? `/sandbox-gateway/checkout/${tok}` : `/${r}/${tok}`)),
      ),
      fc.constantFrom('/p/session/complete?session=%00', '/p/session/left?request=x', '/a/session/complete?session[a]=1', '/a/session/left?link=' + 'x'.repeat(3000),
        '/sandbox-gateway/checkout/x/authenticate', '/sandbox-gateway/v1/payment_methods'),
    );
    const formValue = fc.oneof(fc.constantFrom(...POISON), fc.string({ unit: 'binary', maxLength: 30 }));
    const form = fc.array(fc.tuple(fc.constantFrom(...FIELDS), formValue), { maxLength: 14 });
    const encoding = fc.constantFrom('form', 'form', 'form', 'json', 'garbage-json', 'text', 'huge');
    const request = fc.record({ method: fc.constantFrom('GET', 'POST', 'POST', 'POST'), route, form, encoding });

    const failures: Failure[] = [];
    for (const [i, r] of fc.sample(request, { seed: SEED, numRuns: fuzzRuns(150) }).entries()) {
      if (i % 10 === 0) await resetLinkLimits();
      const params = new URLSearchParams(r.form);
      const init: RequestInit = { method: r.method };
      if (r.method === 'POST') {
        const bodies: Record<string, [string, string]> = {
          form: ['application/x-www-form-urlencoded', params.toString()],
          json: ['application/json', JSON.stringify(Object.fromEntries(r.form))],
          'garbage-json': ['application/json', '{"name": "x", '],
          text: ['text/plain', 'name=x'],
          huge: ['application/x-www-form-urlencoded', `name=${'x'.repeat(300_000)}`],
        };
        const [type, body] = bodies[r.encoding]!;
        init.headers = { 'content-type': type, 'user-agent': r.form[0]?.[1]?.slice(0, 200).replace(/[^\x20-\x7e]/g, '?') || 'fuzz' };
        init.body = body;
      }
      const answer = await call(`${t.url}${r.route}`, init);
      const label = `${i}: ${r.method} ${clip(r.route, 120)} ${r.encoding} ${clip(JSON.stringify(r.form), 300)}`;
      if (answer.status === 0) failures.push({ case: label, problem: 'no answer', detail: answer.text });
      if (answer.status >= 500) failures.push({ case: label, problem: `HTTP ${answer.status}`, detail: answer.text });
      const trace = stackTraceIn(answer.text, String(init.body ?? '') + r.route);
      if (trace) failures.push({ case: label, problem: `stack trace in the page (${JSON.stringify(trace)})`, detail: answer.text });
    }
    expect(report('hosted pages', SEED, failures)).toBe('');
  });

  it(`the webhook endpoint answers random bodies and signatures with 200 or 400, never a 5xx (${fuzzRuns(150)} requests)`, async () => {
    const now = () => t.clock.now();
    const garbage = fc.oneof(fc.constantFrom(...POISON), fc.string({ unit: 'binary', maxLength: 30 }), fc.integer(), fc.constant(null), fc.double(), fc.boolean(), fc.constant({}), fc.constant([]));
    const realish = fc.oneof(garbage, fc.constantFrom(...(chargeIds.length ? chargeIds : ['pi_x'])));
    const event = fc.record(
      {
        id: fc.oneof(garbage, fc.uuid().map((u) => `evt_${u}`)),
        object: fc.constant('event'),
        type: fc.oneof(garbage, fc.constantFrom('payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.processing', 'payment_intent.canceled', 'charge.refunded')),
        created: fc.oneof(garbage, fc.constant(Math.floor(Date.now() / 1000)), fc.constantFrom(1e20, -1, 8.64e15)),
        data: fc.oneof(
          garbage,
          fc.record({
            object: fc.record(
              {
                id: realish,
                object: fc.oneof(fc.constant('payment_intent'), garbage),
                amount: fc.oneof(fc.integer(), garbage, fc.constant(1e30)),
                currency: fc.oneof(fc.constantFrom('usd', 'xxx', '€', ''), garbage),
                status: fc.oneof(fc.constantFrom('succeeded', 'processing', 'requires_payment_method', 'canceled'), garbage),
                payment_method: garbage,
                created: garbage,
                metadata: fc.oneof(garbage, fc.dictionary(fc.string({ maxLength: 10 }), garbage, { maxKeys: 4 })),
                last_payment_error: fc.oneof(garbage, fc.record({ code: garbage, message: garbage })),
              },
              { requiredKeys: [] },
            ),
          }),
        ),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      { arbitrary: event.map((e) => JSON.stringify(e)), weight: 6 },
      { arbitrary: fc.json(), weight: 2 },
      { arbitrary: fc.constantFrom('', '{', '{"id":', 'null', '[]', '"x"', '\u0000', '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":null}}'), weight: 2 },
      { arbitrary: fc.constant(JSON.stringify({ id: 'evt_huge', type: 'x', pad: 'x'.repeat(2_000_000) })), weight: 1 },
      { arbitrary: fc.constant(`${'['.repeat(50_000)}${']'.repeat(50_000)}`), weight: 1 },
    );
    const signature = fc.constantFrom('valid', 'valid', 'valid', 'none', 'garbage', 'stale', 'other-body', 'wrong-secret', 'many', 'future');
    const contentType = fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1');
    const failures: Failure[] = [];
    for (const [i, [b, sig, type]] of fc.sample(fc.tuple(body, signature, contentType), { seed: SEED, numRuns: fuzzRuns(150) }).entries()) {
      const headerFor: Record<string, () => string | undefined> = {
        valid: () => signWebhook(b, secret, now()),
        none: () => undefined,
        garbage: () => 't=abc,v1=zz,v0=' + 'x'.repeat(500),
        stale: () => signWebhook(b, secret, new Date(now().getTime() - 3_600_000)),
        'other-body': () => signWebhook(`${b} `, secret, now()),
        'wrong-secret': () => signWebhook(b, 'whsec_wrong', now()),
        many: () => Array.from({ length: 60 }, () => signWebhook(b, 'whsec_wrong', now())).join(','),
        future: () => signWebhook(b, secret, new Date(now().getTime() + 86_400_000 * 365 * 100)),
      };
      const header = headerFor[sig]!();
      const answer = await call(`${t.url}/webhooks/payments`, {
        method: 'POST',
        headers: { 'content-type': type, ...(header ? { 'stripe-signature': header } : {}) },
        body: b,
      });
      const label = `${i}: signature ${sig}, ${type}, body ${clip(b, 300)}`;
      // 200 handled/ignored, 400 refused; the HTTP layer's own refusals (413 too large, 415 charset) are 4xx too.
      if (![200, 400, 413, 415].includes(answer.status)) failures.push({ case: label, problem: `HTTP ${answer.status}`, detail: answer.text });
      const trace = stackTraceIn(answer.text, b);
      if (trace) failures.push({ case: label, problem: `stack trace in the answer (${JSON.stringify(trace)})`, detail: answer.text });
    }
    expect(report('webhooks', SEED, failures)).toBe('');
  });
});
