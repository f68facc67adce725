import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { MikroORM } from '@mikro-orm/postgresql';
import { simpleParser } from 'mailparser';
import { newId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../src/config/index.js';
import { Reconciliation } from '../src/modules/invoicing/application/reconciliation.facade.js';
import { PaymentSource } from '../src/modules/invoicing/domain/received-payment.entity.js';
import { MessageDispatcher } from '../src/modules/notifications/index.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const RECEIPT = `id number paymentId customerId customerName organizationName amount { amount currency formatted }
  amountApplied { amount } amountCredited { amount } amountUnapplied { amount formatted }
  appliedTo { invoiceId invoiceNumber amount { amount formatted } } paymentMethod paymentMethodBrand paymentMethodLast4
  paymentReference receivedAt lastEmailedAt emailCount downloadUrl`;
const RECEIPTS = `query($c: ID, $first: Int, $after: String) { receipts(customerId: $c, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } nodes { ${RECEIPT} } } }`;

/** The text drawn on a pdfkit PDF's pages, one string per text run (the content streams are Flate-compressed). */
function pdfText(pdf: Buffer): string {
  const runs: string[] = [];
  const raw = pdf.toString('latin1');
  for (const m of raw.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    let body: string;
    try {
      body = inflateSync(Buffer.from(m[1]!, 'latin1')).toString('latin1');
    } catch {
      body = m[1]!;
    }
    for (const tj of body.matchAll(/\[([^\]]*)\]\s*TJ/g)) {
      const hex = [...tj[1]!.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => h[1]).join('');
      runs.push(new TextDecoder('windows-1252').decode(Buffer.from(hex, 'hex')));
    }
  }
  return runs.join('\n');
}

describe('receipts: every payment received gets one, emailed, downloadable as a PDF', () => {
  let t: TestApp;
  let dataDir: string;
  let owner: Owner;
  let staff: Member;
  let manager: Member;
  let other: Owner;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-receipts-'));
    t = await startTestApp({ env: { DATA_DIR: dataDir } });
    // Links must point at this test server (PUBLIC_URL defaults to port 3000; the app listens on a random port).
    (t.app.get(AppConfig).http as { publicUrl: string }).publicUrl = t.url;
    owner = await signUpOrganization(t.gql, 'Pinecrest Pools & Spas');
    staff = await addUser(owner.client, 'STAFF');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    other = await signUpOrganization(t.gql, 'Other Org');
    // The default RECEIPT email does not print {Secure Link}; an organization adds it to its template.
    await owner.client.ok(
      `mutation($i: SaveNotificationTemplateInput!) { saveNotificationTemplate(input: $i) { kind } }`,
      {
        i: {
          kind: 'RECEIPT',
          channel: 'EMAIL',
          subject: 'Your receipt from {Organization Name}',
          body: 'Hi {Customer Name},\n\nThank you for your payment of {Amount} on {Date} ({Description}, {Payment Method}).\n\nReceipt {Reference}: {Secure Link}\n',
        },
      },
    );
  });
  afterAll(() => t.close());

  // --- helpers ------------------------------------------------------------------------------------------------------

  async function issueInvoice(customerId: string, unitPrice: number): Promise<{ id: string; number: string }> {
    const data = await owner.client.ok(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number } }`,
      { i: { customerId, issue: true, lines: [{ description: 'Pool opening', quantity: '1', unitPrice: String(unitPrice) }] } },
    );
    return data.createInvoice as { id: string; number: string };
  }

  /** A charge reported by Payments, recorded through Reconciliation's facade as the Payments module does. */
  async function recordCharge(p: { customerId: string; amount: bigint; method: string; allocations?: { invoiceId: string; amount: bigint }[] }) {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, owner.organizationId);
    const paymentId = newId();
    await em.transactional((tx) =>
      t.app.get(Reconciliation).recordPayment(tx, {
        paymentId,
        customerId: p.customerId,
        amount: Money.of(p.amount, 'USD'),
        method: p.method,
        receivedAt: t.clock.now(),
        allocations: p.allocations?.map((a) => ({ invoiceId: a.invoiceId, amount: Money.of(a.amount, 'USD') })) ?? null,
        source: PaymentSource.PAYMENTS,
      }),
    );
    return paymentId;
  }

  /** Cash, a cheque or a transfer recorded by staff over GraphQL. */
  async function recordOffline(input: Record<string, unknown>): Promise<string> {
    const data = await manager.client.ok(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
      i: { ...input, amount: { amount: String(input.amount), currency: 'USD' } },
    });
    return data.recordOfflinePayment.id as string;
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

  const LINK = () => new RegExp(`${t.url.replace(/[.]/g, '\\.')}/r/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);

  async function download(url: string, token?: string) {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), body: Buffer.from(await res.arrayBuffer()) };
  }

  async function receiptsOf(customerId: string) {
    return (await staff.client.ok(RECEIPTS, { c: customerId })).receipts as { totalCount: number; nodes: Record<string, any>[] };
  }

  // --- tests --------------------------------------------------------------------------------------------------------

  it('a card payment gets the next number, an email with a link, and a PDF that shows what it paid', async () => {
    const customer = await createCustomer(owner.client, { name: 'Pat Rivera' });
    const first = await issueInvoice(customer.id, 100_000);
    const second = await issueInvoice(customer.id, 20_000);
    const paymentId = await recordCharge({
      customerId: customer.id,
      amount: 125_000n,
      method: 'Visa ending in 4242',
      allocations: [
        { invoiceId: first.id, amount: 100_000n },
        { invoiceId: second.id, amount: 20_000n },
      ],
    });
    await t.drainOutbox();

    const list = await receiptsOf(customer.id);
    expect(list.totalCount).toBe(1);
    const receipt = list.nodes[0]!;
    expect(receipt).toMatchObject({
      number: 'RCT-000001',
      paymentId,
      customerName: 'Pat Rivera',
      organizationName: 'Pinecrest Pools & Spas',
      amount: { amount: '125000', currency: 'USD', formatted: '$1,250.00' },
      amountApplied: { amount: '120000' },
      amountCredited: { amount: '0' },
      amountUnapplied: { amount: '5000', formatted: '$50.00' },
      paymentMethod: 'Visa ending in 4242',
      paymentMethodBrand: 'Visa',
      paymentMethodLast4: '4242',
      emailCount: 1,
      downloadUrl: `${t.url}/receipts/${receipt.id}.pdf`,
    });
    expect(receipt.appliedTo).toEqual([
      { invoiceId: first.id, invoiceNumber: first.number, amount: { amount: '100000', formatted: '$1,000.00' } },
      { invoiceId: second.id, invoiceNumber: second.number, amount: { amount: '20000', formatted: '$200.00' } },
    ]);

    // Staff download it with their access token.
    const staffPdf = await download(receipt.downloadUrl, staff.token);
    expect(staffPdf.status).toBe(200);
    expect(staffPdf.type).toContain('application/pdf');
    expect(staffPdf.disposition).toContain('filename="receipt-RCT-000001.pdf"');
    // Left for a person to look at: pdftoppm -png -r 80 $TMPDIR/settle-receipt-RCT-000001.pdf
    writeFileSync(path.join(tmpdir(), 'settle-receipt-RCT-000001.pdf'), staffPdf.body);
    const text = pdfText(staffPdf.body);
    for (const s of ['Receipt RCT-000001', 'Pinecrest Pools & Spas', 'Pat Rivera', '$1,250.00', 'Visa •••• 4242', first.number, '$1,000.00', second.number, '$200.00', 'Not yet applied to an invoice', '$50.00']) {
      expect(text).toContain(s);
    }

    // The customer's email carries the link; it downloads the same PDF, without signing in.
    await dispatch();
    const mails = await emailsTo(customer.email);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toBe('Your receipt from Pinecrest Pools & Spas');
    expect(mail.text).toContain('$1,250.00');
    expect(mail.text).toContain(`Payment for ${first.number}, ${second.number}`);
    expect(mail.text).toContain('Receipt RCT-000001');
    writeFileSync(path.join(tmpdir(), 'settle-receipt-email.txt'), `${mail.subject}\n\n${mail.text}\n\n${String(mail.html)}`);
    const url = mail.text!.match(LINK())![0];
    const customerPdf = await download(url);
    expect(customerPdf.status).toBe(200);
    expect(customerPdf.disposition).toContain('filename="receipt-RCT-000001.pdf"');
    expect(customerPdf.body.equals(staffPdf.body)).toBe(true);

    // The token is stored nowhere in clear: not in the message row, not in the receipt.
    const token = url.split('/r/')[1]!;
    const em = t.app.get(MikroORM).em.fork();
    const rows = await em.execute(`select text, html from message where customer_id = ?`, [customer.id]);
    expect(JSON.stringify(rows)).not.toContain(token);
    const stored = await em.execute(`select * from receipt where id = ?`, [receipt.id]);
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it('an offline payment recorded twice gives one receipt; the next payment gets the next number', async () => {
    const customer = await createCustomer(owner.client);
    const invoice = await issueInvoice(customer.id, 5_000);
    const paymentId = newId();
    const cheque = {
      paymentId,
      customerId: customer.id,
      amount: 5_000,
      method: 'CHEQUE',
      reference: 'No. 1042',
      allocations: [{ invoiceId: invoice.id, amount: { amount: '5000', currency: 'USD' } }],
    };
    await recordOffline(cheque);
    await t.drainOutbox();
    // Recorded again (a double click, a retried request): still one payment, one receipt, one email.
    await recordOffline(cheque);
    await t.drainOutbox();

    const list = await receiptsOf(customer.id);
    expect(list.totalCount).toBe(1);
    expect(list.nodes[0]).toMatchObject({ number: 'RCT-000002', paymentMethod: 'Cheque', paymentMethodLast4: null, paymentReference: 'No. 1042', emailCount: 1 });
    await dispatch();
    expect(await emailsTo(customer.email)).toHaveLength(1);

    const text = pdfText((await download(list.nodes[0]!.downloadUrl, owner.token)).body);
    expect(text).toContain('Cheque');
    expect(text).toContain('Reference: No. 1042');
    expect(text).toContain(invoice.number);

    // Cash on account, nothing applied yet: receipt RCT-000003 says so.
    await recordOffline({ customerId: customer.id, amount: 2_500, method: 'CASH' });
    await t.drainOutbox();
    const cash = (await receiptsOf(customer.id)).nodes.find((r) => r.paymentMethod === 'Cash')!;
    expect(cash).toMatchObject({ number: 'RCT-000003', appliedTo: [], amountUnapplied: { amount: '2500', formatted: '$25.00' } });
    const cashText = pdfText((await download(cash.downloadUrl, owner.token)).body);
    expect(cashText).toContain('Not yet applied to an invoice');
    expect(cashText).toContain('$25.00');
  });

  it('a customer without an email address still gets a receipt, and no message', async () => {
    const customer = await createCustomer(owner.client, { email: null });
    await recordOffline({ customerId: customer.id, amount: 1_000, method: 'CASH' });
    await t.drainOutbox();
    const [receipt] = (await receiptsOf(customer.id)).nodes;
    expect(receipt).toMatchObject({ emailCount: 0, lastEmailedAt: null });
    const res = await manager.client.request(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: receipt!.id });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('the staff URL needs an access token and stays inside the organization', async () => {
    const customer = await createCustomer(owner.client);
    await recordOffline({ customerId: customer.id, amount: 1_000, method: 'CASH' });
    await t.drainOutbox();
    const [receipt] = (await receiptsOf(customer.id)).nodes;

    const anonymous = await download(receipt!.downloadUrl);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body.toString())).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await download(receipt!.downloadUrl, 'not-a-token')).status).toBe(401);

    const elsewhere = await download(receipt!.downloadUrl, other.token);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.toString()).not.toContain('Pinecrest');
    expect((await download(`${t.url}/receipts/not-a-uuid.pdf`, owner.token)).status).toBe(404);

    // Over GraphQL too: another organization does not see it.
    const res = await other.client.request(`query($id: ID!) { receipt(id: $id) { id } }`, { id: receipt!.id });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect((await other.client.ok(RECEIPTS, { c: customer.id })).receipts.totalCount).toBe(0);
  });

  it('a wrong or expired customer link is a 404 page, not a stack trace', async () => {
    for (const token of ['A'.repeat(43), 'short', 'x'.repeat(200)]) {
      const res = await fetch(`${t.url}/r/${token}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain("This receipt link isn't valid");
      expect(html).not.toMatch(/at .*\.ts:\d+|Error:/);
    }

    const customer = await createCustomer(owner.client);
    await recordCharge({ customerId: customer.id, amount: 3_000n, method: 'Mastercard ending in 4444' });
    await t.drainOutbox();
    await dispatch();
    const url = (await emailsTo(customer.email))[0]!.text!.match(LINK())![0];
    expect((await download(url)).status).toBe(200);
    t.clock.advance(91 * 86_400_000);
    try {
      expect((await download(url)).status).toBe(404);
      // Resending extends the same link.
      const [receipt] = (await receiptsOf(customer.id)).nodes;
      await manager.client.ok(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: receipt!.id });
      expect((await download(url)).status).toBe(200);
    } finally {
      t.clock.advance(-91 * 86_400_000);
    }
  });

  it('resendReceipt sends a new message each time (OWNER, ADMIN, PAYMENT_MANAGER)', async () => {
    const customer = await createCustomer(owner.client);
    await recordOffline({ customerId: customer.id, amount: 4_200, method: 'BANK_TRANSFER' });
    await t.drainOutbox();
    const [receipt] = (await receiptsOf(customer.id)).nodes;

    const refused = await staff.client.request(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: receipt!.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });

    await manager.client.ok(`mutation($id: ID!) { resendReceipt(id: $id) { emailCount } }`, { id: receipt!.id });
    const again = await owner.client.ok(`mutation($id: ID!) { resendReceipt(id: $id) { emailCount lastEmailedAt } }`, { id: receipt!.id });
    expect(again.resendReceipt.emailCount).toBe(3);
    await dispatch();
    const mails = await emailsTo(customer.email);
    expect(mails).toHaveLength(3);
    expect(mails.every((m) => m.text?.includes('Bank transfer'))).toBe(true);

    const missing = await manager.client.request(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: newId() });
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const malformed = await manager.client.request(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: 'nope' });
    expect(malformed.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });
});
