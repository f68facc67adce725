import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { BilledRefType, Invoice, InvoiceStatus, UNPAID_STATUSES } from '../domain/invoice.entity.js';
import { BulkInvoices, type BulkInvoiceCommand } from './bulk-invoices.js';
import { CustomerBalances, type CustomerBalance } from './customer-balances.js';
import { Invoices, type DraftInvoiceCommand } from './invoices.use-case.js';
import { OrganizationContext } from './organization-context.js';

/** What other modules know of an invoice. */
export interface InvoiceSummary {
  id: string;
  customerId: string;
  /** INV-000123; null for a draft. */
  number: string | null;
  status: InvoiceStatus;
  total: Money;
  /** Still owed: total − payments − credits (zero for drafts and voided invoices). */
  amountDue: Money;
  issueDate: string | null;
  dueDate: string | null;
  billedRefType: BilledRefType;
  billedRefId: string | null;
  billedRefLabel: string | null;
}

export function summaryOf(invoice: Invoice): InvoiceSummary {
  return {
    id: invoice.id,
    customerId: invoice.customerId,
    number: invoice.number,
    status: invoice.status,
    total: invoice.money(invoice.total),
    amountDue: invoice.amountDue(),
    issueDate: invoice.issueDate,
    dueDate: invoice.dueDate,
    billedRefType: invoice.billedRefType,
    billedRefId: invoice.billedRefId,
    billedRefLabel: invoice.billedRefLabel,
  };
}

/**
 * Invoicing's facade for other modules (Agreements' billing runs, Payments). Every method works through the
 * caller's tenant-scoped EntityManager, inside its transaction.
 */
@Injectable()
export class Invoicing {
  constructor(
    private readonly invoices: Invoices,
    private readonly balances: CustomerBalances,
    private readonly context: OrganizationContext,
    private readonly bulk: BulkInvoices,
  ) {}

  /**
   * Creates and issues many invoices at once in the caller's transaction (billing runs): the same rules, rows and
   * events as issueInvoice one by one, in a handful of multi-row statements (see BulkInvoices). All or nothing.
   * A command may carry the id its invoice gets. Summaries in the order of the commands.
   */
  async issueInvoicesBulk(em: EntityManager, cmds: readonly BulkInvoiceCommand[], actorUserId: string | null = null): Promise<InvoiceSummary[]> {
    return this.bulk.issue(em, cmds, actorUserId);
  }

  /** Creates and issues an invoice at once (numbered, announced as InvoiceIssued). */
  async issueInvoice(em: EntityManager, cmd: DraftInvoiceCommand, actorUserId: string | null = null): Promise<InvoiceSummary> {
    return summaryOf(await this.invoices.createAndIssue(em, cmd, actorUserId));
  }

  async invoice(em: EntityManager, id: string): Promise<InvoiceSummary | null> {
    if (!isUuid(id)) return null;
    const invoice = await em.findOne(Invoice, { id });
    return invoice ? summaryOf(invoice) : null;
  }

  /**
   * The customer's issued invoices that still owe something (OPEN, PARTIALLY_PAID), oldest first: by due date, then
   * number. The order to pay them in when a payment covers only part of the balance (mass charges).
   */
  async unpaidInvoices(em: EntityManager, customerId: string): Promise<InvoiceSummary[]> {
    const invoices = await em.find(
      Invoice,
      { customerId, status: { $in: [...UNPAID_STATUSES] } },
      { orderBy: { dueDate: 'asc', sequence: 'asc', id: 'asc' } },
    );
    return invoices.map(summaryOf).filter((i) => i.amountDue.isPositive());
  }

  /** What the customer owes now, their credit and their unallocated payments. */
  async balance(em: EntityManager, customerId: string): Promise<CustomerBalance> {
    const org = await this.context.of(em);
    return this.balances.compute(em, customerId, org.currency, org.today);
  }
}
