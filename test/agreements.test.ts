import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { simpleParser } from 'mailparser';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../src/config/index.js';
import { AgreementLifecycle, WorkOrders } from '../src/modules/agreements/index.js';
import { MessageDispatcher } from '../src/modules/notifications/index.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Owner['client'];

const ORG = 'Northwind Pool Care';
const AGREEMENT = `id customerId name terms status frequency billingDay billOnLastDay startDate endDate paymentMethodId billedThrough version
  renewalOfId signedAt signedVersion approvedAt approvedBy closedAt
  lines { description quantity unitPrice { amount } taxRate subtotal { amount } tax { amount } total { amount } }
  subtotal { amount } tax { amount } total { amount currency formatted }`;
const FULL = `${AGREEMENT} transitions { from to at actorUserId reason } workOrders { id scheduledFor status title }`;
const CREATE = `mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { ${FULL} } }`;
const UPDATE = `mutation($id: ID!, $i: UpdateAgreementQuoteInput!) { updateAgreementQuote(id: $id, input: $i) { ${AGREEMENT} } }`;
const SEND = `mutation($id: ID!) { sendAgreement(id: $id) { ${AGREEMENT} } }`;
const APPROVE = `mutation($id: ID!) { approveAgreement(id: $id) { ${FULL} } }`;
const CLOSE = `mutation($id: ID!, $r: String!) { closeAgreement(id: $id, reason: $r) { ${AGREEMENT} } }`;
const GET = `query($id: ID!) { agreement(id: $id) { ${FULL} } }`;
const WORK_ORDER = 'id customerId agreementId scheduledFor title status invoiceId technicianUserId completedAt balance { amount currency }';
const DISPATCH = `query($from: String!, $to: String!) { dispatchableWorkOrders(from: $from, to: $to, first: 100) { nodes { id status } } }`;
const LINES = [
  { description: 'Weekly pool cleaning', quantity: '4', unitPrice: '4500', taxRate: '8.875' },
  { description: 'Chemicals', quantity: '1', unitPrice: '2999' },
];

