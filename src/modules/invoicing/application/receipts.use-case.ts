import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, newId } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Channel, MessageKind, Notifications, SealedLinks } from '../../notifications/index.js';
import { Invoice } from '../domain/invoice.entity.js';
import { PaymentAllocation, ReceivedPayment, ReceivedPaymentStatus } from '../domain/received-payment.entity.js';
import { Receipt, type ReceiptLine, receiptNumber } from '../domain/receipt.entity.js';
import { renderReceiptPdf } from '../infrastructure/receipt-pdf.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext } from './organization-context.js';

/** The purpose under which receipt link tokens are sealed (see SealedLinks). */
export const RECEIPT_LINK_PURPOSE = 'receipt';

/**
 * How long the customer's download link works after the last email that carried it. Not single-use (a receipt may be
 * downloaded again), but not forever either: an old email forwarded or left in a shared mailbox stops exposing the
 * customer's payment details; a resend (resendReceipt) extends it. Staff download it any time.
 */
export const RECEIPT_LINK_TTL_DAYS = 90;
const DAY_MS = 86_400_000;

/** A well-formed link token: 32 bytes of base64url. Anything else is not looked up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const OFFLINE_LABELS: Record<string, string> = { CASH: 'Cash', CHEQUE: 'Cheque', BANK_TRANSFER: 'Bank transfer', OTHER: 'Other' };

/** "Visa ending in 4242" → Visa / 4242; offline methods (CASH, CHEQUE, ...) → their name, no last 4. */
export function methodOf(method: string): { label: string; brand: string | null; last4: string | null } {
  const saved = /^(.+?) ending in (\d{4})$/.exec(method.trim());
  if (saved) return { label: method.trim(), brand: saved[1]!, last4: saved[2]! };
  return { label: OFFLINE_LABELS[method] ?? method, brand: null, last4: null };
}

export function hashReceiptToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function receiptNotFound(id?: string): InvoicingError {
  return new InvoicingError(InvoicingErrorReason.RECEIPT_NOT_FOUND, id ? `Receipt ${id} was not found` : 'Receipt was not found');
}

/** A receipt's PDF, ready to send. */
export interface ReceiptFile {
  filename: string;
  pdf: Buffer;
}

/**
 * Receipts: one per payment received, issued when Invoicing records the payment (PaymentRecorded), emailed to the
 * customer with a link to download it, downloadable by staff, and resent on request.
 */
