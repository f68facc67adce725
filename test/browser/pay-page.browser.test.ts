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
 * A payment request's pay page end to end in a real browser (Debian's Chromium driven by playwright-core), set up like
 * test/browser/agreement-signup.browser.test.ts: the texted link, a card the sandbox saves but whose charge is
 * declined (4000 0000 0000 0341: the pay page shows the reason), a good card (4242), the receipt, the creator's
 * notification over GraphQL and a PAYMENT_MANAGER's consolidation. Skipped with a message only when /usr/bin/chromium is
 * missing outside CI.
 */
const suite = browserSuite;

const ORG = 'Lakeside Marine & Sports';

suite('pay page in Chromium (phone-sized)', () => {
  let t: TestApp;
  let dataDir: string;
  let userDataDir: string;
  let context: BrowserContext;
  let owner: Awaited<ReturnType<typeof signUpOrganization>>;
  let staff: Awaited<ReturnType<typeof addUser>>;
  let manager: Awaited<ReturnType<typeof addUser>>;
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
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    context = await launchPhoneBrowser(userDataDir);
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await t?.close();
    restoreLogs.forEach((restore) => restore());
    rmSync(userDataDir, { recursive: true, force: true });
  });

  async function enterCard(page: import('playwright-core').Page, number: string) {
    await page.waitForURL(/\/sandbox-gateway\/checkout\//);
    if (await page.locator('label[for=kind-card]').count()) await page.click('label[for=kind-card]');
    await page.fill('#number', number);
    await page.fill('#exp_month', '12');
    await page.fill('#exp_year', String(new Date().getUTCFullYear() + 4));
    await page.fill('#cvc', '123');
    await page.fill('#name', 'Robin Tremblay');
    await page.getByRole('button', { name: 'Save payment method' }).click();
  }

  it('opens the texted link, shows a declined card\'s reason, completes with 4242, shows the receipt; the creator is told; a PAYMENT_MANAGER consolidates', async () => {
    const customer = await createCustomer(staff.client, { name: 'Robin Tremblay', phone: '+1 802 555 0163' });
    const created = await staff.client.ok(`mutation($i: CreatePaymentRequestInput!) { createPaymentRequest(input: $i) { id status } }`, {
      i: {
        customerId: customer.id,
        amount: { amount: '150000', currency: 'USD' },
        description: 'Deposit on the 2024 Lund 1875 Crossover',
        reference: 'OPP-4471',
        referenceType: 'OPPORTUNITY',
        channels: ['EMAIL', 'SMS'],
      },
    });
    const id = created.createPaymentRequest.id as string;
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
    // Read the link the way the customer does: from the text message (the email carries the same one).
    const sms = readFileSync(path.join(dataDir, 'sms', 'outbox.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { to: string; body: string })
      .find((s) => s.to === '+18025550163')!;
    const link = sms.body.match(/https?:\/\/\S+\/pay\/[A-Za-z0-9_-]{43}/)![0];
    const mails = await Promise.all(readdirSync(path.join(dataDir, 'mail')).map((f) => simpleParser(readFileSync(path.join(dataDir, 'mail', f)))));
    const mail = mails.find((m) => JSON.stringify(m.to).includes(customer.email))!;
    expect(mail.subject).toBe(`Payment request from ${ORG}: $1,500.00`);
    expect(mail.text).toContain(link);

    const page = await context.newPage();
    const response = await page.goto(link);
    expect(response!.status()).toBe(200);
    await expect(page.locator('#organization-name').textContent()).resolves.toBe(ORG);
    await expect(page.locator('#amount').textContent()).resolves.toBe('$1,500.00');
    await expect(page.locator('#reference').textContent()).resolves.toBe('OPP-4471');
    await expect(page.locator('#description').textContent()).resolves.toBe('Deposit on the 2024 Lund 1875 Crossover');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SHOTS, 'pay-request.png'), fullPage: true });

    // A card the bank declines when it is charged: back on the pay page with the reason, the link still open.
    await page.click('#pay');
    await enterCard(page, '4000 0000 0000 0341');
    await page.waitForSelector('#failure-reason');
    expect(await page.textContent('#failure-reason')).toBe('The card was declined by its bank.');
    expect(await page.textContent('#pay')).toBe('Try again $1,500.00');
    await page.screenshot({ path: path.join(SHOTS, 'pay-declined.png'), fullPage: true });
    const request = async () =>
      (await staff.client.ok(`query($id: ID!) { paymentRequest(id: $id) { status attemptCount completedAfterRetry unread consolidatedBy } }`, { id })).paymentRequest;
    expect(await request()).toMatchObject({ status: 'OPEN', attemptCount: 1 });

    // A good card: the confirmation page with a printable receipt.
    await page.click('#pay');
    await enterCard(page, '4242 4242 4242 4242');
    await page.waitForSelector('#receipt');
    expect(await page.textContent('h1')).toBe('Thank you, your payment was received');
    expect(await page.textContent('#receipt-amount')).toBe('$1,500.00');
    expect(await page.textContent('#receipt-method')).toBe('Visa ending in 4242');
    expect(await page.textContent('#receipt-reference')).toBe('OPP-4471');
    expect(page.url()).toBe(link);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SHOTS, 'pay-receipt.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: path.join(SHOTS, 'pay-receipt-print.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });
    expect(await request()).toMatchObject({ status: 'COMPLETED', attemptCount: 2, completedAfterRetry: true, unread: true });

    // The creator sees it over GraphQL; a PAYMENT_MANAGER consolidates it.
    const inbox = (await staff.client.ok('{ myNotifications { nodes { title body link } } }')).myNotifications.nodes;
    expect(inbox).toContainEqual({ title: 'Robin Tremblay paid $1,500.00', body: expect.stringContaining('after 2 attempts'), link: `/payment-requests/${id}` });
    const consolidated = await manager.client.ok(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { status consolidatedBy } }`, { id });
    expect(consolidated.consolidatePaymentRequest).toEqual({ status: 'CONSOLIDATED', consolidatedBy: manager.userId });

    // The link again: still the receipt, nothing charged again.
    await page.goto(link);
    expect(await page.textContent('h1')).toBe('Thank you, your payment was received');
    await page.close();

    // The link's token never reaches the logs: requests to /pay/<token> are logged redacted.
    const logged = logs.join('');
    expect(logged).toContain('/pay/[Redacted]');
    expect(logged).not.toMatch(/\/pay\/[A-Za-z0-9_-]{43}/);
    expect(logged).not.toContain('4242424242424242');
  });

  it('pays in 4 where the organization enabled it: ticks the authorization, saves the card on the gateway\'s page, sees the first installment paid and the plan', async () => {
    await owner.client.ok(`mutation { updatePaymentRequestSettings(input: { installmentsEnabled: true }) { installmentsEnabled } }`);
    const customer = await createCustomer(staff.client, { name: 'Dana Fourparts' });
    const created = await staff.client.ok(`mutation($i: CreatePaymentRequestInput!) { createPaymentRequest(input: $i) { id } }`, {
      i: { customerId: customer.id, amount: { amount: '150000', currency: 'USD' }, description: 'Trolling motor', channels: ['EMAIL'] },
    });
    const id = created.createPaymentRequest.id as string;
    const dispatcher = t.app.get(MessageDispatcher);
    while ((await dispatcher.dispatchDue()) > 0);
    const mails = await Promise.all(readdirSync(path.join(dataDir, 'mail')).map((f) => simpleParser(readFileSync(path.join(dataDir, 'mail', f)))));
    const link = mails.find((m) => JSON.stringify(m.to).includes(customer.email))!.text!.match(/https?:\/\/\S+\/pay\/[A-Za-z0-9_-]{43}/)![0];

    const page = await context.newPage();
    await page.goto(link);
    expect(await page.textContent('#pay-in-4')).toBe('Pay in 4: $375.00 today');
    expect(await page.textContent('label[for=accept-installments]')).toContain('to charge it 4 times for this payment of $1,500.00: $375.00 today');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(SHOTS, 'pay-in-4.png'), fullPage: true });
    await page.check('#accept-installments');
    await page.click('#pay-in-4');
    await enterCard(page, '4242 4242 4242 4242');
    await page.waitForSelector('#installment-plan');
    expect(await page.textContent('#receipt-amount')).toBe('$375.00 (installment 1 of 4)');
    expect(await page.textContent('#receipt-total')).toBe('$1,500.00');
    await page.screenshot({ path: path.join(SHOTS, 'pay-in-4-receipt.png'), fullPage: true });
    const request = (await staff.client.ok(`query($id: ID!) { paymentRequest(id: $id) { status installmentPlanId } }`, { id })).paymentRequest;
    expect(request).toMatchObject({ status: 'COMPLETED', installmentPlanId: expect.any(String) });
    await page.close();
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
