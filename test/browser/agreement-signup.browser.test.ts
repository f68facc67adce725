import fs, { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { BrowserContext } from 'playwright-core';
import { AppConfig } from '../../src/config/index.js';
import { MessageDispatcher } from '../../src/modules/notifications/index.js';
import { createCustomer } from '../support/builders.js';
import { browserSuite, launchPhoneBrowser, PHONE, SHOTS } from '../support/browser.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * An agreement's hosted sign-up page end to end in a real browser (Debian's Chromium driven by playwright-core), set up
 * like test/browser/profile-request.browser.test.ts: the emailed link, the acceptance box, the sandbox card form, and
 * the office's notification. Skipped with a message only when /usr/bin/chromium is missing outside CI.
 */
const suite = browserSuite;

const ORG = 'Blue Lagoon Pool Service';

suite('agreement sign-up page in Chromium (phone-sized)', () => {
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

  it('opens the emailed link, requires the box, takes 4242 on the sandbox form: SIGNED with a consented card, the office is told', async () => {
    const customer = await createCustomer(staff.client, { name: 'Jordan Blake' });
    const quoted = await staff.client.ok(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id } }`, {
      i: {
        customerId: customer.id,
        name: 'Weekly pool care',
        terms: 'Weekly cleaning from April to October.\nEither party may end this agreement with 30 days notice.',
        lines: [
          { description: 'Weekly cleaning', quantity: '4', unitPrice: '4500', taxRate: '8.875' },
          { description: 'Chemicals', quantity: '1', unitPrice: '2999' },
        ],
        frequency: 'MONTHLY',
        startDate: '2026-05-01',
      },
    });
    const id = quoted.createAgreementQuote.id as string;
    await staff.client.ok(`mutation($id: ID!) { sendAgreement(id: $id) { status } }`, { id });
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
    // Read the link the way the customer does: from the email.
    const dir = path.join(dataDir, 'mail');
    const mails = await Promise.all(readdirSync(dir).map((f) => simpleParser(readFileSync(path.join(dir, f)))));
    const mail = mails.find((m) => JSON.stringify(m.to).includes(customer.email))!;
    expect(mail.subject).toContain('Weekly pool care');
    const link = mail.text!.match(/https?:\/\/\S+\/a\/[A-Za-z0-9_-]{43}/)![0];

    const page = await context.newPage();
    const response = await page.goto(link);
    expect(response!.status()).toBe(200);
    await expect(page.locator('#organization-name').textContent()).resolves.toBe(ORG);
    await expect(page.locator('#agreement-name').textContent()).resolves.toBe('Weekly pool care');
    await expect(page.locator('#total').textContent()).resolves.toBe('$225.97');
    expect(await page.textContent('#lines')).toContain('Weekly cleaning');
    expect(await page.textContent('#frequency')).toContain('every month');
    expect(await page.textContent('#start-date')).toBe('May 1, 2026');
    expect(await page.textContent('#terms')).toContain('30 days notice');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SHOTS, 'agreement-signup.png'), fullPage: true });

    // The acceptance box is required: without it the page says so and nothing changes.
    await page.click('#continue');
    await page.waitForSelector('#accept-error');
    expect(await page.textContent('#accept-error')).toContain('Tick the box');
    const status = async () => (await owner.client.ok(`query($id: ID!) { agreement(id: $id) { status paymentMethodId signedAt } }`, { id })).agreement;
    expect((await status()).status).toBe('SENT');
    await page.screenshot({ path: path.join(SHOTS, 'agreement-signup-error.png'), fullPage: true });

    await page.check('#accept');
    await page.click('#continue');
    await page.waitForURL(/\/sandbox-gateway\/checkout\//);
    if (await page.locator('label[for=kind-card]').count()) await page.click('label[for=kind-card]');
    await page.fill('#number', '4242 4242 4242 4242');
    await page.fill('#exp_month', '12');
    await page.fill('#exp_year', String(new Date().getUTCFullYear() + 4));
    await page.fill('#cvc', '123');
    await page.fill('#name', 'Jordan Blake');
    await page.getByRole('button', { name: 'Save payment method' }).click();
    await page.waitForSelector('#thank-you');
    expect(await page.textContent('#saved-method')).toBe('Visa ending in 4242');
    await page.screenshot({ path: path.join(SHOTS, 'agreement-signup-done.png'), fullPage: true });

    const signed = await status();
    expect(signed).toMatchObject({ status: 'SIGNED', paymentMethodId: expect.any(String), signedAt: expect.any(String) });
    const wallet = await owner.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id label consent { granted source } } }`, { c: customer.id });
    expect(wallet.paymentMethods).toEqual([{ id: signed.paymentMethodId, label: 'Visa ending in 4242', consent: { granted: true, source: 'HOSTED_PAGE' } }]);

    // The office sees it over GraphQL.
    const inbox = (await owner.client.ok('{ myNotifications { nodes { title body } } }')).myNotifications.nodes;
    expect(inbox).toContainEqual({ title: 'Jordan Blake signed "Weekly pool care"', body: expect.stringContaining('Visa ending in 4242') });

    // The same link again: the used-link page.
    const again = await page.goto(link);
    expect(again!.status()).toBe(410);
    expect(await page.textContent('h1')).toBe('This link has already been used');
    await page.close();

    // The link's token never reaches the logs: requests to /a/<token> are logged redacted.
    const logged = logs.join('');
    expect(logged).toContain('/a/[Redacted]');
    expect(logged).not.toMatch(/\/a\/[A-Za-z0-9_-]{43}/);
    expect(logged).not.toContain('4242424242424242');
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
