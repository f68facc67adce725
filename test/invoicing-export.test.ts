import { MikroORM } from '@mikro-orm/postgresql';
import { csvCell } from '../src/modules/invoicing/application/accounting-export.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const usd = (amount: string | number) => ({ amount: String(amount), currency: 'USD' });

/** RFC 4180 parsing, as a spreadsheet or an accounting import would read the file. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell || row.length) throw new Error(`CSV does not end with CRLF: ${JSON.stringify(text.slice(-40))}`);
  return rows;
}

/** Rows as objects keyed by the header. */
const records = (text: string) => {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]])));
};

describe('invoicing: accounting export (CSV)', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let customerId: string;
  let invoiceId: string;
  let paymentId: string;
  const NAME = '=HYPERLINK("http://evil.example","Pay"), Inc.';

  const get = (path: string, token: string | null = manager.token) =>
    fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-05-04T15:00:00Z');
    owner = await signUpOrganization(t.gql, 'Export Plumbing');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    customerId = (await createCustomer(owner.client, { name: NAME })).id;
    invoiceId = (
      await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId, issue: true, memo: 'Line one\nline two, "quoted"', lines: [{ description: 'Water heater', unitPrice: '12345', quantity: '1' }] },
      })
    ).createInvoice.id;
    paymentId = (
      await manager.client.ok(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
        i: { customerId, amount: usd(10000), method: 'CHEQUE', reference: '-1+1', allocations: [{ invoiceId, amount: usd(8000) }] },
      })
    ).recordOfflinePayment.id;
    t.clock.advance(60_000);
    await manager.client.ok(`mutation($i: CreateCreditNoteInput!) { createCreditNote(input: $i) { id } }`, {
      i: { invoiceId, kind: 'ADJUSTMENT', amount: usd(345), reason: '@discount, agreed' },
    });
    // The next day: outside a one-day range.
    t.clock.set('2026-05-05T15:00:00Z');
    await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
      i: { customerId, issue: true, lines: [{ description: 'Next day', unitPrice: '500', quantity: '1' }] },
    });
  });
  afterAll(() => t.close());

  it('invoices.csv: issued invoices of the range, amounts as decimals and minor units, text escaped and defused', async () => {
    const res = await get('/invoicing/export/invoices.csv?from=2026-05-04&to=2026-05-04');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="invoices-2026-05-04-to-2026-05-04.csv"');
    const text = await res.text();
    // The formula is quoted (it has quotes and a comma) and starts with ' so that no spreadsheet evaluates it.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""Pay""), Inc."`);
    const rows = records(text);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      invoice_id: invoiceId,
      number: 'INV-000001',
      issue_date: '2026-05-04',
      customer_id: customerId,
      customer_name: `'${NAME}`,
      status: 'PARTIALLY_PAID',
      currency: 'USD',
      total: '123.45',
      total_minor: '12345',
      amount_paid: '80.00',
      amount_paid_minor: '8000',
      amount_credited: '3.45',
      amount_credited_minor: '345',
      amount_due: '40.00',
      amount_due_minor: '4000',
      memo: 'Line one\nline two, "quoted"',
    });
    const both = records(await (await get('/invoicing/export/invoices.csv?from=2026-05-01&to=2026-05-31')).text());
    expect(both.map((r) => r.number)).toEqual(['INV-000001', 'INV-000002']);
  });

  it('payments.csv, credits.csv and allocations.csv by their dates', async () => {
    const payments = records(await (await get('/invoicing/export/payments.csv?from=2026-05-04&to=2026-05-04')).text());
    expect(payments).toEqual([
      expect.objectContaining({
        payment_id: paymentId,
        received_at: '2026-05-04T15:00:00.000Z',
        received_date: '2026-05-04',
        source: 'OFFLINE',
        method: 'CHEQUE',
        reference: "'-1+1",
        status: 'UNRECONCILED',
        amount: '100.00',
        amount_minor: '10000',
        allocated: '80.00',
        unallocated: '20.00',
        unallocated_minor: '2000',
      }),
    ]);
    const credits = records(await (await get('/invoicing/export/credits.csv?from=2026-05-04&to=2026-05-04')).text());
    expect(credits).toEqual([
      expect.objectContaining({
        kind: 'ADJUSTMENT',
        invoice_id: invoiceId,
        invoice_number: 'INV-000001',
        amount: '3.45',
        amount_minor: '345',
        remaining: '0.00',
        reason: "'@discount, agreed",
      }),
    ]);
    const allocations = records(await (await get('/invoicing/export/allocations.csv?from=2026-05-04&to=2026-05-04')).text());
    expect(allocations.map((a) => [a.type, a.invoice_number, a.payment_id, a.amount, a.amount_minor])).toEqual([
      ['PAYMENT', 'INV-000001', paymentId, '80.00', '8000'],
      ['CREDIT', 'INV-000001', '', '3.45', '345'],
    ]);
    expect(records(await (await get('/invoicing/export/payments.csv?from=2026-05-05&to=2026-05-31')).text())).toEqual([]);
  });

  it('pages through more than one page of rows: each once, in order', async () => {
    const em = t.app.get(MikroORM).em.fork();
    await em.execute(
      `insert into received_payment (id, organization_id, created_at, updated_at, customer_id, source, method, currency, amount,
         amount_allocated, amount_credited, status, received_at)
       select gen_random_uuid(), ?, now(), now(), ?, 'OFFLINE', 'CASH', 'USD', 100 + g, 0, 0, 'UNRECONCILED',
              timestamptz '2026-01-15 14:00:00+00' + (g % 700) * interval '1 second'
         from generate_series(1, 2345) g`,
      [owner.organizationId, customerId],
    );
    const rows = records(await (await get('/invoicing/export/payments.csv?from=2026-01-15&to=2026-01-15')).text());
    expect(rows).toHaveLength(2345);
    expect(new Set(rows.map((r) => r.payment_id)).size).toBe(2345);
    const keys = rows.map((r) => `${r.received_at}|${r.payment_id}`);
    expect(keys).toEqual([...keys].sort());
    expect(rows.reduce((sum, r) => sum + BigInt(r.amount_minor!), 0n)).toBe(BigInt(2345 * 100 + (2345 * 2346) / 2));
  });

  it('needs a token (401) and OWNER, ADMIN or PAYMENT_MANAGER (403); bad dates are 400 naming the parameter', async () => {
    const anonymous = await get('/invoicing/export/invoices.csv?from=2026-05-04&to=2026-05-04', null);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const forbidden = await get('/invoicing/export/invoices.csv?from=2026-05-04&to=2026-05-04', staff.token);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await get('/invoicing/export/invoices.csv?from=2026-05-04&to=2026-05-04', owner.token)).status).toBe(200);

    const bad = await get('/invoicing/export/payments.csv?from=2026-02-30&to=2026-05-04');
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { message: string; fields: unknown };
    expect(body.message).toContain('from: must be a date as YYYY-MM-DD');
    expect(body.fields).toEqual([{ field: 'from', message: expect.any(String) }]);
    const missing = (await (await get('/invoicing/export/payments.csv?from=2026-05-04')).json()) as { fields: unknown };
    expect(missing.fields).toEqual([{ field: 'to', message: 'is required, as a date YYYY-MM-DD' }]);
    const reversed = (await (await get('/invoicing/export/payments.csv?from=2026-05-04&to=2026-05-01')).json()) as { fields: unknown };
    expect(reversed.fields).toEqual([{ field: 'to', message: expect.stringContaining('on or after') }]);
    expect((await get('/invoicing/export/customers.csv?from=2026-05-04&to=2026-05-04')).status).toBe(404);
  });

  it('another organization exports only its own rows', async () => {
    const other = await signUpOrganization(t.gql, 'Other Org');
    const rows = records(await (await get('/invoicing/export/invoices.csv?from=2026-05-01&to=2026-05-31', other.token)).text());
    expect(rows).toEqual([]);
  });

  it('csvCell: quotes what needs quoting and defuses formulas, but leaves numbers alone', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=1+2')).toBe("'=1+2");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-cmd')).toBe("'-cmd");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('-12.50')).toBe('-12.50');
    expect(csvCell(null)).toBe('');
  });
});
