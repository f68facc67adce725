import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { Receipt } from '../domain/receipt.entity.js';
import { receiptDocument, renderReceiptPdf } from './receipt-pdf.js';

/** The text drawn on the pages of a pdfkit PDF, one string per text run (its content streams are Flate-compressed). */
function pdfTextRuns(pdf: Buffer): string[] {
  const runs: string[] = [];
  const raw = pdf.toString('latin1');
  const streams = /stream\r?\n([\s\S]*?)\r?\nendstream/g;
  for (let m = streams.exec(raw); m; m = streams.exec(raw)) {
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
  return runs;
}

function sample(overrides: Partial<Receipt> = {}): Receipt {
  return Object.assign(new Receipt(), {
    id: '0b9f6c1e-7a51-4d57-9a7e-2f1d5e0c3a11',
    organizationId: '5a0c1e2f-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
    createdAt: new Date('2026-03-03T19:20:00Z'),
    number: 'RCT-000042',
    sequence: 42n,
    paymentId: '9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a',
    customerId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    currency: 'USD',
    amount: 125_000n,
    amountApplied: 120_000n,
    amountCredited: 5_000n,
    methodLabel: 'Visa ending in 4242',
    methodBrand: 'Visa',
    methodLast4: '4242',
    paymentReference: null,
    receivedAt: new Date('2026-03-03T19:15:00Z'),
    appliedTo: [
      { invoiceId: 'a', invoiceNumber: 'INV-000007', amount: '100000' },
      { invoiceId: 'b', invoiceNumber: 'INV-000011', amount: '20000' },
    ],
    organizationName: 'Pinecrest Pools & Spas',
    customerName: 'Pat Rivera',
    customerEmail: 'pat.rivera@example.com',
    ...overrides,
  });
}

describe('receipt PDF', () => {
  const org = { locale: 'en-US', timeZone: 'America/New_York' };

  it('shows the number, date, customer, amount, masked method, invoices and the remainder', async () => {
    const pdf = await renderReceiptPdf(sample(), org);
    // Left for a person to look at: pdftoppm -png -r 80 $TMPDIR/settle-receipt-sample.pdf
    writeFileSync(path.join(tmpdir(), 'settle-receipt-sample.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = pdfTextRuns(pdf).join('\n');
    for (const s of ['Pinecrest Pools & Spas', 'RECEIPT', 'RCT-000042', 'March 3, 2026', 'Pat Rivera', '$1,250.00', 'Visa •••• 4242', 'INV-000007', '$1,000.00', 'INV-000011', '$200.00', 'Held as account credit', '$50.00']) {
      expect(text).toContain(s);
    }
    expect(text).not.toContain('Not yet applied');
  });

  it('renders the same bytes twice', async () => {
    expect((await renderReceiptPdf(sample(), org)).equals(await renderReceiptPdf(sample(), org))).toBe(true);
  });

  it('formats in the organization locale and time zone; offline payments show their method and reference', async () => {
    const receipt = sample({
      currency: 'EUR',
      amount: 123_456n,
      amountApplied: 0n,
      amountCredited: 0n,
      appliedTo: [],
      methodLabel: 'Cheque',
      methodBrand: null,
      methodLast4: null,
      paymentReference: 'No. 1042',
      receivedAt: new Date('2026-03-03T23:30:00Z'),
    });
    const fr = { locale: 'fr-FR', timeZone: 'Europe/Paris' };
    const doc = receiptDocument(receipt, fr);
    expect(doc.date).toBe('4 mars 2026');
    expect(doc.amountPaid).toBe('1\u00a0234,56\u00a0€');
    expect(doc.method).toBe('Cheque');
    expect(doc.remainders).toEqual([{ label: 'Not yet applied to an invoice', amount: '1\u00a0234,56\u00a0€' }]);
    const pdf = await renderReceiptPdf(receipt, fr);
    writeFileSync(path.join(tmpdir(), 'settle-receipt-sample-fr.pdf'), pdf);
    const text = pdfTextRuns(pdf).join('\n');
    expect(text).toContain('Reference: No. 1042');
    expect(text).toContain('Not yet applied to an invoice');
  });
});
