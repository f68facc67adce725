import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { type ParsedMail, simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { AppConfig } from '../../src/config/index.js';
import { BILLING_RUN_QUEUE } from '../../src/modules/agreements/infrastructure/billing-run.queue.js';
import { MessageDispatcher } from '../../src/modules/notifications/index.js';
import { createCustomer } from '../support/builders.js';
import { browserSuite, launchPhoneBrowser } from '../support/browser.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Seed 001 ("Automated Billing") end to end, driven by the clock: quote → send → the customer signs up in a real
 * browser with a card that saves but declines charges → approval → billing run → declined → the customer is emailed
 * a link → agreement and visits suspended (technicians no longer see them) → the customer replaces the card through
 * the link (browser) → the retry succeeds → one-click reactivation → a month later the next run bills only the new
 * period. Exact counts of invoices and gateway charges. Skipped with a message only when /usr/bin/chromium is missing
 * outside CI.
 */
const suite = browserSuite;

const ORG = 'Blue Lagoon Pool Service';
const RUN = 'id status invoiced charged failed skipped';

suite('seed 001: automated billing, a declined card, suspension and reactivation (Chromium, moving clock)', () => {
  let t: TestApp;
  let dataDir: string;
  let userDataDir: string;
  let context: BrowserContext;
  let billingQueue: Queue;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-seed-001-'));
    userDataDir = mkdtempSync(path.join(tmpdir(), 'settle-chromium-profile-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    billingQueue = t.app.get<Queue>(getQueueToken(BILLING_RUN_QUEUE));
    context = await launchPhoneBrowser(userDataDir);
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (billingQueue) await purgeQueue(billingQueue);
    await t?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });

  const sql = <T>(query: string, params: unknown[] = []) => t.app.get(MikroORM).em.fork().execute<T[]>(query, params);

  /** Sends what is queued, then the customer's mailbox (the sandbox mail transport writes .eml files), oldest first. */
  async function mailbox(email: string): Promise<ParsedMail[]> {
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
    const dir = path.join(dataDir, 'mail');
    const files = existsSync(dir) ? readdirSync(dir).sort() : [];
    const mails = await Promise.all(files.map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    return mails.filter((m) => JSON.stringify(m.to).includes(email)).sort((a, b) => (a.date?.getTime() ?? 0) - (b.date?.getTime() ?? 0));
  }

  async function fillCard(page: Page, number: string, name: string) {
    await page.waitForURL(/\/sandbox-gateway\/checkout\//);
    if (await page.locator('label[for=kind-card]').count()) await page.click('label[for=kind-card]');
    await page.fill('#number', number);
    await page.fill('#exp_month', '12');
    await page.fill('#exp_year', String(new Date().getUTCFullYear() + 4));
    await page.fill('#cvc', '123');
    await page.fill('#name', name);
    await page.getByRole('button', { name: 'Save payment method' }).click();
    await page.waitForSelector('#thank-you');
  }

  async function billAndWait(client: TestApp['gql']) {
    const started = (await client.ok(`mutation { billAgreements { id } }`)).billAgreements;
    await waitForQueueIdle(billingQueue);
    await t.drainOutbox();
    return (await client.ok(`query($id: ID!) { billingRun(id: $id) { ${RUN} } }`, { id: started.id })).billingRun;
  }

  it('walks the whole story', async () => {
    // ── The office: an organization that suspends agreements when a payment fails. ──
    t.clock.set('2026-05-20T15:00:00.000Z');
    const owner = await signUpOrganization(t.gql, ORG);
    const admin = await addUser(owner.client, 'ADMIN');
    const manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    const technician = await addUser(owner.client, 'STAFF');
    await owner.client.ok(`mutation { updateDunningPolicy(input: { suspend: true, when: IMMEDIATELY }) { suspend } }`);

    // ── Quote → send. ──
    const customer = await createCustomer(technician.client, { name: 'Jordan Blake' });
    const quoted = await technician.client.ok(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id total { formatted } } }`, {
      i: {
        customerId: customer.id,
        name: 'Weekly pool care',
        terms: 'Weekly cleaning. Either party may end this agreement with 30 days notice.',
        lines: [{ description: 'Weekly cleaning', quantity: '4', unitPrice: '4500' }],
        frequency: 'MONTHLY',
        startDate: '2026-06-01',
      },
    });
    const id = quoted.createAgreementQuote.id as string;
    expect(quoted.createAgreementQuote.total.formatted).toBe('$180.00');
    await technician.client.ok(`mutation($id: ID!) { sendAgreement(id: $id) { status } }`, { id });
    const signupMail = (await mailbox(customer.email)).at(-1)!;
    const signupLink = signupMail.text!.match(/https?:\/\/\S+\/a\/[A-Za-z0-9_-]{43}/)![0];

    // ── The customer signs up in the browser with a card that saves fine but declines charges. ──
    const page = await context.newPage();
    expect((await page.goto(signupLink))!.status()).toBe(200);
    await page.check('#accept');
    await page.click('#continue');
    await fillCard(page, '4000 0000 0000 0341', 'Jordan Blake');
    expect(await page.textContent('#saved-method')).toBe('Visa ending in 0341');
    const agreement = async () =>
      (await owner.client.ok(`query($id: ID!) { agreement(id: $id) { status paymentMethodId workOrders { scheduledFor status } } }`, { id })).agreement;
    expect((await agreement()).status).toBe('SIGNED');

    // ── Approval: billing starts, the visits are scheduled; the technicians see them. ──
    await admin.client.ok(`mutation($id: ID!) { approveAgreement(id: $id) { status } }`, { id });
    const dispatchable = async () =>
      (
        (await technician.client.ok(`query { dispatchableWorkOrders(from: "2026-05-01", to: "2026-12-31", first: 50) { nodes { agreementId scheduledFor } } }`))
          .dispatchableWorkOrders.nodes as { agreementId: string; scheduledFor: string }[]
      )
        .filter((w) => w.agreementId === id)
        .map((w) => w.scheduledFor);
    expect(await dispatchable()).toEqual(['2026-06-01', '2026-07-01', '2026-08-01']);

    // ── June 1: "bill all unbilled agreements up to today". The card is declined. ──
    t.clock.set('2026-06-01T14:00:00.000Z');
    expect(await billAndWait(manager.client)).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', invoiced: 1, charged: 0, failed: 1 });

    // The customer is emailed ONE message about the failure, with a secure link to update the card (then the suspension notice).
    const afterFailure = await mailbox(customer.email);
    const subjects = afterFailure.map((m) => m.subject);
    expect(subjects.filter((s) => /didn't go through/.test(s ?? ''))).toEqual([]); // no second, link-less failure email
    const updateMail = afterFailure.find((m) => /\/p\/[A-Za-z0-9_-]{43}/.test(m.text ?? ''))!;
    expect(updateMail).toBeDefined();
    expect(afterFailure.find((m) => /suspended/.test(m.subject ?? ''))).toBeDefined();
    const updateLink = updateMail.text!.match(/https?:\/\/\S+\/p\/[A-Za-z0-9_-]{43}/)![0];

    // The agreement and its visits are suspended: the technicians' query no longer shows them.
    const suspended = await agreement();
    expect(suspended.status).toBe('SUSPENDED');
    expect(suspended.workOrders.map((w: { status: string }) => w.status)).toEqual(['SUSPENDED', 'SUSPENDED', 'SUSPENDED']);
    expect(await dispatchable()).toEqual([]);
    // The office was told in-app.
    const inbox = (await manager.client.ok('{ myNotifications { nodes { title } } }')).myNotifications.nodes.map((n: { title: string }) => n.title);
    expect(inbox).toEqual(expect.arrayContaining(['"Weekly pool care" for Jordan Blake is suspended', 'Payment for "Weekly pool care" from Jordan Blake failed']));

    // ── The customer updates the card through the link, in the browser. ──
    expect((await page.goto(updateLink))!.status()).toBe(200);
    expect(await page.textContent('#staff-note')).toContain('Please update your payment method');
    await page.check('#consent');
    await page.click('#continue');
    await fillCard(page, '4242 4242 4242 4242', 'Jordan Blake');
    expect(await page.textContent('#saved-method')).toBe('Visa ending in 4242');
    await page.close();
    await t.drainOutbox();

    // ── The office retries the payment: it succeeds on the new card. ──
    const [period] = await sql<{ payment_id: string }>(`select payment_id from billed_period where agreement_id = ?`, [id]);
    const retried = (await manager.client.ok(`mutation($id: ID!) { retryPayment(paymentId: $id) { status methodLabel attemptCount } }`, { id: period!.payment_id }))
      .retryPayment;
    expect(retried).toEqual({ status: 'SUCCEEDED', methodLabel: 'Visa ending in 4242', attemptCount: 2 });
    await t.drainOutbox();

    // ── One click: the agreement is active again and the visits are back on the technicians' list. ──
    const reactivated = (await manager.client.ok(`mutation($id: ID!) { reactivateAgreement(id: $id) { status paymentMethodId } }`, { id })).reactivateAgreement;
    expect(reactivated.status).toBe('ACTIVE');
    expect(reactivated.paymentMethodId).not.toBe(suspended.paymentMethodId); // it bills the new card from now on
    expect(await dispatchable()).toEqual(['2026-06-01', '2026-07-01', '2026-08-01']);
    // (The receipt of the retried payment and this message are sent by the same drain: their order is not defined.)
    expect((await mailbox(customer.email)).map((m) => m.subject)).toContainEqual(expect.stringMatching(/active again/));

    // ── A month later: the next run bills only the new period. ──
    t.clock.set('2026-07-01T14:00:00.000Z');
    expect(await billAndWait(manager.client)).toMatchObject({ status: 'COMPLETED', invoiced: 1, charged: 1, failed: 0, skipped: 0 });
    // And once more the same day: nothing new.
    expect(await billAndWait(manager.client)).toMatchObject({ status: 'COMPLETED', invoiced: 0, charged: 0 });

    const [counts] = await sql<{ periods: number; invoices: number; paid: number; payments: number; charges: number }>(
      `select (select count(*) from billed_period b where b.agreement_id = ?)::int as periods,
              (select count(*) from invoice i join billed_period b on i.billed_ref_id = b.id where b.agreement_id = ?)::int as invoices,
              (select count(*) from invoice i join billed_period b on i.billed_ref_id = b.id where b.agreement_id = ? and i.status = 'PAID')::int as paid,
              (select count(*) from payment p join billed_period b on p.purpose_ref_id = b.id where b.agreement_id = ?)::int as payments,
              (select count(*) from sandbox_gateway_object g join payment p on p.id::text = g.data->'metadata'->>'paymentId'
                 join billed_period b on p.purpose_ref_id = b.id where g.type = 'payment_intent' and b.agreement_id = ?)::int as charges`,
      [id, id, id, id, id],
    );
    // June and July: two invoices, both paid; two payments; three gateway charges (June declined, June retried, July).
    expect(counts).toEqual({ periods: 2, invoices: 2, paid: 2, payments: 2, charges: 3 });
    expect((await agreement()).status).toBe('ACTIVE');
  }, 120_000);
});
