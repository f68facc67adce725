import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { simpleParser } from 'mailparser';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../src/config/index.js';
import { MessageDispatcher } from '../src/modules/notifications/index.js';
import { InstallmentCharges } from '../src/modules/invoicing/application/installment-charges.js';
import { PaymentJanitor } from '../src/modules/payments/application/payment-janitor.js';
import { PaymentRequestExpiry } from '../src/modules/payments/application/payment-request-expiry.js';
import { TakePayment } from '../src/modules/payments/application/take-payment.use-case.js';
import { SandboxWebhooks } from '../src/modules/payments/infrastructure/sandbox-webhooks.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Owner['client'];

const ORG = 'Lakeside Marine & Sports';
const HOUR = 3_600_000;
const REQUEST = `id customerId amount { amount currency formatted } description reference referenceType invoiceId channels sentToEmail
  sentToPhone sendCount status expiresAt attemptCount completedAfterRetry lastFailureMessage paymentId methodLabel completedAt cancelledAt
  cancelledBy consolidatedAt consolidatedBy unread readAt createdBy createdAt recreatedFromId installmentPlanId bankDebitPending
  attempts { number status mode paymentId methodLabel failureMessage }`;
const CREATE = `mutation($i: CreatePaymentRequestInput!) { createPaymentRequest(input: $i) { ${REQUEST} } }`;
const GET = `query($id: ID!) { paymentRequest(id: $id) { ${REQUEST} } }`;
const LIST = (name: string) =>
  `query($f: PaymentRequestFilterInput) { ${name}(filter: $f, first: 50) { totalCount nodes { id status attemptCount completedAfterRetry unread reference } } }`;

