import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { addDays } from '../domain/calendar.js';
import { InvoiceLine } from '../domain/invoice-line.entity.js';
import { invoiceAmounts } from '../domain/invoice-math.js';
import { BilledRefType, Invoice, invoiceNumber, InvoiceStatus } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { InvoicingEvents, type InvoiceIssuedPayload, type InvoiceVoidedPayload } from '../invoicing.events.js';
import { CustomerBalances } from './customer-balances.js';
import { checkLines, checkTerms, type BilledRef, type CheckedLine, type InvoiceLineCommand, MAX_MEMO } from './invoice-terms.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext, type InvoicingContextValue } from './organization-context.js';

export { MAX_DESCRIPTION, MAX_LINES, MAX_MEMO, MAX_TERMS_DAYS, type BilledRef, type InvoiceLineCommand } from './invoice-terms.js';

export interface DraftInvoiceCommand {
  customerId: string;
  lines: InvoiceLineCommand[];
  /** YYYY-MM-DD; else issue date + paymentTermsDays. */
  dueDate?: string | null;
  paymentTermsDays?: number | null;
  billedRef?: BilledRef | null;
  memo?: string | null;
}

/** Only the fields given change; `lines`, when given, replace all lines. */
export interface DraftInvoicePatch {
  lines?: InvoiceLineCommand[];
  dueDate?: string | null;
  paymentTermsDays?: number | null;
  billedRef?: BilledRef | null;
  memo?: string | null;
}

/**
 * Invoices: drafts (editable), issuing (numbered, immutable), voiding. Each method runs in the caller's transaction
 * and takes the customer's receivables lock before it changes anything.
 */
