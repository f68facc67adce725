import PDFDocument from 'pdfkit';
import { Money } from '#libs/money/index.js';
import type { Receipt } from '../domain/receipt.entity.js';

/** What the PDF needs of the organization now (the name printed is the receipt's snapshot). */
export interface ReceiptOrganization {
  locale: string;
  timeZone: string;
}

/** Everything a person reads on the receipt, formatted in the organization's locale and time zone. */
export interface ReceiptDocument {
  organizationName: string;
  title: string;
  number: string;
  date: string;
  customerName: string;
  customerEmail: string | null;
  amountPaid: string;
  method: string;
  reference: string | null;
  lines: { invoiceNumber: string; amount: string }[];
  /** "Held as account credit", "Not yet applied to an invoice", with their amounts; only those that are not zero. */
  remainders: { label: string; amount: string }[];
  footer: string;
}

const INK = '#1f2933';
const MUTED = '#616e7c';
const RULE = '#cbd2d9';
const ACCENT = '#0b5cad';
const PANEL = '#f0f4f8';

/** Masks a method for print: "Visa •••• 4242"; offline methods as they are ("Cheque"). */
export function printedMethod(receipt: Pick<Receipt, 'methodBrand' | 'methodLast4' | 'methodLabel'>): string {
  if (receipt.methodLast4) return `${receipt.methodBrand ?? 'Card'} \u2022\u2022\u2022\u2022 ${receipt.methodLast4}`;
  return receipt.methodLabel;
}

export function formatReceiptDate(at: Date, org: ReceiptOrganization): string {
  return new Intl.DateTimeFormat(org.locale, { dateStyle: 'long', timeZone: org.timeZone }).format(at);
}

export function receiptDocument(receipt: Receipt, org: ReceiptOrganization): ReceiptDocument {
  const money = (minor: bigint | string) => pdfText(Money.of(BigInt(minor), receipt.currency).format(org.locale));
  const unapplied = receipt.unapplied();
  const remainders: ReceiptDocument['remainders'] = [];
  if (receipt.amountCredited > 0n) remainders.push({ label: 'Held as account credit', amount: money(receipt.amountCredited) });
  if (unapplied.isPositive()) remainders.push({ label: 'Not yet applied to an invoice', amount: money(unapplied.amount) });
  const date = formatReceiptDate(receipt.receivedAt, org);
  return {
    organizationName: pdfText(receipt.organizationName),
    title: `Receipt ${receipt.number}`,
    number: receipt.number,
    date,
    customerName: pdfText(receipt.customerName),
    customerEmail: receipt.customerEmail ? pdfText(receipt.customerEmail) : null,
    amountPaid: money(receipt.amount),
    method: pdfText(printedMethod(receipt)),
    reference: receipt.paymentReference ? pdfText(receipt.paymentReference) : null,
    lines: receipt.appliedTo.map((l) => ({ invoiceNumber: l.invoiceNumber, amount: money(l.amount) })),
    remainders,
    footer: pdfText(
      `Thank you for your payment. This receipt confirms that ${receipt.organizationName} received ${money(receipt.amount)} ` +
        `from ${receipt.customerName} on ${date}. Please keep it for your records.`,
    ),
  };
}

/**
 * The receipt as a one-page PDF (pdfkit, built-in Helvetica: no font files, no network). Deterministic: the same
 * receipt renders to the same bytes (the document's dates and id come from the receipt).
 */
