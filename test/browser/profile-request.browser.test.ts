import fs, { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { AppConfig } from '../../src/config/index.js';
import { MessageDispatcher } from '../../src/modules/notifications/index.js';
import { browserSuite, launchPhoneBrowser, PHONE, SHOTS } from '../support/browser.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The payment profile request end to end in a real browser: Debian's Chromium driven by playwright-core (which
 * cannot download browsers here). Skipped with a message only when /usr/bin/chromium is missing outside CI; in CI
 * (`.ci/run` installs the package) it always runs.
 */
const suite = browserSuite;

const ORG = 'Harbor View Marina';
const CARDS_USED = ['4242424242424242', '4000000000000002'];
/** Screenshots for a person to look at (never committed): SCREENSHOT_DIR, else a temporary directory. */

suite('payment profile request in Chromium (phone-sized)', () => {
  let t: TestApp;
  let dataDir: string;
  let userDataDir: string;
  let context: BrowserContext;
  let owner: Awaited<ReturnType<typeof signUpOrganization>>;
  let staff: Awaited<ReturnType<typeof addUser>>;
  const logs: string[] = [];
  const restoreLogs: (() => void)[] = [];

  beforeAll(async () => {
    captureStdout(logs, restoreLogs);
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-browser-'));
    userDataDir = mkdtempSync(path.join(tmpdir(), 'settle-chromium-profile-'));
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp({ env: { DATA_DIR: dataDir, LOG_LEVEL: 'debug' } });
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    owner = await signUpOrganization(t.gql, ORG);
    staff = await addUser(owner.client, 'STAFF');
    context = await launchPhoneBrowser(userDataDir);
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await t?.close();
    restoreLogs.forEach((restore) => restore());
    rmSync(userDataDir, { recursive: true, force: true });
  });

  async function customerWithLink(name: string): Promise<{ customerId: string; link: string }> {
    const email = `${name.toLowerCase().replace(/\W+/g, '.')}@example.com`;
    const created = await staff.client.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`, {
      i: { name, email, phone: '+1 207 555 0134' },
    });
    const customerId = created.createCustomer.id as string;
    await staff.client.ok(`mutation($i: SendPaymentProfileRequestInput!) { sendPaymentProfileRequest(input: $i) { id } }`, {
      i: { customerId, channels: ['EMAIL'], message: 'For your slip rental this summer.' },
    });
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
    // Read the link the way the customer does: from the email.
    const dir = path.join(dataDir, 'mail');
    const mails = await Promise.all(readdirSync(dir).map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    const mail = mails.find((m) => JSON.stringify(m.to).includes(email))!;
    const link = mail.text!.match(/https?:\/\/\S+\/p\/[A-Za-z0-9_-]{43}/)![0];
    return { customerId, link };
  }

  async function fillProfileForm(page: Page, shot?: string) {
    await page.fill('#line1', '1 Harbor Rd');
    await page.fill('#line2', 'Slip 14');
    await page.fill('#city', 'Bar Harbor');
    await page.fill('#region', 'ME');
    await page.fill('#postalCode', '04609');
    await page.fill('#country', 'US');
    await page.check('#kind-card');
    if (shot) await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
  }

  async function fillCard(page: Page, number: string) {
    await page.fill('#number', number);
    await page.fill('#exp_month', '12');
    await page.fill('#exp_year', String(new Date().getUTCFullYear() + 4));
    await page.fill('#cvc', '123');
    await page.fill('#name', 'Morgan Lee');
    await page.getByRole('button', { name: 'Save payment method' }).click();
  }

  it('opens the emailed link, fills the form and the sandbox card form, sees the thank-you page and the card in the wallet', async () => {
    const { customerId, link } = await customerWithLink('Morgan Lee');
    const page = await context.newPage();
    const response = await page.goto(link);
    expect(response!.status()).toBe(200);
    await expect(page.locator('#organization-name').textContent()).resolves.toBe(ORG);
    await expect(page.locator('#staff-note').textContent()).resolves.toBe('For your slip rental this summer.');
    expect(await page.inputValue('#name')).toBe('Morgan Lee');
    expect(await page.inputValue('#email')).toBe('morgan.lee@example.com');
    // Readable on a phone: nothing wider than the screen.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SHOTS, 'profile-request-form.png'), fullPage: true });

    // Without the consent tick the page explains why it is needed, and keeps what was typed.
    await fillProfileForm(page);
    await page.click('#continue');
    await page.waitForSelector('#consent-error');
    expect(await page.textContent('#consent-error')).toContain('without your authorization');
    expect(await page.inputValue('#line2')).toBe('Slip 14');
    await page.screenshot({ path: path.join(SHOTS, 'profile-request-errors.png'), fullPage: true });

    await page.check('#consent');
    await page.click('#continue');
    await page.waitForURL(/\/sandbox-gateway\/checkout\//);
    await page.screenshot({ path: path.join(SHOTS, 'sandbox-checkout.png'), fullPage: true });
    await fillCard(page, '4242 4242 4242 4242');
    await page.waitForSelector('#thank-you');
    expect(await page.textContent('#saved-method')).toBe('Visa ending in 4242');
    await page.screenshot({ path: path.join(SHOTS, 'profile-request-thank-you.png'), fullPage: true });

    const wallet = await owner.client.ok(
      `query($c: ID!) { paymentMethods(customerId: $c) { label brand last4 savedVia billingAddress { line1 city }
        consent { granted source } consentHistory { note } } }`,
      { c: customerId },
    );
    expect(wallet.paymentMethods).toEqual([
      {
        label: 'Visa ending in 4242',
        brand: 'visa',
        last4: '4242',
        savedVia: 'HOSTED_PAGE',
        billingAddress: { line1: '1 Harbor Rd', city: 'Bar Harbor' },
        consent: { granted: true, source: 'HOSTED_PAGE' },
        consentHistory: [{ note: expect.stringContaining(`I authorize ${ORG}`) }],
      },
    ]);

    // The same link again: the used-link page, nothing changes.
    const again = await page.goto(link);
    expect(again!.status()).toBe(410);
    expect(await page.textContent('h1')).toBe('This link has already been used');
    expect(await page.textContent('#link-closed')).toContain(`please ask ${ORG} (A STAFF, ${staff.email}) to send you a new link`);
    await page.screenshot({ path: path.join(SHOTS, 'profile-request-used.png'), fullPage: true });
    const after = await owner.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id } }`, { c: customerId });
    expect(after.paymentMethods).toHaveLength(1);
    await page.close();
  });

  it('a declined card is shown as declined on the sandbox form; nothing is saved and the link still works', async () => {
    const { customerId, link } = await customerWithLink('Riley Chen');
    const page = await context.newPage();
    await page.goto(link);
    await fillProfileForm(page);
    await page.check('#consent');
    await page.click('#continue');
    await page.waitForURL(/\/sandbox-gateway\/checkout\//);
    await fillCard(page, '4000000000000002');
    await page.waitForSelector('.error');
    expect(await page.textContent('.error')).toMatch(/declined/i);
    await page.screenshot({ path: path.join(SHOTS, 'sandbox-declined.png'), fullPage: true });
    const wallet = await owner.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id } }`, { c: customerId });
    expect(wallet.paymentMethods).toEqual([]);
    expect((await page.goto(link))!.status()).toBe(200);
    await page.close();
  });

  it('no card number used is in any table of the database or in the logs (plain, spaced or dashed)', async () => {
    const em = t.app.get(MikroORM).em.fork();
    const columns = await em.execute<{ table_name: string; column_name: string }[]>(
      `select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'ARRAY')`,
    );
    expect(columns.map((c) => c.table_name)).toEqual(expect.arrayContaining(['payment_method', 'payment_profile_request', 'message']));
    let stored = '';
    for (const { table_name, column_name } of columns) {
      const rows = await em.execute<{ v: string | null }[]>(`select "${column_name}"::text as v from "${table_name}"`);
      stored += rows.map((r) => r.v ?? '').join('\n');
    }
    const logged = logs.join('');
    // The capture works (so the scan below can fail): the browser's requests were logged.
    expect(logged).toContain('/sandbox-gateway/checkout/');
    expect(stored).toContain('4242'); // last 4 digits are kept, as they should be

    for (const number of CARDS_USED) {
      const groups = number.match(/.{1,4}/g)!;
      for (const variant of [number, groups.join(' '), groups.join('-')]) {
        expect(stored).not.toContain(variant);
        expect(logged).not.toContain(variant);
      }
    }
    // Nor the links' tokens: requests to /p/<token> are logged with the token redacted.
    expect(logged).toContain('/p/[Redacted]');
    expect(logged).not.toMatch(/\/p\/[A-Za-z0-9_-]{43}/);
  });
});

/**
 * Captures what the app's logger prints: pino writes JSON lines straight to file descriptor 1 through the shared `fs`
 * module (sonic-boom), so wrapping fs.write/fs.writeSync sees every line. The lines are kept, not printed (debug
 * level is loud); anything else written to fd 1 goes through. process.stdout is captured too, in case a logger uses it.
 */
function captureStdout(into: string[], restore: (() => void)[]) {
  const fsw = fs as unknown as {
    writeSync: (fd: number, data: unknown, ...rest: unknown[]) => number;
    write: (fd: number, data: unknown, ...rest: unknown[]) => void;
  };
  const { writeSync, write } = fsw;
  const text = (data: unknown) => (typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
  const isLog = (fd: number, data: unknown) => fd === 1 && text(data).startsWith('{"level"');
  fsw.writeSync = (fd, data, ...rest) => {
    if (!isLog(fd, data)) return writeSync.call(fs, fd, data, ...rest);
    into.push(text(data));
    return Buffer.byteLength(text(data));
  };
  fsw.write = (fd, data, ...rest) => {
    if (!isLog(fd, data)) return write.call(fs, fd, data, ...rest);
    into.push(text(data));
    const callback = rest.find((r) => typeof r === 'function') as ((e: null, n: number) => void) | undefined;
    callback?.(null, Buffer.byteLength(text(data)));
  };
  const stdoutWrite = process.stdout.write;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!isLog(1, chunk)) return (stdoutWrite as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    into.push(text(chunk));
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stdout.write;
  restore.push(() => {
    fsw.writeSync = writeSync;
    fsw.write = write;
    process.stdout.write = stdoutWrite;
  });
}
