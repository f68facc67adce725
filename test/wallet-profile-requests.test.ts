import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { simpleParser } from 'mailparser';
import { AppConfig } from '../src/config/index.js';
import { PaymentGateway } from '../src/infra/payment-gateway/index.js';
import { MessageDispatcher } from '../src/modules/notifications/index.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Owner['client'];

const ORG = 'Pinecrest Pools & Spas';
const ADDRESS = { line1: '12 Main St', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US' };
const REQUEST = `id customerId status purpose channels sentToEmail sentToPhone kinds message expiresAt requestedBy consentGiven
  completedAt paymentMethodId cancelledAt cancelledBy createdAt`;
const SEND = `mutation($i: SendPaymentProfileRequestInput!) { sendPaymentProfileRequest(input: $i) { ${REQUEST} } }`;
const HOUR = 3_600_000;

describe('payment profile requests: secure links to add a card or bank account', () => {
  let t: TestApp;
  let dataDir: string;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let otherStaff: Member;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-profile-requests-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    // Links must point at this test server (PUBLIC_URL defaults to port 3000; the app listens on a random port).
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    owner = await signUpOrganization(t.gql, ORG);
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    otherStaff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  // --- helpers ------------------------------------------------------------------------------------------------------

  async function createCustomer(overrides: Record<string, unknown> = {}): Promise<{ id: string; email: string }> {
    const email = `pat-${randomBytes(3).toString('hex')}@example.com`;
    const input = { name: 'Pat Rivera', email, phone: '+1 802 555 0142', billingAddress: ADDRESS, ...overrides };
    const data = await owner.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: input });
    return { id: data.createCustomer.id as string, email };
  }

  const send = (client: Client, input: Record<string, unknown>) => client.request(SEND, { i: { channels: ['EMAIL'], ...input } });
  async function sendOk(client: Client, input: Record<string, unknown>) {
    const res = await send(client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.sendPaymentProfileRequest as Record<string, any>;
  }

  async function dispatch(): Promise<void> {
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
  }

  /** Every email in DATA_DIR/mail to this address, parsed. */
  async function emailsTo(address: string) {
    const dir = path.join(dataDir, 'mail');
    if (!existsSync(dir)) return [];
    const mails = await Promise.all(readdirSync(dir).map((f) => simpleParser(readFileSync(path.join(dir, f)))));
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

  const LINK = () => new RegExp(`${t.url.replace(/[.]/g, '\\.')}/p/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);

  /** Sends a request by email, delivers it, and returns the link the customer received. */
  async function linkFor(customer: { id: string; email: string }, input: Record<string, unknown> = {}, client: Client = staff.client) {
    const request = await sendOk(client, { customerId: customer.id, ...input });
    await dispatch();
    const mail = (await emailsTo(customer.email)).find((m) => m.text?.match(LINK()))!;
    const url = mail.text!.match(LINK())![0];
    return { request, url, token: url.split('/p/')[1]!, mail };
  }

  const page = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location'), headers: res.headers };
  };
  const post = async (url: string, fields: Record<string, string>) => {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'ProfileRequestTest/1.0' },
      body: new URLSearchParams(fields),
    });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };

  const FORM = {
    name: 'Pat Rivera-Smith',
    email: '',
    phone: '+1 802 555 0199',
    line1: '40 Lake Rd',
    line2: 'Unit 2',
    city: 'Stowe',
    region: 'VT',
    postalCode: '05672',
    country: 'us',
    kind: 'CARD',
    consent: 'yes',
  };
  const CARD = (number = '4242424242424242') => ({ number, exp_month: '12', exp_year: String(new Date().getUTCFullYear() + 3), cvc: '123', name: 'Pat Rivera' });

  /** Form → gateway page → card → back to Settle. Returns the final page. */
  async function completeWithCard(url: string, customerEmail: string, number = '4242424242424242') {
    const submitted = await post(url, { ...FORM, email: customerEmail });
    expect(submitted.status).toBe(303);
    const gateway = await post(submitted.location!, CARD(number));
    expect(gateway.status).toBe(303);
    return { ...(await page(gateway.location!)), returnUrl: gateway.location!, sessionUrl: submitted.location! };
  }

  const wallet = async (customerId: string) =>
    (
      await owner.client.ok(
        `query($c: ID!) { paymentMethods(customerId: $c, includeRemoved: true) { id label status isDefault savedVia savedBy
          consent { granted source recordedBy } consentHistory { source note ipAddress } } }`,
        { c: customerId },
      )
    ).paymentMethods as Record<string, any>[];
  const requestById = async (id: string, client: Client = owner.client) =>
    (await client.ok(`query($id: ID!) { paymentProfileRequest(id: $id) { ${REQUEST} } }`, { id })).paymentProfileRequest;
  const customerOf = async (id: string) =>
    (
      await owner.client.ok(`query($id: ID!) { customer(id: $id) { name email phone billingAddress { line1 line2 city region postalCode country } } }`, {
        id,
      })
    ).customer;
  const count = async (sql: string, params: unknown[]) =>
    Number((await t.app.get(MikroORM).em.fork().execute<{ n: string }[]>(`select count(*) as n from ${sql}`, params))[0]!.n);

  /** Every text-like column of every table, as one string per row, for "is this secret stored anywhere?". */
  async function everyStoredText(): Promise<string> {
    const em = t.app.get(MikroORM).em.fork();
    const columns = await em.execute<{ table_name: string; column_name: string }[]>(
      `select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'ARRAY')`,
    );
    const parts: string[] = [];
    for (const { table_name, column_name } of columns) {
      const rows = await em.execute<{ v: string | null }[]>(`select "${column_name}"::text as v from "${table_name}"`);
      for (const r of rows) if (r.v) parts.push(r.v);
    }
    return parts.join('\n');
  }

  // --- sending ------------------------------------------------------------------------------------------------------

  it('STAFF emails a request: the customer gets a single-use link, and the database holds only its SHA-256', async () => {
    const customer = await createCustomer();
    const { request, url, token, mail } = await linkFor(customer, { message: 'For the spring opening, thanks!' });
    expect(request).toMatchObject({
      customerId: customer.id,
      status: 'PENDING',
      purpose: 'NEW',
      channels: ['EMAIL'],
      sentToEmail: customer.email,
      sentToPhone: null,
      kinds: ['CARD', 'BANK_ACCOUNT'],
      message: 'For the spring opening, thanks!',
      requestedBy: staff.userId,
      consentGiven: false,
    });
    expect(new Date(request.expiresAt).getTime() - new Date(request.createdAt).getTime()).toBe(72 * HOUR);
    expect(request).not.toHaveProperty('token');

    expect(mail.subject).toBe(`${ORG}: please add your payment method`);
    expect(mail.text).toContain('Hi Pat Rivera');
    expect(mail.html).toContain(`href="${url}"`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits

    const stored = await everyStoredText();
    expect(stored).not.toContain(token);
    const hash = createHash('sha256').update(token).digest('hex');
    expect(await count(`payment_profile_request where id = ? and token_hash = ?`, [request.id, hash])).toBe(1);
    // The message row keeps a sealed marker where the link goes; the token is added only when it is sent.
    expect(await count(`message where customer_id = ? and text like '%/p/sealed~profile-request~%'`, [customer.id])).toBe(1);
  });

  it('texts the link to a number given for this request (validated, E.164); the customer record is unchanged', async () => {
    const customer = await createCustomer();
    const request = await sendOk(staff.client, { customerId: customer.id, channels: ['SMS'], phone: '(802) 555-0177', kinds: ['CARD'] });
    expect(request).toMatchObject({ channels: ['SMS'], sentToPhone: '+18025550177', sentToEmail: null, kinds: ['CARD'] });
    await dispatch();
    const [sms] = smsTo('+18025550177');
    expect(sms!.body).toMatch(LINK());
    expect(sms!.body).toContain(ORG);
    expect((await customerOf(customer.id)).phone).toBe('+18025550142');
    expect(await everyStoredText()).not.toContain(sms!.body.match(LINK())![1]);
  });

  it('sends by email and SMS at once, with the same link', async () => {
    const customer = await createCustomer({ phone: '+1 802 555 0188' });
    await sendOk(owner.client, { customerId: customer.id, channels: ['EMAIL', 'SMS'] });
    await dispatch();
    const [mail] = await emailsTo(customer.email);
    const [sms] = smsTo('+18025550188');
    expect(mail!.text!.match(LINK())![0]).toBe(sms!.body.match(LINK())![0]);
  });

  it.each([
    ['no channel', { channels: [] }, 'channels'],
    ['an unknown channel', { channels: ['FAX'] }, null],
    ['an invalid email to send to', { email: 'not-an-email' }, 'email'],
    ['an invalid phone number', { channels: ['SMS'], phone: '12' }, 'phone'],
    ['no kind', { kinds: [] }, 'kinds'],
    ['a message over 500 characters', { message: 'x'.repeat(501) }, 'message'],
  ])('refuses %s with BAD_USER_INPUT naming the field; no request and no message', async (_, input, field) => {
    const customer = await createCustomer();
    const res = await send(staff.client, { customerId: customer.id, ...input });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    if (field) expect(res.errors?.[0]?.extensions?.fields).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await count(`payment_profile_request where customer_id = ?`, [customer.id])).toBe(0);
    expect(await count(`message where customer_id = ?`, [customer.id])).toBe(0);
  });

  it('refuses EMAIL for a customer without an email, and SMS without a phone, naming the field', async () => {
    const customer = await createCustomer({ email: null, phone: null });
    for (const [channel, field] of [['EMAIL', 'email'], ['SMS', 'phone']] as const) {
      const res = await send(staff.client, { customerId: customer.id, channels: [channel] });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field }] });
      expect(res.errors?.[0]?.message).toContain('Pat Rivera has no');
    }
    expect(await count(`payment_profile_request where customer_id = ?`, [customer.id])).toBe(0);
    expect(await count(`message where customer_id = ?`, [customer.id])).toBe(0);
  });

  it('every staff role may send and look; signed-out callers may not', async () => {
    const customer = await createCustomer();
    for (const client of [owner.client, manager.client, staff.client]) {
      t.clock.advance(1_000);
      const sent = await sendOk(client, { customerId: customer.id });
      expect((await requestById(sent.id, otherStaff.client)).id).toBe(sent.id);
    }
    const list = await otherStaff.client.ok(`query($c: ID) { paymentProfileRequests(customerId: $c) { totalCount nodes { requestedBy } } }`, {
      c: customer.id,
    });
    expect(list.paymentProfileRequests.totalCount).toBe(3);
    expect(list.paymentProfileRequests.nodes.map((n: { requestedBy: string }) => n.requestedBy)).toEqual([staff.userId, manager.userId, owner.userId]);
    expect((await send(t.gql, { customerId: customer.id })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an unknown customer is NOT_FOUND; an archived one cannot be asked', async () => {
    const res = await send(staff.client, { customerId: '0190a0a0-0000-7000-8000-000000000000' });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const customer = await createCustomer();
    await owner.client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: customer.id });
    expect((await send(staff.client, { customerId: customer.id })).errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'CUSTOMER_ARCHIVED',
    });
  });

  // --- the hosted page ----------------------------------------------------------------------------------------------

  it('the page shows the organization, the customer’s details and address, the kind choice and the consent box', async () => {
    const customer = await createCustomer({ name: 'Pat <b>Rivera</b>' });
    const { url } = await linkFor(customer, { message: 'Note <i>from</i> us' });
    const res = await page(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(res.html).toContain(`<div class="org" id="organization-name">Pinecrest Pools &amp; Spas</div>`);
    expect(res.html).toContain('Pat &lt;b&gt;Rivera&lt;/b&gt;');
    expect(res.html).not.toContain('<b>Rivera</b>');
    expect(res.html).toContain('Note &lt;i&gt;from&lt;/i&gt; us');
    expect(res.html).toContain(`value="${customer.email}"`);
    expect(res.html).toContain('value="12 Main St"');
    expect(res.html).toContain('value="05401"');
    expect(res.html).toContain('name="kind" id="kind-card" value="CARD"');
    expect(res.html).toContain('name="kind" id="kind-bank" value="BANK_ACCOUNT"');
    expect(res.html).toContain('I authorize Pinecrest Pools &amp; Spas to save this payment method and charge it for future purchases');
    expect(res.html).not.toMatch(/<script|<link|src="http/);
  });

  it('bad input comes back with each field named and what was typed kept; nothing changes', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer, { kinds: ['CARD'] });
    const before = await customerOf(customer.id);
    const res = await post(url, { ...FORM, name: 'Pat Changed', email: 'pat@@example', city: '', country: 'USA', consent: '' });
    expect(res.status).toBe(400);
    expect(res.html).toContain('id="form-errors"');
    expect(res.html).toMatch(/id="city-error">Enter the city</);
    expect(res.html).toMatch(/id="country-error">Enter the two-letter country code/);
    expect(res.html).toMatch(/id="consent-error">Tick the box to continue: without your authorization/);
    expect(res.html).toMatch(/id="email-error">[^<]*valid email/);
    expect(res.html).toContain('value="Pat Changed"');
    expect(res.html).toContain('value="pat@@example"');
    expect(res.html).toContain('value="40 Lake Rd"');
    expect(res.html).not.toContain('name="kind" id="kind-card"'); // only cards were asked for: no choice shown
    expect(await customerOf(customer.id)).toEqual(before);
    expect(await requestById(request.id)).toMatchObject({ status: 'PENDING', consentGiven: false });
    expect(await count(`wallet_account where customer_id = ?`, [customer.id])).toBe(0);
  });

  it('a customer saves a card: contact details updated, the method in the wallet with consent, staff told in-app', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer, {}, staff.client);
    const done = await completeWithCard(url, 'Pat.New@Example.com');
    expect(done.status).toBe(200);
    expect(done.html).toContain('id="thank-you"');
    expect(done.html).toContain('<strong id="saved-method">Visa ending in 4242</strong>');
    expect(done.returnUrl).not.toContain(request.id); // the return address carries the gateway's session only
    expect(done.sessionUrl).toMatch(new RegExp(`^${t.url}/sandbox-gateway/checkout/`));

    expect(await customerOf(customer.id)).toEqual({
      name: 'Pat Rivera-Smith',
      email: 'pat.new@example.com',
      phone: '+18025550199',
      billingAddress: { line1: '40 Lake Rd', line2: 'Unit 2', city: 'Stowe', region: 'VT', postalCode: '05672', country: 'US' },
    });
    const [method] = await wallet(customer.id);
    expect(method).toMatchObject({
      label: 'Visa ending in 4242',
      status: 'ACTIVE',
      isDefault: true,
      savedVia: 'HOSTED_PAGE',
      savedBy: null,
      consent: { granted: true, source: 'HOSTED_PAGE', recordedBy: null },
    });
    expect(method!.consentHistory).toEqual([
      {
        source: 'HOSTED_PAGE',
        note: expect.stringContaining('I authorize Pinecrest Pools & Spas to save this payment method'),
        ipAddress: expect.stringMatching(/127\.0\.0\.1/),
      },
    ]);
    expect(await requestById(request.id)).toMatchObject({ status: 'COMPLETED', consentGiven: true, paymentMethodId: method!.id });

    for (const who of [staff, manager]) {
      const inbox = await who.client.ok(`{ myNotifications(first: 5) { nodes { title body link } } }`);
      expect(inbox.myNotifications.nodes).toContainEqual({
        title: 'Pat Rivera-Smith saved a payment method',
        body: expect.stringContaining('saved Visa ending in 4242 through a payment profile request'),
        link: `/customers/${customer.id}`,
      });
    }
    const ownerInbox = await owner.client.ok(`{ myNotifications(first: 20) { nodes { title } } }`);
    expect(ownerInbox.myNotifications.nodes).not.toContainEqual({ title: 'Pat Rivera-Smith saved a payment method' });

    // Used: the link, the form and the return address all say so, and change nothing.
    const again = await page(url);
    expect(again.status).toBe(410);
    expect(again.html).toContain('This link has already been used');
    expect(again.html).toContain('to save Visa ending in 4242');
    expect(again.html).toContain('Pinecrest Pools &amp; Spas</strong> (A STAFF');
    const repost = await post(url, { ...FORM, name: 'Someone Else' });
    expect(repost.status).toBe(410);
    const back = await page(done.returnUrl);
    expect(back.status).toBe(410);
    expect((await customerOf(customer.id)).name).toBe('Pat Rivera-Smith');
    expect(await wallet(customer.id)).toHaveLength(1);
  });

  it('a bank account, chosen on the page, is saved through the gateway’s bank form', async () => {
    const customer = await createCustomer();
    const { url } = await linkFor(customer);
    const submitted = await post(url, { ...FORM, email: customer.email, kind: 'BANK_ACCOUNT' });
    expect(submitted.status).toBe(303);
    const form = await page(submitted.location!);
    expect(form.html).toContain('name="routing_number"');
    expect(form.html).not.toContain('name="number"');
    const gateway = await post(submitted.location!, {
      routing_number: '110000000',
      account_number: '000123456789',
      account_holder_name: 'Pat Rivera',
      account_type: 'checking',
    });
    const done = await page(gateway.location!);
    expect(done.status).toBe(200);
    expect(done.html).toMatch(/Checking account .*ending in 6789/);
    expect((await wallet(customer.id))[0]).toMatchObject({ label: expect.stringMatching(/ending in 6789$/), consent: { granted: true } });
  });

  it('two tabs: both reach the gateway and both finish there, but only the first completion saves; the other method is detached', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer, { kinds: ['CARD'] });
    const tabA = await post(url, { ...FORM, email: customer.email });
    t.clock.advance(1_000); // a later submission gets a session of its own
    const tabB = await post(url, { ...FORM, email: customer.email });
    expect(tabA.location).not.toBe(tabB.location);
    const backA = (await post(tabA.location!, CARD('4242424242424242'))).location!;
    const backB = (await post(tabB.location!, CARD('5555555555554444'))).location!;

    const [a, b] = await Promise.all([page(backA), page(backB)]);
    expect([a.status, b.status].sort()).toEqual([200, 410]);
    const methods = await wallet(customer.id);
    expect(methods).toHaveLength(1);
    expect((await requestById(request.id)).paymentMethodId).toBe(methods[0]!.id);

    const loserSession = (a.status === 410 ? backA : backB).split('session=')[1]!;
    const session = await t.app.get(PaymentGateway).getSetupSession(loserSession);
    const orphan = await t.app.get(PaymentGateway).describePaymentMethod(session.paymentMethodId!);
    expect(orphan.customerId).toBeNull();
  });

  it('a wallet that is full refuses the new card with a clear page; the link stays usable and nothing is saved', async () => {
    const customer = await createCustomer();
    const em = t.app.get(MikroORM).em.fork();
    for (let i = 0; i < 10; i++) {
      await em.execute(
        `insert into payment_method (id, organization_id, created_at, updated_at, customer_id, kind, status, gateway,
           gateway_payment_method_id, fingerprint, brand, last4, exp_month, exp_year, billing_address, is_default, saved_via)
         values (gen_random_uuid(), ?, now(), now(), ?, 'CARD', 'ACTIVE', 'sandbox', ?, ?, 'visa', ?, 12, 2040, ?, false, 'STAFF')`,
        [owner.organizationId, customer.id, `pm_seeded_${i}_${randomBytes(4).toString('hex')}`, `fp_seeded_${randomBytes(6).toString('hex')}`, String(1000 + i), JSON.stringify(ADDRESS)],
      );
    }
    const { url, request } = await linkFor(customer, { kinds: ['CARD'] });
    const res = await completeWithCard(url, customer.email);
    expect(res.status).toBe(409);
    expect(res.html).toContain('Your payment method was not saved');
    expect(res.html).toContain('already has 10 saved cards');
    expect(await wallet(customer.id)).toHaveLength(10);
    expect(await requestById(request.id)).toMatchObject({ status: 'PENDING', paymentMethodId: null });
    expect((await page(url)).status).toBe(200);
  });

  it('a declined card is refused on the gateway’s page; the request stays open', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer, { kinds: ['CARD'] });
    const submitted = await post(url, { ...FORM, email: customer.email });
    const declined = await post(submitted.location!, CARD('4000000000000002'));
    expect(declined.status).toBe(402);
    expect(declined.html).toMatch(/declined/i);
    expect(await requestById(request.id)).toMatchObject({ status: 'PENDING' });
    expect(await wallet(customer.id)).toEqual([]);

    // Giving up on the gateway's page leads back to Settle, which says nothing was saved and how to continue.
    const cancelUrl = declined.html.match(/href="([^"]+)" id="cancel"/)![1]!.replaceAll('&amp;', '&');
    expect(cancelUrl).toBe(`${t.url}/p/session/left?request=${request.id}`);
    const left = await page(cancelUrl);
    expect(left.status).toBe(200);
    expect(left.html).toContain('No payment method was saved');
    expect(left.html).toContain('<div class="org" id="organization-name">Pinecrest Pools &amp; Spas</div>');
    expect((await page(url)).status).toBe(200);
  });

  it('expires after 72 hours: a clear page, status EXPIRED, nothing changes', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer);
    t.clock.advance(72 * HOUR - 60_000);
    expect((await page(url)).status).toBe(200);
    t.clock.advance(60_000);
    const res = await page(url);
    expect(res.status).toBe(410);
    expect(res.html).toContain('This link has expired');
    expect(res.html).toContain('Please ask <strong>Pinecrest Pools &amp; Spas</strong>');
    expect((await post(url, { ...FORM })).status).toBe(410);
    expect(await requestById(request.id)).toMatchObject({ status: 'EXPIRED', consentGiven: false });
    const expired = await owner.client.ok(`query($c: ID) { paymentProfileRequests(customerId: $c, status: EXPIRED) { nodes { id } } }`, { c: customer.id });
    expect(expired.paymentProfileRequests.nodes).toEqual([{ id: request.id }]);
    const pending = await owner.client.ok(`query($c: ID) { paymentProfileRequests(customerId: $c, status: PENDING) { totalCount } }`, { c: customer.id });
    expect(pending.paymentProfileRequests.totalCount).toBe(0);
    const cancel = await owner.client.request(`mutation($id: ID!) { cancelPaymentProfileRequest(id: $id) { id } }`, { id: request.id });
    expect(cancel.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PROFILE_REQUEST_CLOSED' });
  });

  it('a link that completes after it expired (the customer was on the gateway’s page) is refused and changes nothing', async () => {
    const customer = await createCustomer();
    const { url, request } = await linkFor(customer, { kinds: ['CARD'] });
    t.clock.advance(72 * HOUR - 60_000);
    const submitted = await post(url, { ...FORM, email: customer.email });
    t.clock.advance(60_000); // the link expires while the customer is on the gateway's page
    const back = (await post(submitted.location!, CARD())).location!;
    const res = await page(back);
    expect(res.status).toBe(410);
    expect(res.html).toContain('This link has expired');
    expect(await wallet(customer.id)).toEqual([]);
    expect(await requestById(request.id)).toMatchObject({ status: 'EXPIRED', paymentMethodId: null });
  });

  it('cancel: the sender or a wallet manager may; the link then says it was cancelled', async () => {
    const customer = await createCustomer();
    const mine = await linkFor(customer, {}, staff.client);
    const cancel = (client: Client, id: string) =>
      client.request(`mutation($id: ID!) { cancelPaymentProfileRequest(id: $id) { ${REQUEST} } }`, { id });

    const refused = await cancel(otherStaff.client, mine.request.id);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_THE_SENDER' });
    expect((await requestById(mine.request.id)).status).toBe('PENDING');

    const cancelled = (await cancel(staff.client, mine.request.id)).data!.cancelPaymentProfileRequest;
    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelledBy: staff.userId, cancelledAt: expect.any(String) });
    const res = await page(mine.url);
    expect(res.status).toBe(410);
    expect(res.html).toContain('This link was cancelled');
    expect((await cancel(staff.client, mine.request.id)).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PROFILE_REQUEST_CLOSED' });

    const theirs = await sendOk(staff.client, { customerId: customer.id });
    expect((await cancel(manager.client, theirs.id)).data!.cancelPaymentProfileRequest.status).toBe('CANCELLED');
    expect((await cancel(staff.client, 'not-a-uuid')).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('lists requests newest first, by customer and status, with cursors', async () => {
    const customer = await createCustomer();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      t.clock.advance(1_000);
      ids.push((await sendOk(staff.client, { customerId: customer.id })).id);
    }
    const first = await staff.client.ok(
      `query($c: ID) { paymentProfileRequests(customerId: $c, first: 2) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }`,
      { c: customer.id },
    );
    expect(first.paymentProfileRequests.totalCount).toBe(3);
    expect(first.paymentProfileRequests.nodes.map((n: { id: string }) => n.id)).toEqual([ids[2], ids[1]]);
    const next = await staff.client.ok(`query($c: ID, $a: String) { paymentProfileRequests(customerId: $c, first: 2, after: $a) { nodes { id } } }`, {
      c: customer.id,
      a: first.paymentProfileRequests.pageInfo.endCursor,
    });
    expect(next.paymentProfileRequests.nodes).toEqual([{ id: ids[0] }]);
  });

  it('a customer archived after the link was sent cannot use it; nothing changes', async () => {
    const customer = await createCustomer();
    const { url } = await linkFor(customer);
    await owner.client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: customer.id });
    for (const res of [await page(url), await post(url, { ...FORM })]) {
      expect(res.status).toBe(410);
      expect(res.html).toContain('This link can no longer be used.');
    }
    expect((await customerOf(customer.id)).name).toBe('Pat Rivera');
  });

  it('an unknown or malformed link is 404 and, after many, the address is slowed down (429)', async () => {
    const unknown = await page(`${t.url}/p/${randomBytes(32).toString('base64url')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('This link does not work');
    expect((await page(`${t.url}/p/short`)).status).toBe(404);
    expect((await page(`${t.url}/p/session/complete?session=cs_test_nope`)).status).toBe(404);
    let last = 0;
    for (let i = 0; i < 20 && last !== 429; i++) last = (await page(`${t.url}/p/${randomBytes(32).toString('base64url')}`)).status;
    expect(last).toBe(429);
  });
});