describe('service agreements and work orders', () => {
  let t: TestApp;
  let dataDir: string;
  let owner: Owner;
  let admin: Member;
  let manager: Member;
  let staff: Member;
  let other: Owner;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-agreements-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    t.clock.set('2026-03-10T15:00:00Z');
    owner = await signUpOrganization(t.gql, ORG);
    admin = await addUser(owner.client, 'ADMIN');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Other Org');
  });
  afterAll(() => t.close());

  // --- helpers ------------------------------------------------------------------------------------------------------

  const em = () => {
    const fork = t.app.get(MikroORM).em.fork();
    scopeToTenant(fork, owner.organizationId);
    return fork;
  };
  const lifecycle = () => t.app.get(AgreementLifecycle);
  const workOrdersService = () => t.app.get(WorkOrders);

  async function quote(client: Client, customerId: string, overrides: Record<string, unknown> = {}) {
    const input = { customerId, name: 'Pool care 2026', terms: 'We clean your pool every week.\nCancel with 30 days notice.', lines: LINES, frequency: 'MONTHLY', startDate: '2026-04-01', ...overrides };
    return (await client.ok(CREATE, { i: input })).createAgreementQuote as Record<string, any>;
  }

  const get = async (id: string, client: Client = owner.client) => (await client.ok(GET, { id })).agreement as Record<string, any>;

  async function setStatus(id: string, status: string, extra: Record<string, unknown> = {}) {
    const fields = { status, ...extra };
    const sets = Object.keys(fields).map((k) => `"${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}" = ?`);
    await em().execute(`update "service_agreement" set ${sets.join(', ')} where id = ?`, [...Object.values(fields), id]);
  }

  async function dispatch(): Promise<void> {
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
  }

  async function emailsTo(address: string) {
    const dir = path.join(dataDir, 'mail');
    if (!existsSync(dir)) return [];
    const mails = await Promise.all(readdirSync(dir).map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    return mails.filter((m) => JSON.stringify(m.to).includes(address));
  }

  const LINK = () => new RegExp(`${t.url.replace(/[.]/g, '\\.')}/a/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);

  const linksTo = async (email: string) => (await emailsTo(email)).map((m) => m.text?.match(LINK())?.[0]).filter(Boolean) as string[];

  /** Sends the agreement and answers the link of the email that sending it made (mail files have no defined order). */
  async function sendAndReadLink(id: string, email: string, client: Client = staff.client): Promise<string> {
    const before = new Set(await linksTo(email));
    await client.ok(SEND, { id });
    await dispatch();
    const added = (await linksTo(email)).filter((link) => !before.has(link));
    expect(added).toHaveLength(1);
    return added[0]!;
  }

  const page = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };
  const post = async (url: string, fields: Record<string, string>) => {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'AgreementTest/1.0' },
      body: new URLSearchParams(fields),
    });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };
  const CARD = { kind: 'CARD', number: '4242424242424242', exp_month: '12', exp_year: String(new Date().getUTCFullYear() + 3), cvc: '123', name: 'Pat' };

  /** The customer's side: open the link, accept, enter a card on the sandbox page, come back. */
  async function signOnPage(link: string) {
    const opened = await page(link);
    expect(opened.status).toBe(200);
    const version = /name="version" value="(\d+)"/.exec(opened.html)![1]!;
    const accepted = await post(link, { accept: 'yes', version });
    expect(accepted.status).toBe(303);
    const gateway = await post(accepted.location!, CARD);
    expect(gateway.status).toBe(303);
    return page(gateway.location!);
  }

  /** A customer with an agreement SIGNED through the page (a consented card on file). */
  async function signedAgreement(overrides: Record<string, unknown> = {}) {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id, overrides);
    const done = await signOnPage(await sendAndReadLink(a.id, customer.email));
    expect(done.status).toBe(200);
    return { customer, agreement: await get(a.id) };
  }

  async function activeAgreement(overrides: Record<string, unknown> = {}) {
    const { customer, agreement } = await signedAgreement(overrides);
    return { customer, agreement: (await admin.client.ok(APPROVE, { id: agreement.id })).approveAgreement as Record<string, any> };
  }

  const errorOf = async (client: Client, query: string, variables: Record<string, unknown>) => {
    const res = await client.request(query, variables);
    expect(res.errors).toBeDefined();
    return res.errors![0]!;
  };

  const messagesOf = async (customerId: string, kind: string) =>
    em().execute<{ recipient: string; text: string }[]>(`select recipient, text from message where customer_id = ? and kind = ?`, [customerId, kind]);

  // --- quotes -------------------------------------------------------------------------------------------------------

  it('STAFF creates a QUOTE: lines priced like invoice lines, anchor from the start date, the creation recorded', async () => {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id, { endDate: '2027-03-31' });
    expect(a).toMatchObject({
      status: 'QUOTE',
      frequency: 'MONTHLY',
      billingDay: 1,
      billOnLastDay: false,
      startDate: '2026-04-01',
      endDate: '2027-03-31',
      version: 1,
      paymentMethodId: null,
      billedThrough: null,
      // 4 × 45.00 = 180.00 + 8.875% = 15.98 (15.975 rounds half up); 29.99 untaxed.
      subtotal: { amount: '20999' },
      tax: { amount: '1598' },
      total: { amount: '22597', currency: 'USD', formatted: '$225.97' },
      workOrders: [],
    });
    expect(a.lines[0]).toMatchObject({ quantity: '4', unitPrice: { amount: '4500' }, taxRate: '8.875', subtotal: { amount: '18000' }, tax: { amount: '1598' } });
    expect(a.transitions).toEqual([{ from: null, to: 'QUOTE', at: expect.any(String), actorUserId: staff.userId, reason: null }]);

    const last = await quote(staff.client, customer.id, { startDate: '2026-04-30' });
    expect(last).toMatchObject({ billingDay: null, billOnLastDay: true });
  });

  it('refuses bad input naming every field, and writes nothing', async () => {
    const customer = await createCustomer(owner.client);
    const before = Number((await em().execute<{ n: string }[]>('select count(*) n from service_agreement'))[0]!.n);
    const e = await errorOf(staff.client, CREATE, {
      i: {
        customerId: customer.id,
        name: ' ',
        terms: 'x',
        lines: [{ description: 'A', quantity: '1.2345', unitPrice: '100' }],
        frequency: 'MONTHLY',
        startDate: '2026-04-01',
        billingDay: 31,
      },
    });
    expect(e.extensions!.code).toBe('BAD_USER_INPUT');
    expect(e.extensions!.fields.map((f: { field: string }) => f.field).sort()).toEqual(['billingDay', 'lines.0.quantity', 'name']);
    const offDay = await errorOf(staff.client, CREATE, {
      i: { customerId: customer.id, name: 'A', terms: 'x', lines: LINES, frequency: 'MONTHLY', startDate: '2026-04-02', billingDay: 15 },
    });
    expect(offDay.extensions!.fields).toEqual([{ field: 'startDate', message: expect.stringContaining('billing day (the 15th') }]);
    const day30 = await errorOf(staff.client, CREATE, {
      i: { customerId: customer.id, name: 'A', terms: 'x', lines: LINES, frequency: 'MONTHLY', startDate: '2026-03-30' },
    });
    expect(day30.extensions!.fields[0].field).toBe('startDate');
    expect(Number((await em().execute<{ n: string }[]>('select count(*) n from service_agreement'))[0]!.n)).toBe(before);
  });

  it('edits only a QUOTE; once sent, editing is CONFLICT / NOT_A_QUOTE', async () => {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id);
    const edited = (await staff.client.ok(UPDATE, { id: a.id, i: { name: 'Pool care (revised)', lines: [LINES[1]] } })).updateAgreementQuote;
    expect(edited).toMatchObject({ name: 'Pool care (revised)', version: 2, total: { amount: '2999' }, terms: a.terms });
    await staff.client.ok(SEND, { id: a.id });
    const e = await errorOf(staff.client, UPDATE, { id: a.id, i: { name: 'Sneaky change' } });
    expect(e.extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_A_QUOTE' });
    expect((await get(a.id)).name).toBe('Pool care (revised)');
  });

  // --- the whole lifecycle --------------------------------------------------------------------------------------------

  it('QUOTE → SENT → SIGNED (hosted page) → ACTIVE (admin) → CLOSED, every transition recorded with who and why', async () => {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id);
    const link = await sendAndReadLink(a.id, customer.email);
    const token = link.split('/a/')[1]!;
    // Only the SHA-256 of the token is stored; the message row holds a sealed marker, not the token.
    const stored = await em().execute<{ token_hash: string }[]>('select token_hash from agreement_signup_link where agreement_id = ?', [a.id]);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await messagesOf(customer.id, 'AGREEMENT_SIGNUP'))).not.toContain(token);
    expect((await get(a.id)).status).toBe('SENT');

    // The page shows the organization, the lines and totals, the frequency, the start date and the terms.
    const opened = await page(link);
    expect(opened.html).toContain(ORG);
    expect(opened.html).toContain('Weekly pool cleaning');
    expect(opened.html).toContain('$225.97');
    expect(opened.html).toContain('every month');
    expect(opened.html).toContain('April 1, 2026');
    expect(opened.html).toContain('Cancel with 30 days notice.');
    // The acceptance box is required: without it nothing changes.
    const unticked = await post(link, { version: '2' });
    expect(unticked.status).toBe(400);
    expect(unticked.html).toContain('Tick the box');
    expect((await get(a.id)).status).toBe('SENT');

    const done = await signOnPage(link);
    expect(done.html).toContain('Visa ending in 4242');
    const signed = await get(a.id);
    expect(signed).toMatchObject({ status: 'SIGNED', signedVersion: 2, paymentMethodId: expect.any(String), signedAt: expect.any(String) });
    const wallet = await owner.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id savedVia consent { granted source } consentHistory { note ipAddress } } }`, {
      c: customer.id,
    });
    expect(wallet.paymentMethods).toEqual([
      {
        id: signed.paymentMethodId,
        savedVia: 'HOSTED_PAGE',
        consent: { granted: true, source: 'HOSTED_PAGE' },
        consentHistory: [{ note: expect.stringContaining(`I have read and accept the terms of the agreement "Pool care 2026"`), ipAddress: expect.any(String) }],
      },
    ]);
    // The link works once.
    const again = await page(link);
    expect(again.status).toBe(410);
    expect(again.html).toContain('already been used');
    // The office is told in-app (OWNER and ADMIN), not STAFF.
    await t.drainOutbox();
    const inbox = async (c: Client) => (await c.ok('{ myNotifications { nodes { title body } } }')).myNotifications.nodes as { title: string }[];
    expect((await inbox(owner.client)).map((n) => n.title)).toContain(`${customer.name} signed "Pool care 2026"`);
    expect((await inbox(admin.client)).map((n) => n.title)).toContain(`${customer.name} signed "Pool care 2026"`);
    expect((await inbox(staff.client)).map((n) => n.title)).not.toContain(`${customer.name} signed "Pool care 2026"`);

    // Approval is for OWNER and ADMIN.
    for (const client of [staff.client, manager.client]) {
      expect((await errorOf(client, APPROVE, { id: a.id })).extensions!.code).toBe('FORBIDDEN');
    }
    const active = (await admin.client.ok(APPROVE, { id: a.id })).approveAgreement;
    expect(active).toMatchObject({ status: 'ACTIVE', approvedBy: admin.userId });
    expect(await messagesOf(customer.id, 'AGREEMENT_APPROVED')).toEqual([{ recipient: customer.email, text: expect.stringContaining('Pool care 2026') }]);
    // Its visits: the first three periods (it starts April 1st).
    expect(active.workOrders.map((w: { scheduledFor: string; status: string }) => [w.scheduledFor, w.status])).toEqual([
      ['2026-04-01', 'SCHEDULED'],
      ['2026-05-01', 'SCHEDULED'],
      ['2026-06-01', 'SCHEDULED'],
    ]);

    expect((await errorOf(staff.client, CLOSE, { id: a.id, r: 'Moving away' })).extensions!.code).toBe('FORBIDDEN');
    const closed = (await owner.client.ok(CLOSE, { id: a.id, r: 'Customer is moving away' })).closeAgreement;
    expect(closed).toMatchObject({ status: 'CLOSED', closedAt: expect.any(String) });
    const final = await get(a.id);
    expect(final.transitions.map((x: Record<string, unknown>) => [x.from, x.to, x.actorUserId, x.reason])).toEqual([
      [null, 'QUOTE', staff.userId, null],
      ['QUOTE', 'SENT', staff.userId, 'Sign-up link sent'],
      ['SENT', 'SIGNED', null, 'Accepted by the customer on the sign-up page'],
      ['SIGNED', 'ACTIVE', admin.userId, null],
      ['ACTIVE', 'CLOSED', owner.userId, 'Customer is moving away'],
    ]);
    // Closing cancelled the visits ahead.
    expect(final.workOrders.map((w: { status: string }) => w.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
  });

  it('refuses every illegal transition with CONFLICT naming from and to, changing nothing and recording nothing', async () => {
    const customer = await createCustomer(owner.client);
    const statuses = ['QUOTE', 'SENT', 'SIGNED', 'ACTIVE', 'SUSPENDED', 'CLOSED', 'EXPIRED'];
    const legal: Record<string, string[]> = {
      QUOTE: ['SENT', 'CLOSED'],
      SENT: ['SENT', 'SIGNED', 'CLOSED'],
      SIGNED: ['ACTIVE', 'CLOSED'],
      ACTIVE: ['SUSPENDED', 'CLOSED', 'EXPIRED'],
      SUSPENDED: ['ACTIVE', 'CLOSED', 'EXPIRED'],
      CLOSED: [],
      EXPIRED: [],
    };
    // Each way to ask for a status: GraphQL for the staff actions, the lifecycle service for dunning's.
    const attempts: Record<string, (id: string) => Promise<{ code?: string; reason?: string; from?: string; to?: string } | null>> = {
      SENT: async (id) => (await staff.client.request(SEND, { id })).errors?.[0]?.extensions ?? null,
      ACTIVE: async (id) => {
        const current = (await get(id)).status;
        if (current === 'SUSPENDED') return service(() => em().transactional((tx) => lifecycle().reactivate(tx, id, 'try', null)));
        return (await admin.client.request(APPROVE, { id })).errors?.[0]?.extensions ?? null;
      },
      SUSPENDED: (id) => service(() => em().transactional((tx) => lifecycle().suspend(tx, id, 'try', null))),
      CLOSED: async (id) => (await owner.client.request(CLOSE, { id, r: 'try' })).errors?.[0]?.extensions ?? null,
    };
    async function service(run: () => Promise<unknown>) {
      try {
        await run();
        return null;
      } catch (error) {
        const e = error as { code: string; reason: string; extra?: Record<string, string> };
        return { code: e.code, reason: e.reason, ...e.extra };
      }
    }
    let refused = 0;
    for (const from of statuses) {
      for (const to of Object.keys(attempts)) {
        if (legal[from]!.includes(to)) continue;
        const a = await quote(staff.client, customer.id);
        await setStatus(a.id, from);
        const before = await get(a.id);
        const error = await attempts[to]!(a.id);
        expect({ from, to, error }).toEqual({ from, to, error: expect.objectContaining({ code: 'CONFLICT', reason: 'ILLEGAL_TRANSITION', from, to }) });
        const after = await get(a.id);
        expect(after.status).toBe(from);
        expect(after.transitions).toEqual(before.transitions);
        refused += 1;
      }
    }
    expect(refused).toBe(18); // 7 statuses × 4 targets, minus the 10 legal moves
    // The message names both ends.
    const a = await quote(staff.client, customer.id, { name: 'Named one' });
    const e = await errorOf(admin.client, APPROVE, { id: a.id });
    expect(e.message).toBe('"Named one" cannot go from QUOTE to ACTIVE');
  });

  it('agreements in force past their end date become EXPIRED (by Settle), their visits ahead cancelled; others are untouched', async () => {
    const customer = await createCustomer(owner.client);
    const ended = await quote(staff.client, customer.id, { startDate: '2025-03-01', endDate: '2026-02-28' });
    const suspended = await quote(staff.client, customer.id, { startDate: '2025-03-01', endDate: '2026-03-09' });
    const running = await quote(staff.client, customer.id, { startDate: '2025-03-01', endDate: '2026-03-10' });
    const quoted = await quote(staff.client, customer.id, { startDate: '2025-03-01', endDate: '2026-02-28' });
    await setStatus(ended.id, 'ACTIVE');
    await setStatus(suspended.id, 'SUSPENDED');
    await setStatus(running.id, 'ACTIVE');
    const expired = await em().transactional((tx) => lifecycle().expireEnded(tx));
    expect(expired.sort()).toEqual([ended.id, suspended.id].sort());
    expect((await get(ended.id)).transitions.at(-1)).toMatchObject({ from: 'ACTIVE', to: 'EXPIRED', actorUserId: null, reason: 'Ended on 2026-02-28' });
    expect((await get(suspended.id)).status).toBe('EXPIRED');
    expect((await get(running.id)).status).toBe('ACTIVE');
    expect((await get(quoted.id)).status).toBe('QUOTE');
    expect(await em().transactional((tx) => lifecycle().expireEnded(tx))).toEqual([]);
    await setStatus(running.id, 'CLOSED'); // out of the renewals test's way
  });

  it('approval needs a chargeable method with consent: revoked consent is refused, granted again it passes', async () => {
    const { agreement } = await signedAgreement();
    await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`, {
      i: { id: agreement.paymentMethodId, note: 'customer called' },
    });
    const e = await errorOf(admin.client, APPROVE, { id: agreement.id });
    expect(e.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PAYMENT_METHOD_NOT_CHARGEABLE' });
    expect(e.message).toContain('has not authorized charges');
    expect((await get(agreement.id)).status).toBe('SIGNED');
    await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { grantPaymentMethodConsent(input: $i) { id } }`, {
      i: { id: agreement.paymentMethodId, note: 'signed form on file' },
    });
    expect((await admin.client.ok(APPROVE, { id: agreement.id })).approveAgreement.status).toBe('ACTIVE');
  });

  it('a resent link voids the previous one; a closed agreement’s link shows a clear page', async () => {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id);
    const first = await sendAndReadLink(a.id, customer.email);
    const second = await sendAndReadLink(a.id, customer.email);
    expect(second).not.toBe(first);
    const old = await page(first);
    expect(old.status).toBe(410);
    expect(old.html).toContain('no longer valid');
    expect(old.html).not.toMatch(/at .*\.ts:\d+/);
    expect((await page(second)).status).toBe(200);
    await owner.client.ok(CLOSE, { id: a.id, r: 'Customer declined' });
    expect((await page(second)).status).toBe(410);
    expect((await page(`${t.url}/a/${'x'.repeat(43)}`)).status).toBe(404);
    expect((await get(a.id)).transitions.map((x: { to: string }) => x.to)).toEqual(['QUOTE', 'SENT', 'SENT', 'CLOSED']);
  });

  it('an expired link answers 410 and signs nothing', async () => {
    const customer = await createCustomer(owner.client);
    const a = await quote(staff.client, customer.id);
    const link = await sendAndReadLink(a.id, customer.email);
    t.clock.advance(7 * 24 * 3_600_000 + 1000);
    try {
      const res = await page(link);
      expect(res.status).toBe(410);
      expect(res.html).toContain('This link has expired');
      expect((await post(link, { accept: 'yes', version: '2' })).status).toBe(410);
      expect((await get(a.id)).status).toBe('SENT');
    } finally {
      t.clock.set('2026-03-10T15:00:00Z');
    }
  });

  // --- renewals -------------------------------------------------------------------------------------------------------

  it('renewals: filters agreements expiring within N days, sends notices (opt-out respected, once), and renewal quotes', async () => {
    const soon = await createCustomer(owner.client);
    const optedOut = await createCustomer(owner.client);
    await owner.client.ok(`mutation($id: ID!) { updateCustomer(id: $id, input: { marketingOptOut: true }) { id } }`, { id: optedOut.id });
    const ending = await quote(staff.client, soon.id, { name: 'Ends soon', startDate: '2025-04-01', endDate: '2026-03-31' });
    const endingOptOut = await quote(staff.client, optedOut.id, { name: 'Ends soon too', startDate: '2025-04-01', endDate: '2026-03-31' });
    const later = await quote(staff.client, soon.id, { name: 'Ends later', startDate: '2025-06-01', endDate: '2026-05-31' });
    const open = await quote(staff.client, soon.id, { name: 'Open-ended', startDate: '2025-06-01' });
    const quoteOnly = await quote(staff.client, soon.id, { name: 'Just a quote', startDate: '2025-04-01', endDate: '2026-03-31' });
    for (const a of [ending, endingOptOut, later, open]) await setStatus(a.id, 'ACTIVE');

    const LIST = `query($f: AgreementFilterInput) { agreements(filter: $f, first: 100) { totalCount nodes { id name endDate } } }`;
    const expiring = (await staff.client.ok(LIST, { f: { expiringWithinDays: 30 } })).agreements;
    expect(expiring.nodes.map((n: { id: string }) => n.id).sort()).toEqual([ending.id, endingOptOut.id].sort());
    expect((await staff.client.ok(LIST, { f: { expiringWithinDays: 90, customerId: soon.id } })).agreements.nodes.map((n: { name: string }) => n.name).sort()).toEqual([
      'Ends later',
      'Ends soon',
    ]);
    expect((await staff.client.ok(LIST, { f: { status: ['QUOTE'], customerId: soon.id } })).agreements.nodes.map((n: { id: string }) => n.id)).toEqual([quoteOnly.id]);

    const NOTICES = `mutation($i: AgreementSelectionInput!) { sendRenewalNotices(input: $i) { sent skipped { agreementId reason } } }`;
    expect((await errorOf(staff.client, NOTICES, { i: { filter: { expiringWithinDays: 30 } } })).extensions!.code).toBe('FORBIDDEN');
    const result = (await manager.client.ok(NOTICES, { i: { filter: { expiringWithinDays: 30 } } })).sendRenewalNotices;
    expect(result).toEqual({ sent: [ending.id], skipped: [{ agreementId: endingOptOut.id, reason: 'OPTED_OUT' }] });
    expect(await messagesOf(soon.id, 'RENEWAL_NOTICE')).toEqual([{ recipient: soon.email, text: expect.stringContaining('"Ends soon"') }]);
    expect(await messagesOf(optedOut.id, 'RENEWAL_NOTICE')).toEqual([]);
    // One by one, and again: no second notice.
    expect((await manager.client.ok(NOTICES, { i: { ids: [ending.id, open.id] } })).sendRenewalNotices).toEqual({
      sent: [ending.id],
      skipped: [{ agreementId: open.id, reason: 'NO_END_DATE' }],
    });
    expect(await messagesOf(soon.id, 'RENEWAL_NOTICE')).toHaveLength(1);

    const RENEW = `mutation($id: ID!) { createRenewalQuote(agreementId: $id) { ${AGREEMENT} } }`;
    const renewal = (await staff.client.ok(RENEW, { id: ending.id })).createRenewalQuote;
    expect(renewal).toMatchObject({
      status: 'QUOTE',
      renewalOfId: ending.id,
      customerId: soon.id,
      name: 'Ends soon',
      terms: ending.terms,
      startDate: '2026-04-01',
      endDate: '2027-03-31',
      total: { amount: '22597' },
      paymentMethodId: null,
    });
    expect((await staff.client.ok(RENEW, { id: ending.id })).createRenewalQuote.id).toBe(renewal.id);
    expect((await errorOf(staff.client, RENEW, { id: open.id })).extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_RENEWABLE' });
    const all = (
      await staff.client.ok(`mutation($i: AgreementSelectionInput!) { createRenewalQuotes(input: $i) { id renewalOfId } }`, {
        i: { filter: { expiringWithinDays: 30 } },
      })
    ).createRenewalQuotes;
    expect(all).toHaveLength(2);
    expect(all.find((q: { renewalOfId: string }) => q.renewalOfId === ending.id).id).toBe(renewal.id);
  });

  // --- work orders ----------------------------------------------------------------------------------------------------

  it('generates work orders idempotently: three periods ahead, one more as a period passes, never twice', async () => {
    const { agreement } = await activeAgreement({ startDate: '2026-03-01' });
    expect(agreement.workOrders.map((w: { scheduledFor: string }) => w.scheduledFor)).toEqual(['2026-03-01', '2026-04-01', '2026-05-01']);
    expect(await workOrdersService().generateForActive(em(), [agreement.id])).toBe(0);
    await Promise.all([1, 2, 3].map(() => workOrdersService().generateForActive(em(), [agreement.id])));
    expect((await get(agreement.id)).workOrders).toHaveLength(3);
    t.clock.set('2026-04-02T15:00:00Z');
    try {
      expect(await workOrdersService().generateForActive(em(), [agreement.id])).toBe(1);
      expect((await get(agreement.id)).workOrders.map((w: { scheduledFor: string }) => w.scheduledFor)).toEqual([
        '2026-03-01',
        '2026-04-01',
        '2026-05-01',
        '2026-06-01',
      ]);
    } finally {
      t.clock.set('2026-03-10T15:00:00Z');
    }
  });

  it('suspension suspends only the visits ahead, the dispatch query never shows them, reactivation brings them back', async () => {
    const { agreement } = await activeAgreement({ startDate: '2026-03-01' });
    const CREATE_WO = `mutation($i: CreateWorkOrderInput!) { createWorkOrder(input: $i) { ${WORK_ORDER} } }`;
    const today = (await staff.client.ok(CREATE_WO, { i: { customerId: agreement.customerId, agreementId: agreement.id, scheduledFor: '2026-03-10', title: 'Filter check' } })).createWorkOrder;
    const past = agreement.workOrders.find((w: { scheduledFor: string }) => w.scheduledFor === '2026-03-01');
    const ids = (list: { id: string }[]) => list.map((w) => w.id);
    const dispatchable = async () => ids((await staff.client.ok(DISPATCH, { from: '2026-03-01', to: '2026-12-31' })).dispatchableWorkOrders.nodes);
    expect(await dispatchable()).toEqual(expect.arrayContaining([past.id, today.id]));

    await em().transactional((tx) => lifecycle().suspend(tx, agreement.id, 'Card declined twice', null));
    const suspended = await get(agreement.id);
    expect(suspended.status).toBe('SUSPENDED');
    expect(suspended.workOrders.map((w: { scheduledFor: string; status: string }) => [w.scheduledFor, w.status])).toEqual([
      ['2026-03-01', 'SCHEDULED'], // in the past: untouched
      ['2026-03-10', 'SUSPENDED'],
      ['2026-04-01', 'SUSPENDED'],
      ['2026-05-01', 'SUSPENDED'],
    ]);
    const visible = await dispatchable();
    for (const w of suspended.workOrders.filter((x: { status: string }) => x.status === 'SUSPENDED')) expect(visible).not.toContain(w.id);
    // A suspended visit cannot be completed; a visit added now is suspended too.
    expect((await errorOf(staff.client, `mutation($id: ID!) { completeWorkOrder(id: $id) { id } }`, { id: today.id })).extensions!.reason).toBe('WORK_ORDER_STATE');
    const added = (await staff.client.ok(CREATE_WO, { i: { customerId: agreement.customerId, agreementId: agreement.id, scheduledFor: '2026-03-20', title: 'Extra' } })).createWorkOrder;
    expect(added.status).toBe('SUSPENDED');

    await em().transactional((tx) => lifecycle().reactivate(tx, agreement.id, 'Card updated, payment succeeded', admin.userId));
    const back = await get(agreement.id);
    expect(back.status).toBe('ACTIVE');
    expect(back.workOrders.every((w: { status: string }) => w.status === 'SCHEDULED')).toBe(true);
    expect(await dispatchable()).toEqual(expect.arrayContaining(ids(back.workOrders)));
    expect(back.transitions.slice(-2).map((x: Record<string, unknown>) => [x.from, x.to, x.actorUserId, x.reason])).toEqual([
      ['ACTIVE', 'SUSPENDED', null, 'Card declined twice'],
      ['SUSPENDED', 'ACTIVE', admin.userId, 'Card updated, payment succeeded'],
    ]);
  });

  it('a one-off job: created by staff, invoiced (billedRef WORK_ORDER), its balance follows payments, then completed', async () => {
    const customer = await createCustomer(owner.client);
    const job = (
      await staff.client.ok(`mutation($i: CreateWorkOrderInput!) { createWorkOrder(input: $i) { ${WORK_ORDER} } }`, {
        i: { customerId: customer.id, scheduledFor: '2026-03-12', title: 'Replace pump seal', technicianUserId: staff.userId },
      })
    ).createWorkOrder;
    expect(job).toMatchObject({ agreementId: null, status: 'SCHEDULED', invoiceId: null, balance: null, technicianUserId: staff.userId });
    const INVOICE = `mutation($id: ID!, $l: [ServiceLineInput!]!) { invoiceWorkOrder(id: $id, lines: $l) { ${WORK_ORDER} } }`;
    const invoiced = (await staff.client.ok(INVOICE, { id: job.id, l: [{ description: 'Pump seal', quantity: '1', unitPrice: '12000' }] })).invoiceWorkOrder;
    expect(invoiced).toMatchObject({ invoiceId: expect.any(String), balance: { amount: '12000', currency: 'USD' } });
    const invoice = (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status total { amount } billedRef { type id label } } }`, { id: invoiced.invoiceId })).invoice;
    expect(invoice).toEqual({ status: 'OPEN', total: { amount: '12000' }, billedRef: { type: 'WORK_ORDER', id: job.id, label: 'Work order: Replace pump seal' } });
    expect((await errorOf(staff.client, INVOICE, { id: job.id, l: [{ description: 'Again', unitPrice: '1' }] })).extensions!.reason).toBe('WORK_ORDER_ALREADY_INVOICED');

    await manager.client.ok(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
      i: { customerId: customer.id, amount: { amount: '5000', currency: 'USD' }, method: 'CASH', allocations: [{ invoiceId: invoiced.invoiceId, amount: { amount: '5000', currency: 'USD' } }] },
    });
    const one = (await staff.client.ok(`query($id: ID!) { workOrder(id: $id) { ${WORK_ORDER} } }`, { id: job.id })).workOrder;
    expect(one.balance).toEqual({ amount: '7000', currency: 'USD' });
    const completed = (await staff.client.ok(`mutation($id: ID!) { completeWorkOrder(id: $id) { ${WORK_ORDER} } }`, { id: job.id })).completeWorkOrder;
    expect(completed).toMatchObject({ status: 'COMPLETED', completedAt: expect.any(String) });
    expect((await errorOf(staff.client, `mutation($id: ID!) { cancelWorkOrder(id: $id) { id } }`, { id: job.id })).extensions!.reason).toBe('WORK_ORDER_STATE');
    const list = (await staff.client.ok(`query($c: ID!) { workOrders(customerId: $c) { totalCount nodes { id status } } }`, { c: customer.id })).workOrders;
    expect(list).toEqual({ totalCount: 1, nodes: [{ id: job.id, status: 'COMPLETED' }] });
  });

  it('answers NOT_FOUND for another organization’s agreements and work orders, changing nothing', async () => {
    const { agreement } = await activeAgreement();
    const wo = agreement.workOrders[0];
    const o = other.client;
    const notFound = async (query: string, variables: Record<string, unknown>) => expect((await errorOf(o, query, variables)).extensions!.code).toBe('NOT_FOUND');
    await notFound(GET, { id: agreement.id });
    await notFound(UPDATE, { id: agreement.id, i: { name: 'x' } });
    await notFound(SEND, { id: agreement.id });
    await notFound(APPROVE, { id: agreement.id });
    await notFound(CLOSE, { id: agreement.id, r: 'x' });
    await notFound(`mutation($id: ID!) { createRenewalQuote(agreementId: $id) { id } }`, { id: agreement.id });
    await notFound(`mutation($i: AgreementSelectionInput!) { sendRenewalNotices(input: $i) { sent } }`, { i: { ids: [agreement.id] } });
    await notFound(`mutation($i: AgreementSelectionInput!) { createRenewalQuotes(input: $i) { id } }`, { i: { ids: [agreement.id] } });
    await notFound(`query($id: ID!) { workOrder(id: $id) { id } }`, { id: wo.id });
    await notFound(`mutation($id: ID!) { completeWorkOrder(id: $id) { id } }`, { id: wo.id });
    await notFound(`mutation($id: ID!) { cancelWorkOrder(id: $id) { id } }`, { id: wo.id });
    await notFound(`mutation($id: ID!, $l: [ServiceLineInput!]!) { invoiceWorkOrder(id: $id, lines: $l) { id } }`, { id: wo.id, l: [{ description: 'x', unitPrice: '1' }] });
    await notFound(`mutation($i: CreateWorkOrderInput!) { createWorkOrder(input: $i) { id } }`, {
      i: { customerId: agreement.customerId, scheduledFor: '2026-03-12', title: 'x' },
    });
    await notFound(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id } }`, {
      i: { customerId: agreement.customerId, name: 'x', terms: 'x', lines: LINES, frequency: 'MONTHLY', startDate: '2026-04-01' },
    });
    expect((await o.ok(`{ agreements { totalCount } workOrders { totalCount } }`))).toEqual({ agreements: { totalCount: 0 }, workOrders: { totalCount: 0 } });
    const after = await get(agreement.id);
    expect(after).toMatchObject({ status: 'ACTIVE', name: agreement.name });
    expect(after.workOrders[0].status).toBe('SCHEDULED');
  });
});