@Injectable()
export class Invoices {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly balances: CustomerBalances,
    private readonly context: OrganizationContext,
    private readonly outbox: Outbox,
  ) {}

  async createDraft(em: EntityManager, cmd: DraftInvoiceCommand, actorUserId: string | null): Promise<Invoice> {
    const org = await this.context.of(em);
    const problems: FieldProblem[] = [];
    const lines = checkLines(cmd.lines, org.currency, problems);
    checkTerms(cmd, problems);
    if (!isUuid(cmd.customerId)) throw this.customerNotFound(cmd.customerId);
    if (problems.length) throw InvoicingError.invalid(problems);
    await this.requireBillableCustomer(em, cmd.customerId);

    const invoice = Object.assign(new Invoice(), {
      customerId: cmd.customerId,
      currency: org.currency,
      dueDate: cmd.dueDate ?? null,
      paymentTermsDays: cmd.paymentTermsDays ?? 30,
      billedRefType: cmd.billedRef?.type ?? BilledRefType.NONE,
      billedRefId: cmd.billedRef?.id ?? null,
      billedRefLabel: cmd.billedRef?.label?.trim() || null,
      memo: cmd.memo?.trim() || null,
      createdBy: actorUserId,
    });
    em.persist(invoice);
    this.writeLines(em, invoice, lines, org.currency);
    await em.flush();
    return invoice;
  }

  async updateDraft(em: EntityManager, id: string, patch: DraftInvoicePatch): Promise<Invoice> {
    const invoice = await this.lockInvoice(em, id);
    if (invoice.status !== InvoiceStatus.DRAFT) throw this.notDraft(invoice, 'edited');
    const problems: FieldProblem[] = [];
    const lines = patch.lines === undefined ? null : checkLines(patch.lines, invoice.currency, problems);
    checkTerms(patch, problems);
    if (problems.length) throw InvoicingError.invalid(problems);

    if (patch.dueDate !== undefined) invoice.dueDate = patch.dueDate;
    if (patch.paymentTermsDays !== undefined) invoice.paymentTermsDays = patch.paymentTermsDays ?? 30;
    if (patch.memo !== undefined) invoice.memo = patch.memo?.trim() || null;
    if (patch.billedRef !== undefined) {
      invoice.billedRefType = patch.billedRef?.type ?? BilledRefType.NONE;
      invoice.billedRefId = patch.billedRef?.id ?? null;
      invoice.billedRefLabel = patch.billedRef?.label?.trim() || null;
    }
    if (lines) {
      await em.nativeDelete(InvoiceLine, { invoiceId: invoice.id });
      this.writeLines(em, invoice, lines, invoice.currency);
    }
    await em.flush();
    return invoice;
  }

  /**
   * Issues a draft: it gets the organization's next number, its issue date (today in the organization's time zone)
   * and a due date, and from then on never changes what it bills. Announces InvoiceIssued.
   */
  async issue(em: EntityManager, id: string, actorUserId: string | null): Promise<Invoice> {
    const invoice = await this.lockInvoice(em, id);
    if (invoice.status !== InvoiceStatus.DRAFT) throw this.notDraft(invoice, 'issued again');
    const org = await this.context.of(em);
    await this.issueLocked(em, invoice, org, actorUserId);
    return invoice;
  }

  /** A draft created and issued at once (mass invoicing, billing runs). */
  async createAndIssue(em: EntityManager, cmd: DraftInvoiceCommand, actorUserId: string | null): Promise<Invoice> {
    const invoice = await this.createDraft(em, cmd, actorUserId);
    await lockCustomerReceivables(em, invoice.customerId);
    await this.issueLocked(em, invoice, await this.context.of(em), actorUserId);
    return invoice;
  }

  /**
   * Voids an invoice nothing was paid or credited on. A draft just becomes VOID; an issued invoice keeps its number
   * (numbers never go back) and stops counting in the balance. Announces InvoiceVoided for issued invoices.
   */
  async void(em: EntityManager, id: string, actorUserId: string | null, reason: string): Promise<Invoice> {
    const why = reason?.trim() ?? '';
    if (!why) throw InvoicingError.invalid([{ field: 'reason', message: 'say why the invoice is voided' }]);
    if (why.length > MAX_MEMO) throw InvoicingError.invalid([{ field: 'reason', message: `must be at most ${MAX_MEMO} characters` }]);
    const invoice = await this.lockInvoice(em, id);
    if (invoice.status === InvoiceStatus.VOID) {
      throw new InvoicingError(InvoicingErrorReason.ALREADY_VOID, `${invoice.label()} is already void`);
    }
    if (invoice.amountPaid > 0n || invoice.amountCredited > 0n) {
      throw new InvoicingError(
        InvoicingErrorReason.VOID_NOT_ALLOWED_WHEN_PAID,
        `${invoice.label()} has ${invoice.money(invoice.amountPaid + invoice.amountCredited).format('en-US')} paid or credited; ` +
          'reverse those payments and credits before voiding it, or issue a credit note for the rest',
      );
    }
    const wasIssued = invoice.status !== InvoiceStatus.DRAFT;
    const org = await this.context.of(em);
    invoice.status = InvoiceStatus.VOID;
    invoice.voidedAt = org.now;
    invoice.voidedBy = actorUserId;
    invoice.voidReason = why;
    if (wasIssued) {
      this.outbox.record(
        em,
        domainEvent<InvoiceVoidedPayload>(InvoicingEvents.InvoiceVoided, invoice.organizationId, {
          invoiceId: invoice.id,
          customerId: invoice.customerId,
          number: invoice.number!,
          total: invoice.money(invoice.total).toJSON(),
        }),
      );
      await this.balances.refresh(em, invoice.customerId, invoice.currency);
    }
    await em.flush();
    return invoice;
  }

  /**
   * Loads an invoice for change: takes its customer's receivables lock, then the row lock, and reads it fresh.
   * Another organization's id (hidden by the tenant filter) or a malformed one is NOT_FOUND.
   */
  async lockInvoice(em: EntityManager, id: string): Promise<Invoice> {
    if (!isUuid(id)) throw InvoicingError.invoiceNotFound(id);
    const found = await em.findOne(Invoice, { id });
    if (!found) throw InvoicingError.invoiceNotFound(id);
    await lockCustomerReceivables(em, found.customerId);
    return (await em.findOne(Invoice, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
  }

  async lines(em: EntityManager, invoiceId: string): Promise<InvoiceLine[]> {
    return em.find(InvoiceLine, { invoiceId }, { orderBy: { position: 'asc' } });
  }

  private async issueLocked(em: EntityManager, invoice: Invoice, org: InvoicingContextValue, actorUserId: string | null) {
    const lineCount = await em.count(InvoiceLine, { invoiceId: invoice.id });
    if (lineCount === 0) throw new InvoicingError(InvoicingErrorReason.EMPTY_INVOICE, `${invoice.label()} has no lines; add at least one before issuing it`);
    if (invoice.total <= 0n) {
      throw new InvoicingError(
        InvoicingErrorReason.TOTAL_NOT_POSITIVE,
        `${invoice.label()} totals ${invoice.money(invoice.total).format('en-US')}; an invoice must total more than zero (give account credit instead)`,
      );
    }
    await this.requireBillableCustomer(em, invoice.customerId);
    const dueDate = invoice.dueDate ?? addDays(org.today, invoice.paymentTermsDays);
    if (dueDate < org.today) {
      throw new InvoicingError(
        InvoicingErrorReason.DUE_BEFORE_ISSUE,
        `The due date ${dueDate} is before today's issue date ${org.today}; change the due date`,
        'dueDate',
      );
    }
    const sequence = await this.nextNumber(em, invoice.organizationId);
    invoice.sequence = sequence;
    invoice.number = invoiceNumber(sequence);
    invoice.status = InvoiceStatus.OPEN;
    invoice.issueDate = org.today;
    invoice.dueDate = dueDate;
    invoice.issuedAt = org.now;
    invoice.issuedBy = actorUserId;
    this.outbox.record(
      em,
      domainEvent<InvoiceIssuedPayload>(InvoicingEvents.InvoiceIssued, invoice.organizationId, {
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        number: invoice.number,
        subtotal: invoice.money(invoice.subtotal).toJSON(),
        tax: invoice.money(invoice.tax).toJSON(),
        total: invoice.money(invoice.total).toJSON(),
      }),
    );
    await this.balances.refresh(em, invoice.customerId, invoice.currency);
    await em.flush();
  }

  /**
   * The organization's next invoice number, taken in the issuing transaction. The upsert locks the counter row until
   * that transaction ends: concurrent issuers queue behind it (no duplicates), and a rollback undoes the increment
   * (no gaps). The unique (organization_id, number) index is the backstop.
   */
  private async nextNumber(em: EntityManager, organizationId: string): Promise<bigint> {
    const [row] = await em.execute<{ sequence: string }[]>(
      `insert into invoice_number_counter (organization_id, next) values (?, 2)
       on conflict (organization_id) do update set next = invoice_number_counter.next + 1
       returning (next - 1)::text as sequence`,
      [organizationId],
    );
    return BigInt(row!.sequence);
  }

  private writeLines(em: EntityManager, invoice: Invoice, lines: CheckedLine[], currency: string): void {
    const amounts = invoiceAmounts(lines, currency);
    lines.forEach((line, position) => {
      const a = amounts.lines[position]!;
      em.persist(
        Object.assign(new InvoiceLine(), {
          invoiceId: invoice.id,
          position,
          description: line.description,
          quantity: line.quantity,
          unitPrice: line.unitPrice.amount,
          taxRate: line.taxRate,
          subtotal: a.subtotal.amount,
          tax: a.tax.amount,
          total: a.total.amount,
        }),
      );
    });
    invoice.subtotal = amounts.subtotal.amount;
    invoice.tax = amounts.tax.amount;
    invoice.total = amounts.total.amount;
  }

  private async requireBillableCustomer(em: EntityManager, customerId: string) {
    const customer = await this.customers.get(em, customerId);
    if (!customer) throw this.customerNotFound(customerId);
    if (customer.status === CustomerStatus.ARCHIVED) {
      throw new InvoicingError(
        InvoicingErrorReason.CUSTOMER_ARCHIVED,
        `${customer.name} is archived; reactivate the customer to invoice them`,
        'customerId',
      );
    }
    return customer;
  }

  private customerNotFound(id: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${id} was not found`, 'customerId');
  }

  private notDraft(invoice: Invoice, what: string): InvoicingError {
    return new InvoicingError(
      InvoicingErrorReason.INVOICE_NOT_DRAFT,
      `${invoice.label()} is ${invoice.status} and cannot be ${what}: an issued invoice never changes; correct it with a credit note`,
    );
  }
}