@Injectable()
export class Receipts {
  private readonly logger = new Logger(Receipts.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly org: OrganizationContext,
    private readonly identity: IdentityDirectory,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly sealed: SealedLinks,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Issues the payment's receipt and queues its email, in the caller's transaction (tenant-scoped). Idempotent: the
   * receipt of a payment that has one is returned as it is. A reversed payment gets none (null). Under the
   * customer's receivables lock, so what it paid is read consistently and two deliveries for one payment queue.
   */
  async issueForPayment(em: EntityManager, paymentId: string): Promise<Receipt | null> {
    const payment = await em.findOne(ReceivedPayment, { id: paymentId });
    if (!payment) throw InvoicingError.paymentNotFound(paymentId);
    await lockCustomerReceivables(em, payment.customerId);
    const existing = await em.findOne(Receipt, { paymentId }, { refresh: true });
    if (existing) return existing;
    await em.refresh(payment);
    if (payment.status === ReceivedPaymentStatus.REVERSED) return null;

    const [org, customer, allocations] = await Promise.all([
      this.org.of(em),
      this.customers.get(em, payment.customerId),
      em.find(PaymentAllocation, { paymentId, reversedAt: null }),
    ]);
    const invoices = allocations.length
      ? await em.find(Invoice, { id: { $in: [...new Set(allocations.map((a) => a.invoiceId))] } })
      : [];
    const invoiceOf = new Map(invoices.map((i) => [i.id, i]));
    // One line per invoice, in the order of their numbers.
    const byInvoice = new Map<string, ReceiptLine>();
    for (const a of allocations) {
      const line = byInvoice.get(a.invoiceId);
      if (line) line.amount = (BigInt(line.amount) + a.amount).toString();
      else byInvoice.set(a.invoiceId, { invoiceId: a.invoiceId, invoiceNumber: invoiceOf.get(a.invoiceId)?.number ?? 'Invoice', amount: a.amount.toString() });
    }
    const sequenceOf = (l: ReceiptLine) => invoiceOf.get(l.invoiceId)?.sequence ?? 0n;
    const appliedTo = [...byInvoice.values()].sort((a, b) => (sequenceOf(a) < sequenceOf(b) ? -1 : sequenceOf(a) > sequenceOf(b) ? 1 : 0));
    const method = methodOf(payment.method);

    const now = this.clock.now();
    const sequence = await this.nextNumber(em, payment.organizationId);
    const receipt = em.create(Receipt, {
      id: newId(),
      organizationId: payment.organizationId,
      number: receiptNumber(sequence),
      sequence,
      paymentId,
      customerId: payment.customerId,
      currency: payment.currency,
      amount: payment.amount,
      amountApplied: appliedTo.reduce((sum, l) => sum + BigInt(l.amount), 0n),
      amountCredited: payment.amountCredited,
      methodLabel: method.label,
      methodBrand: method.brand,
      methodLast4: method.last4,
      paymentReference: payment.reference,
      receivedAt: payment.receivedAt,
      appliedTo,
      organizationName: org.name,
      customerName: customer?.name ?? 'Customer',
      customerEmail: customer?.email ?? null,
      linkExpiresAt: new Date(now.getTime() + RECEIPT_LINK_TTL_DAYS * DAY_MS),
      createdAt: now,
      updatedAt: now,
    } as Receipt);
    receipt.linkTokenHash = hashReceiptToken(this.sealed.token(RECEIPT_LINK_PURPOSE, receipt.id));
    em.persist(receipt);
    if (receipt.customerEmail) await this.email(em, receipt, receipt.customerEmail, `receipt:${paymentId}`, false);
    await em.flush();
    return receipt;
  }

  /**
   * Emails the receipt again, to the customer's current email address, with a new dedupe key (each resend is a new
   * message) and the link's expiry moved forward. A customer without an email address: BAD_USER_INPUT naming `email`.
   */
  async resend(em: EntityManager, id: string): Promise<Receipt> {
    const receipt = await em.findOne(Receipt, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!receipt) throw receiptNotFound(id);
    const customer = await this.customers.get(em, receipt.customerId);
    const email = customer ? customer.email : receipt.customerEmail;
    await this.email(em, receipt, email ?? '', `receipt:${receipt.paymentId}:resend:${receipt.emailCount + 1}`, true);
    receipt.linkExpiresAt = new Date(this.clock.now().getTime() + RECEIPT_LINK_TTL_DAYS * DAY_MS);
    await em.flush();
    return receipt;
  }

  /** The receipt's PDF, as its organization formats dates and amounts. */
  async pdf(em: EntityManager, receipt: Receipt): Promise<ReceiptFile> {
    const org = await this.identity.organization(em, receipt.organizationId);
    const pdf = await renderReceiptPdf(receipt, { locale: org?.locale ?? 'en-US', timeZone: org?.timeZone ?? 'UTC' });
    return { filename: `receipt-${receipt.number}.pdf`, pdf };
  }

  /**
   * The PDF behind a customer's link, or null for a token that is malformed, unknown or expired. Nobody is signed in:
   * the token's hash finds the receipt across organizations; the rest runs scoped to the receipt's organization.
   */
  async pdfForLink(token: string): Promise<ReceiptFile | null> {
    if (!TOKEN_SHAPE.test(token)) return null;
    const em = this.orm.em.fork();
    const receipt = await em.findOne(Receipt, { linkTokenHash: hashReceiptToken(token) }, { filters: { tenant: false } });
    if (!receipt || receipt.linkExpiresAt.getTime() <= this.clock.now().getTime()) return null;
    scopeToTenant(em, receipt.organizationId);
    return this.pdf(em, receipt);
  }

  /** The staff download URL. */
  staffUrl(receipt: Receipt): string {
    return `${this.config.http.publicUrl}/receipts/${receipt.id}.pdf`;
  }

  private async email(em: EntityManager, receipt: Receipt, email: string, dedupeKey: string, strict: boolean): Promise<void> {
    const paid = receipt.appliedTo.map((l) => l.invoiceNumber);
    try {
      await this.notifications.notifyCustomer(em, {
        dedupeKey,
        kind: MessageKind.RECEIPT,
        recipient: { customerId: receipt.customerId, name: receipt.customerName, email },
        channels: [Channel.EMAIL],
        data: {
          amount: receipt.money(receipt.amount),
          date: receipt.receivedAt,
          reference: receipt.number,
          description: paid.length ? `Payment for ${paid.join(', ')}` : 'Payment on account',
          paymentMethod: receipt.methodLabel,
          // The token is never stored: the dispatcher replaces the marker with it when it sends (SealedLinks).
          secureLink: `${this.config.http.publicUrl}/r/${this.sealed.marker(RECEIPT_LINK_PURPOSE, receipt.id)}`,
        },
      });
    } catch (error) {
      // Notifications validates before it writes: nothing was queued. A receipt is still issued without its email.
      if (strict || !(error instanceof ApplicationError)) throw error;
      this.logger.warn(`Receipt ${receipt.number} was not emailed: ${error.message}`);
      return;
    }
    receipt.lastEmailedAt = this.clock.now();
    receipt.emailCount += 1;
  }

  /** Like invoice numbers: the counter row, incremented in the issuing transaction, stays locked until it ends. */
  private async nextNumber(em: EntityManager, organizationId: string): Promise<bigint> {
    const [row] = await em.execute<{ sequence: string }[]>(
      `insert into receipt_number_counter (organization_id, next) values (?, 2)
       on conflict (organization_id) do update set next = receipt_number_counter.next + 1
       returning (next - 1)::text as sequence`,
      [organizationId],
    );
    return BigInt(row!.sequence);
  }
}
