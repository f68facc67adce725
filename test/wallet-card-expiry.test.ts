import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getQueueToken } from '@nestjs/bull';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { simpleParser } from 'mailparser';
import { AppConfig } from '../src/config/index.js';
import { MessageDispatcher } from '../src/modules/notifications/index.js';
import { CardExpiryNotices } from '../src/modules/wallet/application/card-expiry-notices.js';
import { CARD_EXPIRY_QUEUE, CardExpiryProcessor } from '../src/modules/wallet/infrastructure/card-expiry.processor.js';
import { sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const ADDRESS = { line1: '12 Main St', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US' };
const HOUR = 3_600_000;

/**
 * The daily card-expiry sweep, run directly with the clock moved (the repeatable job only runs it). The app runs with
 * PROFILE_REQUEST_TTL_HOURS=24, so the links it sends expire after a day.
 */
describe('card-expiring notices', () => {
  let t: TestApp;
  let dataDir: string;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let run: () => ReturnType<CardExpiryNotices['run']>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-card-expiry-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir, PROFILE_REQUEST_TTL_HOURS: '24' } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    t.clock.set('2026-03-05T15:00:00Z');
    owner = await signUpOrganization(t.gql, 'Maple Lawn Care');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    run = () => t.app.get(CardExpiryNotices).run();
    // Cards saved earlier in other tests of this file must not be noticed by surprise: start from a clean sweep.
    await run();
  });
  afterAll(() => t.close());

  async function createCustomer(overrides: Record<string, unknown> = {}): Promise<{ id: string; email: string }> {
    const email = `jo-${randomBytes(3).toString('hex')}@example.com`;
    const input = { name: 'Jo Tremblay', email, billingAddress: ADDRESS, ...overrides };
    const data = await owner.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, { i: input });
    return { id: data.createCustomer.id, email };
  }

  /** A card saved by a PAYMENT_MANAGER with consent, then given this expiry (as the bank printed on the renewed card). */
  async function cardExpiring(customerId: string, month: number, year: number, token = 'pm_card_visa'): Promise<string> {
    const saved = await manager.client.ok(
      `mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`,
      { i: { customerId, token, consentGiven: true } },
    );
    const id = saved.savePaymentMethod.paymentMethod.id as string;
    await setExpiry(id, month, year);
    return id;
  }

  /** Sets a card's expiry directly (the API refuses a past one, and an expired card is what we need here). */
  async function setExpiry(id: string, month: number, year: number) {
    await t.app.get(MikroORM).em.fork().execute(`update payment_method set exp_month = ?, exp_year = ? where id = ?`, [month, year, id]);
  }

  async function dispatch() {
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
  }

  async function emailsTo(address: string) {
    const dir = path.join(dataDir, 'mail');
    if (!existsSync(dir)) return [];
    const mails = await Promise.all(readdirSync(dir).map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    return mails.filter((m) => JSON.stringify(m.to).includes(address));
  }

  /** The customer's CARD_EXPIRING messages (saving the card also sent them a PAYMENT_METHOD_SAVED). */
  const messagesOf = async (customerId: string) =>
    (
      (await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind channel recipient } } }`, { c: customerId })).messages
        .nodes as { kind: string; channel: string; recipient: string }[]
    ).filter((m) => m.kind === 'CARD_EXPIRING');
  const requestsOf = async (customerId: string, client = owner.client) =>
    (
      await client.ok(
        `query($c: ID) { paymentProfileRequests(customerId: $c, purpose: REPLACE_CARD) {
          nodes { id status purpose replacesPaymentMethodId requestedBy kinds channels expiresAt createdAt } } }`,
        { c: customerId },
      )
    ).paymentProfileRequests.nodes as Record<string, any>[];
  const noticeMark = async (id: string) =>
    (await t.app.get(MikroORM).em.fork().execute<{ m: string | null }[]>(`select expiry_notice_for as m from payment_method where id = ?`, [id]))[0]!.m;

  it('a card expiring within 30 days gets one CARD_EXPIRING email with a REPLACE_CARD link; a later one does not', async () => {
    const customer = await createCustomer();
    const soon = await cardExpiring(customer.id, 3, 2026); // works until March 31: 26 days away
    const other = await createCustomer();
    await cardExpiring(other.id, 5, 2026); // May 31: 87 days away

    expect(await run()).toEqual({ noticed: 1, skippedNoContact: 0, skipped: 0 });
    const [request] = await requestsOf(customer.id, staff.client); // staff see them in the list
    expect(request).toMatchObject({
      status: 'PENDING',
      purpose: 'REPLACE_CARD',
      replacesPaymentMethodId: soon,
      requestedBy: null,
      kinds: ['CARD'],
      channels: ['EMAIL'],
    });
    expect(new Date(request!.expiresAt).getTime() - new Date(request!.createdAt).getTime()).toBe(24 * HOUR);
    expect(await noticeMark(soon)).toBe('2026-03');
    expect(await messagesOf(other.id)).toEqual([]);

    await dispatch();
    const [mail] = (await emailsTo(customer.email)).filter((m) => m.subject === 'Please update your card on file with Maple Lawn Care');
    expect(mail!.text).toContain('Visa ending in 4242, has an expiry date of March 31, 2026');
    expect(mail!.text).toContain('expires on March 6, 2026 at 3:00 PM'); // the link: 24 hours, in the organization's zone (UTC)
    expect(mail!.text).toMatch(new RegExp(`${t.url}/p/[A-Za-z0-9_-]{43}`));
  });

  it('an expired card gets a notice too; a customer with only a phone gets an SMS; one with neither is counted', async () => {
    const expired = await createCustomer();
    const expiredCard = await cardExpiring(expired.id, 1, 2026);
    const phoneOnly = await createCustomer({ email: null, phone: '+1 802 555 0111' });
    await cardExpiring(phoneOnly.id, 3, 2026);
    const unreachable = await createCustomer({ email: null, phone: null });
    const unreachableCard = await cardExpiring(unreachable.id, 2, 2026);

    expect(await run()).toEqual({ noticed: 2, skippedNoContact: 1, skipped: 0 });
    expect(await messagesOf(expired.id)).toEqual([{ kind: 'CARD_EXPIRING', channel: 'EMAIL', recipient: expired.email }]);
    expect(await messagesOf(phoneOnly.id)).toEqual([{ kind: 'CARD_EXPIRING', channel: 'SMS', recipient: '+18025550111' }]);
    expect(await noticeMark(expiredCard)).toBe('2026-01');
    expect(await noticeMark(unreachableCard)).toBeNull(); // tried again once they have a way to be reached

    await dispatch();
    const sms = readFileSync(path.join(dataDir, 'sms', 'outbox.jsonl'), 'utf8');
    expect(sms).toContain('Maple Lawn Care: your card Visa ending in 4242 expires March 31, 2026');

    await owner.client.ok(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { id } }`, {
      id: unreachable.id,
      i: { email: 'found@example.com' },
    });
    expect(await run()).toEqual({ noticed: 1, skippedNoContact: 0, skipped: 0 });
  });

  it('exactly one notice per card and expiry: a second run, and two runs at once, send nothing more', async () => {
    expect(await run()).toEqual({ noticed: 0, skippedNoContact: 0, skipped: 0 });
    const customer = await createCustomer();
    await cardExpiring(customer.id, 3, 2026);
    const runs = await Promise.all([run(), run(), run()]);
    expect(runs.reduce((n, r) => n + r.noticed, 0)).toBe(1);
    expect(await messagesOf(customer.id)).toEqual([{ kind: 'CARD_EXPIRING', channel: 'EMAIL', recipient: customer.email }]);
    expect(await requestsOf(customer.id)).toHaveLength(1);
  });

  it('bank accounts and removed cards are left alone', async () => {
    const customer = await createCustomer();
    const token = await sandboxBankToken(t.url);
    await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId: customer.id, token, consentGiven: true },
    });
    const card = await cardExpiring(customer.id, 3, 2026);
    await manager.client.ok(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: card });
    expect(await run()).toEqual({ noticed: 0, skippedNoContact: 0, skipped: 0 });
    expect(await messagesOf(customer.id)).toEqual([]);
  });

  it('a renewed expiry gets a new notice when it comes near', async () => {
    const customer = await createCustomer();
    const card = await cardExpiring(customer.id, 3, 2026);
    expect((await run()).noticed).toBe(1);
    // The customer called with the renewed card's new expiry.
    await manager.client.ok(`mutation($i: UpdateCardExpiryInput!) { updateCardExpiry(input: $i) { id expMonth expYear } }`, {
      i: { id: card, expMonth: 3, expYear: 2027 },
    });
    expect(await noticeMark(card)).toBeNull();
    expect((await run()).noticed).toBe(0);

    t.clock.set('2027-03-10T15:00:00Z');
    try {
      const swept = await run();
      expect(swept.noticed).toBeGreaterThanOrEqual(1);
      expect(await noticeMark(card)).toBe('2027-03');
      expect(await messagesOf(customer.id)).toHaveLength(2);
    } finally {
      t.clock.set('2026-03-05T15:00:00Z');
    }
  });

  it('the customer replaces the card through the link: the new card takes over as default with consent, the old one is removed', async () => {
    const customer = await createCustomer();
    const old = await cardExpiring(customer.id, 3, 2026);
    await run();
    await dispatch();
    const mail = (await emailsTo(customer.email)).find((m) => m.subject?.startsWith('Please update your card'))!;
    const url = mail.text!.match(new RegExp(`${t.url}/p/[A-Za-z0-9_-]{43}`))![0];

    const form = await fetch(url).then((r) => r.text());
    expect(form).toContain('a new card to replace your Visa ending in 4242');
    const submitted = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'Jo Tremblay', email: customer.email, line1: '12 Main St', city: 'Burlington', postalCode: '05401', country: 'US', kind: 'CARD', consent: 'yes' }),
    });
    expect(submitted.status).toBe(303);
    const gateway = await fetch(submitted.headers.get('location')!, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ number: '5555555555554444', exp_month: '8', exp_year: '2030', cvc: '123', name: 'Jo Tremblay' }),
    });
    const done = await fetch(gateway.headers.get('location')!).then(async (r) => ({ status: r.status, html: await r.text() }));
    expect(done.status).toBe(200);
    expect(done.html).toContain('Mastercard ending in 4444');
    expect(done.html).toContain('replacing your Visa ending in 4242');

    const wallet = await owner.client.ok(
      `query($c: ID!) { paymentMethods(customerId: $c, includeRemoved: true) { id label status isDefault consent { granted source } } }`,
      { c: customer.id },
    );
    expect(wallet.paymentMethods).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ label: 'Mastercard ending in 4444', status: 'ACTIVE', isDefault: true, consent: { granted: true, source: 'HOSTED_PAGE' } }),
        expect.objectContaining({ id: old, status: 'REMOVED', isDefault: false }),
      ]),
    );
    expect((await requestsOf(customer.id))[0]).toMatchObject({ status: 'COMPLETED' });
  });

  it('runs as a repeatable job on the worker, not scheduled in tests', async () => {
    expect(t.app.get(CardExpiryProcessor)).toBeInstanceOf(CardExpiryProcessor);
    const repeatable = await t.app.get<Queue>(getQueueToken(CARD_EXPIRY_QUEUE)).getRepeatableJobs();
    expect(repeatable).toEqual([]);
  });
});