describe('payment requests: pay links by email and SMS, the pay page, consolidation', () => {
  let t: TestApp;
  let dataDir: string;
  let owner: Owner;
  let admin: Member;
  let manager: Member;
  let staff: Member;
  let otherStaff: Member;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-payment-requests-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    owner = await signUpOrganization(t.gql, ORG);
    admin = await addUser(owner.client, 'ADMIN');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    otherStaff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  // --- helpers ------------------------------------------------------------------------------------------------------

  const customer = (overrides: Record<string, unknown> = {}) => createCustomer(owner.client, { phone: '+1 802 555 0142', ...overrides });

  async function create(client: Client, input: Record<string, unknown>) {
    const data = await client.ok(CREATE, { i: { channels: ['EMAIL'], amount: { amount: '25000', currency: 'USD' }, description: 'Deposit on the 2024 Lund 1875', ...input } });
    return data.createPaymentRequest as Record<string, any>;
  }
  const get = async (client: Client, id: string) => (await client.ok(GET, { id })).paymentRequest as Record<string, any>;

  async function dispatch(): Promise<void> {
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
  }
  async function emailsTo(address: string) {
    const dir = path.join(dataDir, 'mail');
    if (!existsSync(dir)) return [];
    // Oldest first by when the file was written: the Date header has whole seconds only (ties keep this order).
    const files = readdirSync(dir).sort((a, b) => statSync(path.join(dir, a)).mtimeMs - statSync(path.join(dir, b)).mtimeMs);
    const mails = await Promise.all(files.map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    return mails.filter((m) => JSON.stringify(m.to).includes(address));
  }
  function smsTo(phone: string): { to: string; body: string }[] {
    const file = path.join(dataDir, 'sms', 'outbox.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { to: string; body: string })
      .filter((s) => s.to === phone);
  }
  const LINK = () => new RegExp(`${t.url.replace(/[.]/g, '\\.')}/pay/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);
  /** The links the customer received by email, oldest first. */
  async function linksTo(email: string): Promise<string[]> {
    await dispatch();
    const mails = (await emailsTo(email)).filter((m) => m.text?.match(LINK())).sort((a, b) => a.date!.getTime() - b.date!.getTime());
    return mails.map((m) => m.text!.match(LINK())![0]);
  }
  async function requestWithLink(client: Client, input: Record<string, unknown>, email: string) {
    const request = await create(client, input);
    const links = await linksTo(email);
    return { request, url: links.at(-1)! };
  }

  const page = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };
  const post = async (url: string, fields: Record<string, string> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };
  const CARD = (number: string) => ({ kind: 'CARD', number, exp_month: '12', exp_year: String(new Date().getUTCFullYear() + 3), cvc: '123', name: 'Pat Rivera' });

  /** "Pay" on the link, the card on the sandbox's form, back to Settle: answers the page the customer lands on. */
  async function pay(url: string, number: string) {
    const submitted = await post(url);
    expect(submitted.status).toBe(303);
    expect(submitted.location).toMatch(/\/sandbox-gateway\/checkout\//);
    const gateway = await post(submitted.location!, CARD(number));
    expect(gateway.status).toBe(303);
    const back = await page(gateway.location!);
    return { back, returnUrl: gateway.location!, landed: back.status === 303 ? await page(back.location!) : back };
  }

  async function db(sql: string, params: unknown[] = []) {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, owner.organizationId);
    return em.getConnection().execute(sql, params);
  }

  async function issueInvoice(customerId: string, unitPrice: number): Promise<{ id: string; number: string }> {
    const data = await owner.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number } }`, {
      i: { customerId, issue: true, lines: [{ description: 'Boat winterizing', quantity: '1', unitPrice: String(unitPrice) }] },
    });
    return data.createInvoice as { id: string; number: string };
  }

  // --- requesting ---------------------------------------------------------------------------------------------------

  it('sends the PAYMENT_REQUEST message by email and SMS with a 24-hour link; only the link hash is stored, not the token', async () => {
    const c = await customer();
    const sentAt = t.clock.now();
    const request = await create(staff.client, { customerId: c.id, channels: ['EMAIL', 'SMS'], reference: 'OPP-2291', referenceType: 'OPPORTUNITY' });
    expect(request).toMatchObject({
      status: 'OPEN',
      amount: { amount: '25000', currency: 'USD', formatted: '$250.00' },
      reference: 'OPP-2291',
      referenceType: 'OPPORTUNITY',
      channels: ['EMAIL', 'SMS'],
      sentToEmail: c.email,
      sentToPhone: '+18025550142',
      attemptCount: 0,
      createdBy: staff.userId,
      unread: false,
    });
    expect(new Date(request.expiresAt).getTime()).toBe(sentAt.getTime() + 24 * HOUR);
    expect(JSON.stringify(request)).not.toMatch(/\/pay\//);

    // The queued messages hold a sealed marker, never the token.
    const stored = await db(`select text, html from message where dedupe_key like 'payment-request:' || ? || ':%'`, [request.id]);
    expect(stored).toHaveLength(2);
    for (const m of stored) expect(`${m.text}${m.html ?? ''}`).toMatch(new RegExp(`/pay/sealed~payment-request~${request.id}`));

    const [url] = await linksTo(c.email);
    const mail = (await emailsTo(c.email)).at(-1)!;
    expect(mail.subject).toBe(`Payment request from ${ORG}: $250.00`);
    expect(mail.text).toContain('$250.00');
    const sms = smsTo('+18025550142').find((s) => s.body.includes('/pay/'))!;
    expect(sms.body.match(LINK())![0]).toBe(url);
    const token = url!.split('/pay/')[1]!;
    const [row] = await db(`select token_hash from payment_request where id = ?`, [request.id]);
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.token_hash).not.toContain(token);
    const everything = JSON.stringify(await db(`select * from message where dedupe_key like 'payment-request:' || ? || ':%'`, [request.id]));
    expect(everything).not.toContain(token);

    const opened = await page(url!);
    expect(opened.status).toBe(200);
    expect(opened.html).toContain('<div class="org" id="organization-name">Lakeside Marine &amp; Sports</div>');
    expect(opened.html).toContain('$250.00');
    expect(opened.html).toContain('OPP-2291');
    expect(opened.html).toContain('Deposit on the 2024 Lund 1875');
    expect(opened.html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
  });

  it('refuses a channel the customer has no address for, naming the field, and writes nothing', async () => {
    const noPhone = await createCustomer(owner.client, { name: 'Noel Nophone' });
    const noEmail = await createCustomer(owner.client, { name: 'Ella Noemail', email: null, phone: '+1 802 555 0177' });
    const before = (await db(`select count(*)::int as n from payment_request`))[0].n;
    const messagesBefore = (await db(`select count(*)::int as n from message`))[0].n;

    const sms = await staff.client.request(CREATE, { i: { customerId: noPhone.id, channels: ['SMS'], amount: { amount: '1000', currency: 'USD' }, description: 'x' } });
    expect(sms.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'phone', message: expect.stringContaining('Noel Nophone has no phone number') }] });
    const both = await staff.client.request(CREATE, { i: { customerId: noEmail.id, channels: ['EMAIL', 'SMS'], amount: { amount: '1000', currency: 'USD' }, description: 'x' } });
    expect(both.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'email', message: expect.stringContaining('has no email address') }] });
    const empty = await staff.client.request(CREATE, { i: { customerId: noEmail.id, channels: [], amount: { amount: '0', currency: 'USD' }, description: ' ' } });
    expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    expect((await db(`select count(*)::int as n from payment_request`))[0].n).toBe(before);
    expect((await db(`select count(*)::int as n from message`))[0].n).toBe(messagesBefore);
  });

  it('links to an invoice: the reference is its number, more than it owes is refused, another customer\'s is refused', async () => {
    const c = await customer();
    const other = await customer();
    const invoice = await issueInvoice(c.id, 40_000);
    const linked = await create(staff.client, { customerId: c.id, invoiceId: invoice.id, amount: { amount: '40000', currency: 'USD' } });
    expect(linked).toMatchObject({ invoiceId: invoice.id, reference: invoice.number, referenceType: 'INVOICE' });
    const tooMuch = await staff.client.request(CREATE, { i: { customerId: c.id, invoiceId: invoice.id, channels: ['EMAIL'], amount: { amount: '40001', currency: 'USD' }, description: 'x' } });
    expect(tooMuch.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'amount', message: expect.stringContaining(`more than ${invoice.number} owes ($400.00)`) }] });
    const foreign = await staff.client.request(CREATE, { i: { customerId: other.id, invoiceId: invoice.id, channels: ['EMAIL'], amount: { amount: '100', currency: 'USD' }, description: 'x' } });
    expect(foreign.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'invoiceId' }] });
  });

  // --- paying -------------------------------------------------------------------------------------------------------

  it('a declined card shows the reason and keeps the link open; a good one completes after retry, pays the invoice, shows a receipt and tells the creator', async () => {
    const c = await customer({ name: 'Robin Tremblay' });
    const invoice = await issueInvoice(c.id, 25_000);
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id, invoiceId: invoice.id }, c.email);

    const declined = await pay(url, '4000000000000341');
    expect(declined.back.status).toBe(303);
    expect(declined.back.location).toBe(url);
    expect(declined.landed.status).toBe(200);
    expect(declined.landed.html).toContain('Your last payment did not go through');
    expect(declined.landed.html).toContain('The card was declined by its bank.');
    expect(declined.landed.html).toContain('Try again');
    let now = await get(staff.client, request.id);
    expect(now).toMatchObject({ status: 'OPEN', attemptCount: 1, lastFailureMessage: 'The card was declined by its bank.', unread: false });
    expect(now.attempts).toEqual([{ number: 1, status: 'FAILED', mode: 'CARD', paymentId: expect.any(String), methodLabel: 'Visa ending in 0341', failureMessage: 'The card was declined by its bank.' }]);
    // The customer retries on the link: the declined try does not wait in the Payment Action Center.
    const center = await manager.client.ok(`{ paymentActionCenter(first: 50) { nodes { id } } }`);
    expect(center.paymentActionCenter.nodes.map((n: { id: string }) => n.id)).not.toContain(now.attempts[0].paymentId);

    const paid = await pay(url, '4242424242424242');
    expect(paid.landed.status).toBe(200);
    expect(paid.landed.html).toContain('Thank you, your payment was received');
    expect(paid.landed.html).toContain('id="receipt"');
    expect(paid.landed.html).toContain('Visa ending in 4242');
    expect(paid.landed.html).toContain(invoice.number);
    expect(paid.landed.html).toContain(`A receipt is also emailed to <strong>${c.email}</strong>`);

    now = await get(staff.client, request.id);
    expect(now).toMatchObject({ status: 'COMPLETED', attemptCount: 2, completedAfterRetry: true, methodLabel: 'Visa ending in 4242', unread: true, lastFailureMessage: null });
    expect(now.attempts.map((a: { status: string }) => a.status)).toEqual(['FAILED', 'SUCCEEDED']);
    const payment = (await owner.client.ok(`query($id: ID!) { payment(id: $id) { status purpose purposeRefId amount { amount } allocations { invoiceId amount { amount } } } }`, { id: now.paymentId })).payment;
    expect(payment).toEqual({ status: 'SUCCEEDED', purpose: 'PAYMENT_REQUEST', purposeRefId: request.id, amount: { amount: '25000' }, allocations: [{ invoiceId: invoice.id, amount: { amount: '25000' } }] });
    const inv = (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status } }`, { id: invoice.id })).invoice;
    expect(inv.status).toBe('PAID');

    // Reloading the return page, or the link, never charges again.
    const again = await page(paid.returnUrl);
    expect(again.status).toBe(303);
    expect((await db(`select count(*)::int as n from payment where purpose_ref_id = ?`, [request.id]))[0].n).toBe(2);
    const reopened = await page(url);
    expect(reopened.status).toBe(200);
    expect(reopened.html).toContain('Thank you, your payment was received');
    expect((await post(url)).status).toBe(200);
    expect((await db(`select count(*)::int as n from payment where purpose_ref_id = ?`, [request.id]))[0].n).toBe(2);

    // The creator, and only the creator, is told in-app; the receipt is emailed by Invoicing.
    const notices = (await staff.client.ok(`{ myNotifications(first: 50) { nodes { id title body link readAt } } }`)).myNotifications.nodes;
    const notice = notices.find((n: { link: string }) => n.link === `/payment-requests/${request.id}`);
    expect(notice).toMatchObject({ title: 'Robin Tremblay paid $250.00', body: expect.stringContaining('after 2 attempts'), readAt: null });
    const others = (await otherStaff.client.ok(`{ myNotifications(first: 50) { nodes { link } } }`)).myNotifications.nodes;
    expect(others.map((n: { link: string }) => n.link)).not.toContain(`/payment-requests/${request.id}`);
    await t.drainOutbox();
    await dispatch();
    const receiptMail = (await emailsTo(c.email)).find((m) => /receipt/i.test(m.subject ?? ''));
    expect(receiptMail?.text).toContain('$250.00');

    // Mark as read: only the creator (the request's flag); the in-app notice too is recipient-only.
    const foreign = await manager.client.request(`mutation($id: ID!) { markPaymentRequestRead(id: $id) { unread } }`, { id: request.id });
    expect(foreign.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_THE_CREATOR' });
    const foreignNotice = await otherStaff.client.request(`mutation($id: ID!) { markNotificationRead(id: $id) { id } }`, { id: notice.id });
    expect(foreignNotice.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const unreadMine = await staff.client.ok(LIST('myPaymentRequests'), { f: { status: ['UNREAD'] } });
    expect(unreadMine.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(request.id);
    const read = await staff.client.ok(`mutation($id: ID!) { markPaymentRequestRead(id: $id) { unread readAt } }`, { id: request.id });
    expect(read.markPaymentRequestRead).toMatchObject({ unread: false, readAt: expect.any(String) });
    const unreadAfter = await staff.client.ok(LIST('myPaymentRequests'), { f: { status: ['UNREAD'] } });
    expect(unreadAfter.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).not.toContain(request.id);

    // Consolidation: PAYMENT_MANAGER only — OWNER, ADMIN and STAFF are FORBIDDEN; idempotent.
    for (const client of [owner.client, admin.client, staff.client]) {
      const refused = await client.request(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { status } }`, { id: request.id });
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const consolidated = (await manager.client.ok(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { status consolidatedBy consolidatedAt attemptCount } }`, { id: request.id }))
      .consolidatePaymentRequest;
    expect(consolidated).toMatchObject({ status: 'CONSOLIDATED', consolidatedBy: manager.userId, attemptCount: 2 });
    t.clock.advance(60_000);
    const twice = (await manager.client.ok(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { status consolidatedAt } }`, { id: request.id })).consolidatePaymentRequest;
    expect(twice).toEqual({ status: 'CONSOLIDATED', consolidatedAt: consolidated.consolidatedAt });
    const listed = await manager.client.ok(LIST('paymentRequests'), { f: { status: ['CONSOLIDATED'] } });
    expect(listed.paymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(request.id);
    const retried = await manager.client.ok(LIST('paymentRequests'), { f: { status: ['COMPLETED_AFTER_RETRY'] } });
    expect(retried.paymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(request.id);
  });

  it('an outcome not known at once (a crash after the gateway call) shows "being processed", takes no second charge, and completes from the janitor\'s answer', async () => {
    const c = await customer({ name: 'Sam Gagnon' });
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    const hooks = t.app.get(TakePayment).hooks;
    hooks.afterGatewayCall = () => {
      throw new Error('simulated crash after the gateway call');
    };
    let landed;
    try {
      landed = (await pay(url, '4242424242424242')).landed;
    } finally {
      delete hooks.afterGatewayCall;
    }
    expect(landed.status).toBe(200);
    expect(landed.html).toContain('Your payment is being processed');
    expect((await post(url)).status).toBe(200); // no new session while the first one is unsettled
    expect((await get(staff.client, request.id)).attempts).toMatchObject([{ number: 1, status: 'PENDING' }]);
    // The expiry job leaves a request with a charge in flight alone, even past its expiry.
    t.clock.advance(24 * HOUR + 1000);
    await t.app.get(PaymentRequestExpiry).runDue();
    expect((await db(`select status from payment_request where id = ?`, [request.id]))[0].status).toBe('OPEN');

    await t.app.get(PaymentJanitor).runOnce(t.clock.now());
    await t.drainOutbox();
    const done = await get(staff.client, request.id);
    expect(done).toMatchObject({ status: 'COMPLETED', attemptCount: 1, completedAfterRetry: false, unread: true, methodLabel: 'Visa ending in 4242' });
    expect((await page(url)).html).toContain('Thank you, your payment was received');
    expect((await db(`select count(*)::int as n from payment where purpose_ref_id = ?`, [request.id]))[0].n).toBe(1);
  });

  it('only a completed request can be consolidated', async () => {
    const c = await customer();
    const request = await create(staff.client, { customerId: c.id });
    const refused = await manager.client.request(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { status } }`, { id: request.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PAYMENT_REQUEST_NOT_PAID' });
  });

  // --- expiry -------------------------------------------------------------------------------------------------------

  it('a link opened at 24 h + 1 s shows expired and takes no money, before the expiry job ran; the job then marks it; re-creating sends a new link', async () => {
    const c = await customer();
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id, reference: 'CTR-77', referenceType: 'CONTRACT' }, c.email);
    t.clock.advance(24 * HOUR - 1000);
    expect((await page(url)).status).toBe(200);
    t.clock.advance(2000); // 24 h + 1 s
    const expired = await page(url);
    expect(expired.status).toBe(410);
    expect(expired.html).toContain('This payment link has expired');
    const posted = await post(url);
    expect(posted.status).toBe(410);
    expect(posted.location).toBeNull();
    expect((await get(staff.client, request.id)).status).toBe('EXPIRED');
    expect((await db(`select status from payment_request where id = ?`, [request.id]))[0].status).toBe('OPEN'); // the job has not run
    const listed = await staff.client.ok(LIST('myPaymentRequests'), { f: { status: ['EXPIRED'] } });
    expect(listed.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(request.id);
    const open = await staff.client.ok(LIST('myPaymentRequests'), { f: { status: ['OPEN'] } });
    expect(open.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).not.toContain(request.id);

    expect(await t.app.get(PaymentRequestExpiry).runDue()).toBeGreaterThanOrEqual(1);
    expect((await db(`select status from payment_request where id = ?`, [request.id]))[0].status).toBe('EXPIRED');
    expect((await db(`select count(*)::int as n from payment where purpose_ref_id = ?`, [request.id]))[0].n).toBe(0);

    const recreated = (await staff.client.ok(`mutation($id: ID!) { resendPaymentRequest(id: $id) { id status recreatedFromId reference expiresAt } }`, { id: request.id }))
      .resendPaymentRequest;
    expect(recreated).toMatchObject({ status: 'OPEN', recreatedFromId: request.id, reference: 'CTR-77' });
    expect(recreated.id).not.toBe(request.id);
    const links = await linksTo(c.email);
    expect(links.at(-1)).not.toBe(url);
    expect((await page(links.at(-1)!)).status).toBe(200);
    expect((await page(url)).status).toBe(410);
  });

  it('a card entered on the gateway before the link expired is not charged when the customer comes back after it expired', async () => {
    await owner.client.ok(`mutation { updatePaymentRequestSettings(input: { ttlHours: 1 }) { ttlHours } }`);
    try {
      const c = await customer();
      const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
      expect(new Date(request.expiresAt).getTime() - new Date(request.createdAt).getTime()).toBe(HOUR);
      const submitted = await post(url);
      expect(submitted.status).toBe(303);
      t.clock.advance(HOUR + 1000);
      const gateway = await post(submitted.location!, CARD('4242424242424242'));
      const back = await page(gateway.location!);
      expect(back.status).toBe(303);
      const landed = await page(back.location!);
      expect(landed.status).toBe(410);
      expect(landed.html).toContain('This payment link has expired');
      expect((await db(`select count(*)::int as n from payment where purpose_ref_id = ?`, [request.id]))[0].n).toBe(0);
      expect((await get(staff.client, request.id)).attemptCount).toBe(0);
    } finally {
      await owner.client.ok(`mutation { updatePaymentRequestSettings(input: { ttlHours: 24 }) { ttlHours } }`);
    }
  });

  it('the link lifetime is an organization setting (OWNER, ADMIN), 1 to 720 hours', async () => {
    const bad = await owner.client.request(`mutation { updatePaymentRequestSettings(input: { ttlHours: 0 }) { ttlHours } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.ttlHours' }] });
    const staffRefused = await staff.client.request(`mutation { updatePaymentRequestSettings(input: { ttlHours: 48 }) { ttlHours } }`);
    expect(staffRefused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await admin.client.ok(`mutation { updatePaymentRequestSettings(input: { ttlHours: 48 }) { ttlHours } }`);
    try {
      expect((await staff.client.ok(`{ paymentRequestSettings { ttlHours } }`)).paymentRequestSettings.ttlHours).toBe(48);
      const c = await customer();
      const r = await create(staff.client, { customerId: c.id });
      expect(new Date(r.expiresAt).getTime() - new Date(r.createdAt).getTime()).toBe(48 * HOUR);
    } finally {
      await admin.client.ok(`mutation { updatePaymentRequestSettings(input: { ttlHours: 24 }) { ttlHours } }`);
    }
  });

  // --- cancel, re-send, lists ---------------------------------------------------------------------------------------

  it('staff cancel an open request (their own; managers any): the link then says so and takes no money', async () => {
    const c = await customer();
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    const notMine = await otherStaff.client.request(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { status } }`, { id: request.id });
    expect(notMine.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const cancelled = (await staff.client.ok(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { status cancelledBy cancelledAt } }`, { id: request.id })).cancelPaymentRequest;
    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelledBy: staff.userId });
    const shown = await page(url);
    expect(shown.status).toBe(410);
    expect(shown.html).toContain('This payment request was cancelled');
    expect((await post(url)).status).toBe(410);
    const again = await staff.client.request(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { status } }`, { id: request.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PAYMENT_REQUEST_CLOSED' });
    const other = await create(staff.client, { customerId: c.id });
    expect((await manager.client.ok(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { status } }`, { id: other.id })).cancelPaymentRequest.status).toBe('CANCELLED');
  });

  it('re-sending an open request sends the same link again', async () => {
    const c = await customer();
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    const resent = (await staff.client.ok(`mutation($id: ID!) { resendPaymentRequest(id: $id) { id sendCount status } }`, { id: request.id })).resendPaymentRequest;
    expect(resent).toEqual({ id: request.id, sendCount: 2, status: 'OPEN' });
    const links = await linksTo(c.email);
    expect(links).toEqual([url, url]);
  });

  it('lists: my requests (mine only), all requests (OWNER, ADMIN, PAYMENT_MANAGER), filtered by status, amount, customer, creator, reference and date', async () => {
    const c = await customer();
    const mine = await create(otherStaff.client, { customerId: c.id, amount: { amount: '777', currency: 'USD' }, reference: 'QUOTE-Z-9', referenceType: 'OTHER' });
    const theirs = await create(staff.client, { customerId: c.id, amount: { amount: '778', currency: 'USD' } });

    const my = await otherStaff.client.ok(LIST('myPaymentRequests'));
    expect(my.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(mine.id);
    expect(my.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).not.toContain(theirs.id);
    const forbidden = await staff.client.request(LIST('paymentRequests'));
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const hidden = await staff.client.request(GET, { id: mine.id });
    expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const ids = async (client: Client, f: Record<string, unknown>) =>
      (await client.ok(LIST('paymentRequests'), { f })).paymentRequests.nodes.map((n: { id: string }) => n.id).sort();
    expect(await ids(admin.client, { customerId: c.id })).toEqual([mine.id, theirs.id].sort());
    expect(await ids(owner.client, { customerId: c.id, createdBy: otherStaff.userId })).toEqual([mine.id]);
    expect(await ids(manager.client, { customerId: c.id, amountMin: '778' })).toEqual([theirs.id]);
    expect(await ids(manager.client, { customerId: c.id, amountMax: '777' })).toEqual([mine.id]);
    expect(await ids(manager.client, { reference: 'quote-z' })).toEqual([mine.id]);
    expect(await ids(manager.client, { customerId: c.id, status: ['OPEN'] })).toEqual([mine.id, theirs.id].sort());
    expect(await ids(manager.client, { customerId: c.id, status: ['COMPLETED', 'CANCELLED'] })).toEqual([]);
    const later = new Date(t.clock.now().getTime() + 1000).toISOString();
    expect(await ids(manager.client, { customerId: c.id, from: later })).toEqual([]);
    expect(await ids(manager.client, { customerId: c.id, to: later })).toEqual([mine.id, theirs.id].sort());
  });
  // --- pay in 4, bank account, events ----------------------------------------------------------------------------------

  const BANK = (accountNumber: string) => ({
    kind: 'BANK_ACCOUNT',
    routing_number: '110000000',
    account_number: accountNumber,
    account_holder_name: 'Pat Rivera',
    account_type: 'checking',
    account_holder_type: 'individual',
  });
  const settleMs = () => t.app.get(AppConfig).sandboxGateway.debitSettleSeconds * 1000;
  const deliverDue = () => t.app.get(SandboxWebhooks).deliverDue(t.clock.now(), { endpoint: `${t.url}/webhooks/payments` });

  /** A choice on the link (with the authorization ticked), the card or account on the sandbox's form, back to Settle. */
  async function payWith(url: string, method: 'INSTALLMENTS' | 'BANK_ACCOUNT', gatewayForm: Record<string, string>) {
    const submitted = await post(url, { method, accept: 'yes' });
    expect(submitted.status).toBe(303);
    expect(submitted.location).toMatch(/\/sandbox-gateway\/checkout\//);
    const gateway = await post(submitted.location!, gatewayForm);
    expect(gateway.status).toBe(303);
    const back = await page(gateway.location!);
    expect(back.status).toBe(303);
    return await page(back.location!);
  }
  async function events(requestId: string) {
    return (await db(`select type, payload from outbox_message where payload->>'paymentRequestId' = ? order by occurred_at, id`, [requestId])) as {
      type: string;
      payload: Record<string, any>;
    }[];
  }
  const withInstallments = async (work: () => Promise<void>) => {
    await owner.client.ok(`mutation { updatePaymentRequestSettings(input: { installmentsEnabled: true }) { installmentsEnabled } }`);
    try {
      await work();
    } finally {
      await owner.client.ok(`mutation { updatePaymentRequestSettings(input: { installmentsEnabled: false }) { installmentsEnabled } }`);
    }
  };

  it('"Pay in 4" is offered only where the organization enabled it, and needs the customer\'s authorization', async () => {
    const c = await customer();
    const { url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    expect((await page(url)).html).not.toContain('id="pay-in-4"');
    expect((await post(url, { method: 'INSTALLMENTS', accept: 'yes' })).status).toBe(400);
    expect((await staff.client.ok(`{ paymentRequestSettings { ttlHours installmentsEnabled } }`)).paymentRequestSettings).toEqual({ ttlHours: 24, installmentsEnabled: false });
    const refused = await staff.client.request(`mutation { updatePaymentRequestSettings(input: { installmentsEnabled: true }) { installmentsEnabled } }`);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await withInstallments(async () => {
      const shown = await page(url);
      expect(shown.html).toContain('id="pay-in-4"');
      expect(shown.html).toContain('Pay in 4: $62.50 today');
      expect(shown.html).toContain(`I authorize ${ORG.replace('&', '&amp;')} to save the card I enter next and to charge it 4 times for this payment of $250.00: $62.50 today`);
      const unticked = await post(url, { method: 'INSTALLMENTS' });
      expect(unticked.status).toBe(400);
      expect(unticked.html).toContain('Tick the box to authorize the 4 charges');
      expect((await db(`select count(*)::int as n from installment_plan where customer_id = ?`, [c.id]))[0].n).toBe(0);
    });
  });

  it('pays in 4: a declined card cancels its plan and the link stays open; then the card is saved with consent, an invoice is issued, the first of 4 monthly installments is charged at once and the request completes; the daily job does not charge it again', async () => {
    await withInstallments(async () => {
      const c = await customer({ name: 'Dana Installments' });
      const { request, url } = await requestWithLink(staff.client, { customerId: c.id, reference: 'OPP-4', referenceType: 'OPPORTUNITY' }, c.email);

      // A card saved on the gateway's page but declined when charged: nothing kept in Invoicing but the invoice.
      const declined = await payWith(url, 'INSTALLMENTS', CARD('4000000000000341'));
      expect(declined.status).toBe(200);
      expect(declined.html).toContain('The card was declined by its bank.');
      expect(declined.html).toContain('id="pay-in-4"');
      let now = await get(staff.client, request.id);
      expect(now).toMatchObject({ status: 'OPEN', attemptCount: 1, installmentPlanId: null, invoiceId: expect.any(String) });
      expect(now.attempts).toMatchObject([{ number: 1, status: 'FAILED', mode: 'INSTALLMENTS' }]);
      const [cancelledPlan] = await db(`select id, status from installment_plan where invoice_id = ?`, [now.invoiceId]);
      expect(cancelledPlan.status).toBe('CANCELLED');
      const invoiceId = now.invoiceId as string;

      const landed = await payWith(url, 'INSTALLMENTS', CARD('4242424242424242'));
      expect(landed.status).toBe(200);
      expect(landed.html).toContain('Thank you, your payment was received');
      expect(landed.html).toContain('$62.50 (installment 1 of 4)');
      expect(landed.html).toContain('id="installment-plan"');

      now = await get(staff.client, request.id);
      expect(now).toMatchObject({ status: 'COMPLETED', attemptCount: 2, completedAfterRetry: true, invoiceId, installmentPlanId: expect.any(String), methodLabel: 'Visa ending in 4242' });
      expect(now.attempts.map((a: { mode: string; status: string }) => `${a.mode}:${a.status}`)).toEqual(['INSTALLMENTS:FAILED', 'INSTALLMENTS:SUCCEEDED']);

      // The plan: 4 monthly parts adding up to the amount, the first paid today, the rest scheduled, on the saved card.
      const parts = await db(`select id, sequence, due_on::text as due_on, amount::text as amount, status, attempts from installment where plan_id = ? order by sequence`, [now.installmentPlanId]);
      expect(parts.map((p: any) => p.status)).toEqual(['PAID', 'SCHEDULED', 'SCHEDULED', 'SCHEDULED']);
      expect(parts.reduce((sum: bigint, p: any) => sum + BigInt(p.amount), 0n)).toBe(25000n);
      const today = t.clock.now().toISOString().slice(0, 10);
      expect(parts[0].due_on).toBe(today);
      const monthOf = (iso: string) => Number(iso.slice(0, 4)) * 12 + Number(iso.slice(5, 7)) - 1;
      expect(parts.map((p: any) => monthOf(p.due_on) - monthOf(today))).toEqual([0, 1, 2, 3]); // monthly
      const [plan] = await db(`select status, invoice_id, payment_method_id from installment_plan where id = ?`, [now.installmentPlanId]);
      expect(plan).toMatchObject({ status: 'ACTIVE', invoice_id: invoiceId });
      const first = (await owner.client.ok(`query($id: ID!) { payment(id: $id) { status purpose purposeRefId amount { amount } } }`, { id: now.paymentId })).payment;
      expect(first).toEqual({ status: 'SUCCEEDED', purpose: 'INSTALLMENT', purposeRefId: parts[0].id, amount: { amount: '6250' } });
      const inv = (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status total { amount } amountDue { amount } } }`, { id: invoiceId })).invoice;
      expect(inv).toEqual({ status: 'PARTIALLY_PAID', total: { amount: '25000' }, amountDue: { amount: '18750' } });

      // The consent the customer accepted on the page is recorded with the saved card.
      const [consent] = await db(
        `select c.note, c.source, c.user_agent from payment_method_consent c where c.payment_method_id = ? order by c.created_at desc limit 1`,
        [plan.payment_method_id],
      );
      expect(consent.source).toBe('HOSTED_PAGE');
      expect(consent.note).toContain('to charge it 4 times for this payment of $250.00: $62.50 today');
      expect(consent.user_agent).toBeTruthy();

      // The daily job finds nothing due: the first installment is not charged again.
      await t.app.get(InstallmentCharges).runDue(t.clock.now());
      expect((await db(`select count(*)::int as n from payment where idempotency_key like 'installment:' || ? || ':%'`, [parts[0].id]))[0].n).toBe(1);
      expect((await db(`select status, attempts from installment where id = ?`, [parts[0].id]))[0]).toEqual({ status: 'PAID', attempts: 1 });

      await t.drainOutbox();
      const paid = (await events(request.id)).filter((e) => e.type === 'PaymentRequestPaid');
      expect(paid).toHaveLength(1);
      expect(paid[0]!.payload).toMatchObject({
        paymentRequestId: request.id,
        status: 'COMPLETED',
        attemptCount: 2,
        amount: { amount: '25000', currency: 'USD' },
        payMode: 'INSTALLMENTS',
        installmentPlanId: now.installmentPlanId,
        paymentId: now.paymentId,
      });
    });
  });

  it('pays by bank account: saved with the mandate, the debit is processing ("your bank will confirm"), the request does not expire meanwhile and completes when it settles', async () => {
    const c = await customer({ name: 'Bo Bankpayer' });
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    const form = await page(url);
    expect(form.html).toContain('id="pay-bank"');
    const unticked = await post(url, { method: 'BANK_ACCOUNT' });
    expect(unticked.status).toBe(400);
    expect(unticked.html).toContain('Tick the box to authorize the debit');

    const landed = await payWith(url, 'BANK_ACCOUNT', BANK('000123456789'));
    expect(landed.status).toBe(200);
    expect(landed.html).toContain('Your payment is processing — your bank will confirm it in a few days');
    let now = await get(staff.client, request.id);
    expect(now).toMatchObject({ status: 'OPEN', bankDebitPending: true, attemptCount: 1 });
    expect(now.attempts).toMatchObject([{ number: 1, status: 'PROCESSING', mode: 'BANK_ACCOUNT', paymentId: expect.any(String) }]);
    const [method] = await db(`select m.id, m.kind, c.note from payment_method m join payment_method_consent c on c.payment_method_id = m.id where m.customer_id = ?`, [c.id]);
    expect(method).toMatchObject({ kind: 'BANK_ACCOUNT', note: expect.stringContaining('to debit $250.00 from it once') });
    expect((await post(url, { method: 'BANK_ACCOUNT', accept: 'yes' })).status).toBe(200); // no second try while it is processing

    // Past the link's expiry while the bank decides: not expired (lists, the job), the page still says processing.
    t.clock.advance(settleMs() - 60_000);
    await t.app.get(PaymentRequestExpiry).runDue();
    expect((await get(staff.client, request.id)).status).toBe('OPEN');
    const open = await staff.client.ok(LIST('myPaymentRequests'), { f: { status: ['OPEN'] } });
    expect(open.myPaymentRequests.nodes.map((n: { id: string }) => n.id)).toContain(request.id);
    expect((await page(url)).html).toContain('your bank will confirm it in a few days');

    t.clock.advance(61_000);
    expect((await deliverDue()).delivered).toBeGreaterThanOrEqual(1);
    await t.drainOutbox();
    now = await get(staff.client, request.id);
    expect(now).toMatchObject({ status: 'COMPLETED', bankDebitPending: false, attemptCount: 1, unread: true });
    expect(now.attempts).toMatchObject([{ status: 'SUCCEEDED', mode: 'BANK_ACCOUNT' }]);
    const shown = await page(url);
    expect(shown.html).toContain('Thank you, your payment was received');
    expect((await events(request.id)).map((e) => e.type)).toEqual(['PaymentRequestSent', 'PaymentRequestPaid']);
  });

  it('a bank debit that fails days later (insufficient funds) reopens the link for another try, past its original expiry', async () => {
    const c = await customer({ name: 'Nora Nofunds' });
    const { request, url } = await requestWithLink(staff.client, { customerId: c.id }, c.email);
    const landed = await payWith(url, 'BANK_ACCOUNT', BANK('000222222227'));
    expect(landed.html).toContain('your bank will confirm it in a few days');
    expect((await get(staff.client, request.id)).attempts).toMatchObject([{ status: 'PROCESSING', mode: 'BANK_ACCOUNT' }]);

    t.clock.advance(settleMs() + 1000);
    expect((await deliverDue()).delivered).toBeGreaterThanOrEqual(1);
    await t.drainOutbox();
    const now = await get(staff.client, request.id);
    expect(now).toMatchObject({ status: 'OPEN', bankDebitPending: false, attemptCount: 1, lastFailureMessage: expect.any(String) });
    expect(now.attempts).toMatchObject([{ status: 'FAILED', mode: 'BANK_ACCOUNT' }]);
    expect(new Date(now.expiresAt).getTime()).toBe(t.clock.now().getTime() + 24 * HOUR);
    const again = await page(url);
    expect(again.status).toBe(200);
    expect(again.html).toContain('Your last payment did not go through');
    expect((await post(url, { method: 'CARD' })).status).toBe(303); // another try is possible
    // The declined debit waits for the customer on the link, not in the Payment Action Center.
    const center = await manager.client.ok(`{ paymentActionCenter(first: 50) { nodes { id } } }`);
    expect(center.paymentActionCenter.nodes.map((n: { id: string }) => n.id)).not.toContain(now.attempts[0].paymentId);
  });

  it('announces sent, re-sent, cancelled and expired requests through the outbox, with ids, amount, status and attempt count', async () => {
    const c = await customer();
    const cancelled = await create(staff.client, { customerId: c.id, amount: { amount: '1200', currency: 'USD' }, reference: 'CTR-9', referenceType: 'CONTRACT' });
    t.clock.advance(1000); // the clock is fixed: events are ordered by when they happened
    await staff.client.ok(`mutation($id: ID!) { resendPaymentRequest(id: $id) { sendCount } }`, { id: cancelled.id });
    t.clock.advance(1000);
    await staff.client.ok(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { status } }`, { id: cancelled.id });
    const sent = await events(cancelled.id);
    expect(sent.map((e) => e.type)).toEqual(['PaymentRequestSent', 'PaymentRequestSent', 'PaymentRequestCancelled']);
    expect(sent[0]!.payload).toMatchObject({
      paymentRequestId: cancelled.id,
      customerId: c.id,
      amount: { amount: '1200', currency: 'USD' },
      status: 'OPEN',
      attemptCount: 0,
      reference: 'CTR-9',
      referenceType: 'CONTRACT',
      channels: ['EMAIL'],
      sendCount: 1,
      createdBy: staff.userId,
    });
    expect(sent[1]!.payload.sendCount).toBe(2);
    expect(sent[2]!.payload).toMatchObject({ status: 'CANCELLED', cancelledBy: staff.userId });

    const expiring = await create(staff.client, { customerId: c.id });
    t.clock.advance(24 * HOUR + 1000);
    await t.app.get(PaymentRequestExpiry).runDue();
    const expired = (await events(expiring.id)).filter((e) => e.type === 'PaymentRequestExpired');
    expect(expired).toHaveLength(1);
    expect(expired[0]!.payload).toMatchObject({ paymentRequestId: expiring.id, status: 'EXPIRED', attemptCount: 0, expiredAt: t.clock.now().toISOString() });
    await t.app.get(PaymentRequestExpiry).runDue();
    expect((await events(expiring.id)).filter((e) => e.type === 'PaymentRequestExpired')).toHaveLength(1);
  });
});
