import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { BilledRefType, Invoice, InvoiceStatus } from '../domain/invoice.entity.js';
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
  ) {}

  /** Creates and issues an invoice at once (numbered, announced as InvoiceIssued). */
  async issueInvoice(em: EntityManager, cmd: DraftInvoiceCommand, actorUserId: string | null = null): Promise<InvoiceSummary> {
    return summaryOf(await this.invoices.createAndIssue(em, cmd, actorUserId));
  }

  async invoice(em: EntityManager, id: string): Promise<InvoiceSummary | null> {
    if (!isUuid(id)) return null;
    const invoice = await em.findOne(Invoice, { id });
    return invoice ? summaryOf(invoice) : null;
  }

  /** What the customer owes now, their credit and their unallocated payments. */
  async balance(em: EntityManager, customerId: string): Promise<CustomerBalance> {
    const org = await this.context.of(em);
    return this.balances.compute(em, customerId, org.currency, org.today);
  }
}
