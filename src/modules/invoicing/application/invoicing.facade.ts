import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { BilledRefType, Invoice, InvoiceStatus, UNPAID_STATUSES } from '../domain/invoice.entity.js';
import { InstallmentPlan, InstallmentStatus } from '../domain/installment-plan.entity.js';
import { equalInstallments, type InstallmentInterval } from '../domain/installment-schedule.js';
import { BulkInvoices, type BulkInvoiceCommand, type BulkIssueOptions } from './bulk-invoices.js';
import { InstallmentCharges, type InstallmentChargeNowOutcome } from './installment-charges.js';
import { InstallmentPlans } from './installment-plans.use-case.js';
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

/** An equal installment plan over one invoice, for other modules (a pay link's "Pay in 4"). */
export interface CreateInvoiceInstallmentPlanCommand {
  invoiceId: string;
  /** A saved method of the invoice's customer with consent to off-session charges. */
  paymentMethodId: string;
  count: number;
  /** YYYY-MM-DD, not before the organization's today. */
  firstDueOn: string;
  interval: InstallmentInterval;
}

export interface InstallmentPlanSummary {
  id: string;
  customerId: string;
  invoiceId: string | null;
  paymentMethodId: string;
  total: Money;
  installments: { id: string; sequence: number; dueOn: string; amount: Money; status: InstallmentStatus }[];
}

/** The parts an equal plan of `total` would have if it started today (what the customer is asked to agree to). */
export interface InstallmentPreview {
  firstDueOn: string;
  parts: { sequence: number; dueOn: string; amount: Money }[];
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
    // The installment pieces are resolved when used: the installment job charges through Payments, which uses this facade.
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * An equal plan over one issued invoice, charged to a saved method (InstallmentPlans.create: the invoice's
   * customer's method with consent; the invoice not under another active plan), in the caller's transaction.
   */
  async createInstallmentPlan(em: EntityManager, cmd: CreateInvoiceInstallmentPlanCommand, actorUserId: string | null = null): Promise<InstallmentPlanSummary> {
    const plans = this.moduleRef.get(InstallmentPlans, { strict: true });
    const plan = await plans.create(
      em,
      { invoiceId: cmd.invoiceId, paymentMethodId: cmd.paymentMethodId, count: cmd.count, firstDueOn: cmd.firstDueOn, interval: cmd.interval },
      actorUserId,
    );
    return (await this.installmentPlan(em, plan.id))!;
  }

  /** A plan and its installments (null when there is no such plan). */
  async installmentPlan(em: EntityManager, planId: string): Promise<InstallmentPlanSummary | null> {
    if (!isUuid(planId)) return null;
    const plans = this.moduleRef.get(InstallmentPlans, { strict: true });
    const plan = await em.findOne(InstallmentPlan, { id: planId });
    if (!plan) return null;
    const installments = await plans.installments(em, plan.id);
    return {
      id: plan.id,
      customerId: plan.customerId,
      invoiceId: plan.invoiceId,
      paymentMethodId: plan.paymentMethodId,
      total: Money.of(plan.total, plan.currency),
      installments: installments.map((i) => ({ id: i.id, sequence: i.sequence, dueOn: i.dueOn, amount: i.money(), status: i.status })),
    };
  }

  /** Cancels an active plan (its scheduled installments are cancelled; what was paid stays paid), in the caller's transaction. */
  async cancelInstallmentPlan(em: EntityManager, planId: string, reason: string, actorUserId: string | null = null): Promise<void> {
    await this.moduleRef.get(InstallmentPlans, { strict: true }).cancel(em, planId, reason, actorUserId);
  }

  /**
   * Charges one installment due today right away through the daily job's own path (its own transactions: claimed and
   * committed first, then charged through Payments under `installment:<id>:attempt:1`), so the daily job never
   * charges it again. Answers what became of it: paid, failed, processing, unknown (Payments settles it later).
   */
  async chargeInstallmentNow(organizationId: string, installmentId: string): Promise<InstallmentChargeNowOutcome> {
    return this.moduleRef.get(InstallmentCharges, { strict: true }).chargeNow(organizationId, installmentId);
  }

  /** The equal parts of `total` over `count` installments, the first due today (the organization's today). */
  async installmentPreview(em: EntityManager, total: Money, count: number, interval: InstallmentInterval): Promise<InstallmentPreview> {
    const { today } = await this.context.of(em);
    return { firstDueOn: today, parts: equalInstallments(total, count, today, interval).map((p) => ({ sequence: p.sequence, dueOn: p.dueOn, amount: p.amount })) };
  }

  /**
   * Creates and issues many invoices at once in the caller's transaction (billing runs): the same rules, rows and
   * events as issueInvoice one by one, in a handful of multi-row statements (see BulkInvoices). All or nothing.
   * A command may carry the id its invoice gets. Summaries in the order of the commands. `options`: the customers
   * already read in this transaction, and whether the balance summaries are left to a later refreshBalancesBulk.
   */
  async issueInvoicesBulk(em: EntityManager, cmds: readonly BulkInvoiceCommand[], actorUserId: string | null = null, options: BulkIssueOptions = {}): Promise<InvoiceSummary[]> {
    return this.bulk.issue(em, cmds, actorUserId, options);
  }

  /**
   * The balance summaries of many customers recomputed from their invoices and written, in the caller's transaction
   * (their receivables locks taken first, sorted): for a bulk writer that deferred them (`refreshBalances: false`).
   */
  async refreshBalancesBulk(em: EntityManager, customerIds: readonly string[]): Promise<void> {
    await this.bulk.refreshBalances(em, customerIds);
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

  /** `unpaidInvoices` for many customers in one query (mass charges' chunks): each customer's list, oldest first. */
  async unpaidInvoicesOf(em: EntityManager, customerIds: readonly string[]): Promise<Map<string, InvoiceSummary[]>> {
    const out = new Map<string, InvoiceSummary[]>();
    const ids = [...new Set(customerIds)];
    if (!ids.length) return out;
    const invoices = await em.find(
      Invoice,
      { customerId: { $in: ids }, status: { $in: [...UNPAID_STATUSES] } },
      { orderBy: { dueDate: 'asc', sequence: 'asc', id: 'asc' } },
    );
    for (const summary of invoices.map(summaryOf)) {
      if (!summary.amountDue.isPositive()) continue;
      const list = out.get(summary.customerId);
      if (list) list.push(summary);
      else out.set(summary.customerId, [summary]);
    }
    return out;
  }

  /** `balance` for many customers in one statement (mass charges' chunks); customers without rows get zero balances. */
  async balancesOf(em: EntityManager, customerIds: readonly string[]): Promise<Map<string, CustomerBalance>> {
    const org = await this.context.of(em);
    return this.balances.computeMany(em, customerIds, org.currency, org.today);
  }

  /** What the customer owes now, their credit and their unallocated payments. */
  async balance(em: EntityManager, customerId: string): Promise<CustomerBalance> {
    const org = await this.context.of(em);
    return this.balances.compute(em, customerId, org.currency, org.today);
  }
}