export function renderReceiptPdf(receipt: Receipt, org: ReceiptOrganization): Promise<Buffer> {
  const d = receiptDocument(receipt, org);
  const letter = /-(US|CA|MX|PH|CL|CO|VE|GT|CR)$/i.test(org.locale);
  const doc = new PDFDocument({
    size: letter ? 'LETTER' : 'A4',
    margins: { top: 56, bottom: 56, left: 56, right: 56 },
    info: {
      Title: `${d.title} — ${d.organizationName}`,
      Author: d.organizationName,
      Subject: `Receipt for ${d.customerName}`,
      Producer: 'Settle',
      Creator: 'Settle',
      CreationDate: receipt.createdAt,
      ModDate: receipt.createdAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const left = doc.page.margins.left;
  const right = doc.page.width - doc.page.margins.right;
  const width = right - left;

  // Header: the organization on the left, RECEIPT and its number on the right.
  const top = doc.page.margins.top;
  doc.fillColor(INK).font('Helvetica-Bold').fontSize(20).text(d.organizationName, left, top, { width: width * 0.6 });
  const orgBottom = doc.y;
  doc.fillColor(ACCENT).font('Helvetica-Bold').fontSize(22).text('RECEIPT', left, top, { width, align: 'right' });
  doc.fillColor(MUTED).font('Helvetica').fontSize(11).text(d.number, left, doc.y + 2, { width, align: 'right' });
  let y = Math.max(orgBottom, doc.y) + 18;
  doc.moveTo(left, y).lineTo(right, y).lineWidth(1).strokeColor(RULE).stroke();
  y += 18;

  // Who paid, when, how.
  const col = width / 3;
  const field = (x: number, label: string, lines: string[]): number => {
    doc.fillColor(MUTED).font('Helvetica').fontSize(9).text(label.toUpperCase(), x, y, { width: col - 12, characterSpacing: 0.5 });
    doc.fillColor(INK).font('Helvetica-Bold').fontSize(11).text(lines[0] ?? '', x, doc.y + 4, { width: col - 12 });
    doc.font('Helvetica').fontSize(10).fillColor(MUTED);
    for (const line of lines.slice(1)) doc.text(line, x, doc.y + 2, { width: col - 12 });
    return doc.y;
  };
  const bottoms = [
    field(left, 'Received from', [d.customerName, ...(d.customerEmail ? [d.customerEmail] : [])]),
    field(left + col, 'Date', [d.date]),
    field(left + 2 * col, 'Payment method', [d.method, ...(d.reference ? [`Reference: ${d.reference}`] : [])]),
  ];
  y = Math.max(...bottoms) + 24;

  // The amount, in a panel.
  const panelHeight = 64;
  doc.roundedRect(left, y, width, panelHeight, 6).fillColor(PANEL).fill();
  doc.fillColor(MUTED).font('Helvetica').fontSize(10).text('Amount paid', left + 18, y + 14, { width: width / 2 });
  doc.fillColor(INK).font('Helvetica-Bold').fontSize(24).text(d.amountPaid, left + 18, y + 28, { width: width / 2 });
  doc
    .fillColor(MUTED)
    .font('Helvetica')
    .fontSize(10)
    .text('Payment received', left + width / 2, y + panelHeight / 2 - 6, { width: width / 2 - 18, align: 'right' });
  y += panelHeight + 28;

  // What it paid.
  doc.fillColor(INK).font('Helvetica-Bold').fontSize(12).text('Applied to', left, y);
  y = doc.y + 8;
  const amountX = left + width * 0.6;
  const amountW = width * 0.4;
  doc.fillColor(MUTED).font('Helvetica-Bold').fontSize(9);
  doc.text('INVOICE', left, y, { width: width * 0.6, characterSpacing: 0.5 });
  doc.text('AMOUNT APPLIED', amountX, y, { width: amountW, align: 'right', characterSpacing: 0.5 });
  y = doc.y + 6;
  doc.moveTo(left, y).lineTo(right, y).lineWidth(0.75).strokeColor(RULE).stroke();
  y += 8;
  const row = (label: string, amount: string, bold = false, color = INK) => {
    doc.fillColor(color).font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(11);
    doc.text(label, left, y, { width: width * 0.6 });
    doc.text(amount, amountX, y, { width: amountW, align: 'right' });
    y = doc.y + 8;
  };
  if (d.lines.length === 0 && d.remainders.length === 0) row('No invoice', '\u2014', false, MUTED);
  for (const line of d.lines) row(line.invoiceNumber, line.amount);
  for (const r of d.remainders) row(r.label, r.amount, false, MUTED);
  doc.moveTo(left, y).lineTo(right, y).lineWidth(0.75).strokeColor(RULE).stroke();
  y += 8;
  row('Total paid', d.amountPaid, true);

  // Footer, at the bottom of the page.
  const footerY = doc.page.height - doc.page.margins.bottom - 52;
  doc.moveTo(left, footerY).lineTo(right, footerY).lineWidth(0.75).strokeColor(RULE).stroke();
  doc.fillColor(MUTED).font('Helvetica').fontSize(9).text(d.footer, left, footerY + 10, { width, align: 'left' });
  doc.text(`${d.organizationName} \u00b7 ${d.title}`, left, doc.y + 4, { width, align: 'left' });

  doc.end();
  return done;
}

/**
 * Text for the built-in fonts (WinAnsi): Intl's narrow no-break space (fr-FR, de-CH amounts) becomes a no-break
 * space; characters the fonts cannot show become "?" rather than wrong glyphs.
 */
function pdfText(text: string): string {
  return text.replace(/[\u202f\u2009]/g, '\u00a0').replace(/[^\u0020-\u007e\u00a0-\u00ff\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026\u20ac]/g, '?');
}
