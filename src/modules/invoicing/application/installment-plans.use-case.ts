import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { type Connection, type PageArgs, paginate } from '../../../graphql/pagination.js';
import { CustomerDirectory } from '../../customers/index.js';
import { type ChargeableMethod, Wallet, WalletError, WalletErrorReason } from '../../wallet/index.js';
import { isCalendarDate } from '../domain/calendar.js';
import { Installment, InstallmentPlan, InstallmentPlanInvoice, InstallmentPlanStatus, InstallmentStatus } from '../domain/installment-plan.entity.js';
import {
  customInstallments,
  equalInstallments,
  type InstallmentInterval,
  InstallmentScheduleError,
  type PlannedInstallment,
} from '../domain/installment-schedule.js';
import { Invoice, InvoiceStatus, UNPAID_STATUSES } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { Invoices } from './invoices.use-case.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext } from './organization-context.js';

export const MAX_CANCEL_REASON = 2000;

export interface CreateInstallmentPlanCommand {
  /** A plan over this invoice ... */
  invoiceId?: string | null;
  /** ... or over everything this customer owes (invoices not already under an active plan). */
  customerId?: string | null;
  paymentMethodId: string;
  /** Equal parts: count, first date, interval ... */
  count?: number | null;
  firstDueOn?: string | null;
  interval?: InstallmentInterval | null;
  /** ... or custom parts (amounts in the organization's currency, minor units). */
  installments?: { dueOn: string; amount: bigint }[] | null;
}

/** An installment still to be charged, with its plan and the label of the method it will be charged to. */
export interface UpcomingPayment {
  installment: Installment;
  plan: InstallmentPlan;
  /** "Visa ending in 4242"; null when the method can no longer be charged (see `paymentMethodProblem`). */
  paymentMethodLabel: string | null;
  paymentMethodProblem: string | null;
}

/** Statuses of installments that are still to be paid: listed as upcoming payments. */
export const UPCOMING_STATUSES: readonly InstallmentStatus[] = [InstallmentStatus.SCHEDULED, InstallmentStatus.PROCESSING];

/**
 * Installment plans: creating one over an invoice or a balance, and the staff actions on it (change the method, skip
 * or reschedule one installment, cancel). Every change takes the customer's receivables lock first (the daily charge
 * job takes it too when it claims an installment), and re-reads the rows after taking it, so a staff action and a
 * claim never both act on the same SCHEDULED installment.
 */
@Injectable()
export class InstallmentPlans {
  constructor(
    private readonly invoices: Invoices,
    private readonly customers: CustomerDirectory,
    private readonly wallet: Wallet,
    private readonly context: OrganizationContext,
  ) {}

  async create(em: EntityManager, cmd: CreateInstallmentPlanCommand, actorUserId: string | null): Promise<InstallmentPlan> {
    const org = await this.context.of(em);
    this.checkShape(cmd, org.today);

    // What is owed, read under the customer's lock: a payment racing with this plan cannot change it underneath.
    let customerId: string;
    let covered: Invoice[];
    if (cmd.invoiceId) {
      const invoice = await this.invoices.lockInvoice(em, cmd.invoiceId);
      customerId = invoice.customerId;
      if (!invoice.isIssued() || invoice.status === InvoiceStatus.VOID) {
        throw new InvoicingError(InvoicingErrorReason.INVOICE_NOT_ISSUED, `${invoice.label()} is not an issued, unpaid invoice`, 'invoiceId');
      }
      const existing = await this.activePlanCovering(em, [invoice.id]);
      if (existing.size) {
        throw new InvoicingError(
          InvoicingErrorReason.INSTALLMENT_PLAN_EXISTS,
          `${invoice.label()} is already paid by installment plan ${existing.get(invoice.id)}; cancel that plan first`,
          'invoiceId',
          { planId: existing.get(invoice.id) },
        );
      }
      if (!invoice.amountDue().isPositive()) {
        throw new InvoicingError(InvoicingErrorReason.NOTHING_OWED, `${invoice.label()} owes nothing`, 'invoiceId');
      }
      covered = [invoice];
    } else {
      customerId = cmd.customerId!;
      if (!isUuid(customerId) || !(await this.customers.get(em, customerId))) {
        throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${customerId} was not found`);
      }
      await lockCustomerReceivables(em, customerId);
      const unpaid = await em.find(
        Invoice,
        { customerId, status: { $in: [...UNPAID_STATUSES] } },
        { orderBy: { dueDate: 'asc', id: 'asc' }, refresh: true },
      );
      const underPlan = await this.activePlanCovering(em, unpaid.map((i) => i.id));
      covered = unpaid.filter((i) => !underPlan.has(i.id) && i.amountDue().isPositive());
      if (covered.length === 0) {
        throw new InvoicingError(
          InvoicingErrorReason.NOTHING_OWED,
          underPlan.size
            ? 'Everything this customer owes is already under an active installment plan'
            : 'This customer owes nothing',
          'customerId',
        );
      }
    }

    const method = await this.chargeableFor(em, cmd.paymentMethodId, customerId);
    const total = Money.sum(
      covered.map((i) => i.amountDue()),
      org.currency,
    );
    const schedule = this.schedule(cmd, total);

    const plan = em.create(InstallmentPlan, {
      customerId,
      invoiceId: cmd.invoiceId ?? null,
      paymentMethodId: method.id,
      total: total.amount,
      currency: total.currency,
      createdBy: actorUserId,
    } as InstallmentPlan);
    em.persist(plan);
    for (const invoice of covered) {
      em.persist(em.create(InstallmentPlanInvoice, { planId: plan.id, invoiceId: invoice.id, amount: invoice.amountDue().amount } as InstallmentPlanInvoice));
    }
    for (const part of schedule) {
      em.persist(
        em.create(Installment, {
          planId: plan.id,
          customerId,
          sequence: part.sequence,
          dueOn: part.dueOn,
          amount: part.amount.amount,
          currency: part.amount.currency,
        } as Installment),
      );
    }
    await em.flush();
    return plan;
  }

  /**
   * Charges the plan's future installments to another saved method (with consent). An installment already
   * PROCESSING keeps the method its charge was sent to: its outcome is resolved with that charge's key.
   */
  async changeMethod(em: EntityManager, planId: string, paymentMethodId: string): Promise<InstallmentPlan> {
    const plan = await this.lockPlan(em, planId);
    this.requireActive(plan);
    const method = await this.chargeableFor(em, paymentMethodId, plan.customerId);
    plan.paymentMethodId = method.id;
    await em.flush();
    return plan;
  }

  /**
   * Skips a scheduled installment: its amount moves onto the next SCHEDULED installment of the plan (so the plan
   * still adds up to its total). The last scheduled installment cannot be skipped — there is nothing to carry its
   * amount; reschedule it or cancel the plan instead.
   */
  async skip(em: EntityManager, installmentId: string): Promise<Installment> {
    const { installment, plan } = await this.lockInstallment(em, installmentId);
    this.requireActive(plan);
    this.requireScheduled(installment, 'skipped');
    const next = await em.findOne(
      Installment,
      { planId: plan.id, status: InstallmentStatus.SCHEDULED, sequence: { $gt: installment.sequence } },
      { orderBy: { sequence: 'asc' } },
    );
    if (!next) {
      throw new InvoicingError(
        InvoicingErrorReason.LAST_INSTALLMENT_NOT_SKIPPABLE,
        `Installment ${installment.sequence} is the plan's last scheduled installment: no later installment can take its ` +
          `${installment.money().format('en-US')}. Reschedule it or cancel the plan instead.`,
        'installmentId',
      );
    }
    next.amount += installment.amount;
    installment.status = InstallmentStatus.SKIPPED;
    await em.flush();
    return installment;
  }

  /** Moves a scheduled installment to another day: not in the past, and still between its neighbours. */
  async reschedule(em: EntityManager, installmentId: string, dueOn: string): Promise<Installment> {
    if (!isCalendarDate(dueOn)) throw InvoicingError.invalid([{ field: 'dueOn', message: `must be a date as YYYY-MM-DD, got "${dueOn}"` }]);
    const { installment, plan } = await this.lockInstallment(em, installmentId);
    this.requireActive(plan);
    this.requireScheduled(installment, 'rescheduled');
    const org = await this.context.of(em);
    if (dueOn < org.today) throw InvoicingError.invalid([{ field: 'dueOn', message: `${dueOn} is in the past (today is ${org.today})` }]);
    const others = await em.find(
      Installment,
      { planId: plan.id, id: { $ne: installment.id }, status: { $nin: [InstallmentStatus.SKIPPED, InstallmentStatus.CANCELLED] } },
      { orderBy: { sequence: 'asc' } },
    );
    const before = others.filter((i) => i.sequence < installment.sequence).at(-1);
    const after = others.find((i) => i.sequence > installment.sequence);
    if (before && dueOn <= before.dueOn) {
      throw InvoicingError.invalid([
        { field: 'dueOn', message: `must be after installment ${before.sequence}'s due date ${before.dueOn}, to keep the plan in date order` },
      ]);
    }
    if (after && dueOn >= after.dueOn) {
      throw InvoicingError.invalid([
        { field: 'dueOn', message: `must be before installment ${after.sequence}'s due date ${after.dueOn}, to keep the plan in date order` },
      ]);
    }
    installment.dueOn = dueOn;
    await em.flush();
    return installment;
  }

  /**
   * Cancels the plan: its SCHEDULED installments are CANCELLED; what was paid stays paid and the invoices owe the
   * rest as usual. An installment already PROCESSING (a bank debit settling, an outcome being resolved) cannot be
   * called back from the gateway: the daily job still settles it, and the money is recorded if it arrives.
   */
  async cancel(em: EntityManager, planId: string, reason: string, actorUserId: string | null): Promise<InstallmentPlan> {
    const why = reason?.trim() ?? '';
    if (!why) throw InvoicingError.invalid([{ field: 'reason', message: 'say why the plan is cancelled' }]);
    if (why.length > MAX_CANCEL_REASON) throw InvoicingError.invalid([{ field: 'reason', message: `must be at most ${MAX_CANCEL_REASON} characters` }]);
    const plan = await this.lockPlan(em, planId);
    this.requireActive(plan);
    const org = await this.context.of(em);
    await em.nativeUpdate(Installment, { planId: plan.id, status: InstallmentStatus.SCHEDULED }, { status: InstallmentStatus.CANCELLED });
    plan.status = InstallmentPlanStatus.CANCELLED;
    plan.cancelledAt = org.now;
    plan.cancelledBy = actorUserId;
    plan.cancelReason = why;
    await em.flush();
    return plan;
  }

  /** The customer's installments still to be charged, in date order, with their plan and method label. */
  async upcoming(em: EntityManager, customerId: string, args: PageArgs): Promise<Connection<UpcomingPayment> & { counts: Map<string, number> }> {
    if (!isUuid(customerId) || !(await this.customers.get(em, customerId))) {
      throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${customerId} was not found`);
    }
    const page = await paginate(em, Installment, { customerId, status: { $in: [...UPCOMING_STATUSES] } }, args, {
      dueOn: 'asc',
      sequence: 'asc',
      id: 'asc',
    });
    const planIds = [...new Set(page.nodes.map((i) => i.planId))];
    const plans = new Map((planIds.length ? await em.find(InstallmentPlan, { id: { $in: planIds } }) : []).map((p) => [p.id, p]));
    const labels = await this.methodLabels(
      em,
      page.nodes.map((i) => i.paymentMethodId ?? plans.get(i.planId)!.paymentMethodId),
    );
    const counts = new Map<string, number>();
    if (planIds.length) {
      const rows = await em.execute<{ plan_id: string; n: string }[]>(
        `select plan_id, count(*)::text as n from installment where organization_id = ? and plan_id in (?) and status not in ('SKIPPED', 'CANCELLED') group by plan_id`,
        [currentTenant(em), planIds],
      );
      for (const r of rows) counts.set(r.plan_id, Number(r.n));
    }
    const toUpcoming = (installment: Installment): UpcomingPayment => {
      const plan = plans.get(installment.planId)!;
      const method = labels.get(installment.paymentMethodId ?? plan.paymentMethodId)!;
      return { installment, plan, paymentMethodLabel: method.label, paymentMethodProblem: method.problem };
    };
    return {
      edges: page.edges.map((e) => ({ cursor: e.cursor, node: toUpcoming(e.node) })),
      nodes: page.nodes.map(toUpcoming),
      pageInfo: page.pageInfo,
      totalCount: page.totalCount,
      counts,
    };
  }

  /** The active plan covering an invoice, if any. */
  async activePlanFor(em: EntityManager, invoiceId: string): Promise<InstallmentPlan | null> {
    const planId = (await this.activePlanCovering(em, [invoiceId])).get(invoiceId);
    return planId ? em.findOne(InstallmentPlan, { id: planId }) : null;
  }

  async plan(em: EntityManager, planId: string): Promise<InstallmentPlan> {
    if (!isUuid(planId)) throw this.planNotFound(planId);
    const plan = await em.findOne(InstallmentPlan, { id: planId });
    if (!plan) throw this.planNotFound(planId);
    return plan;
  }

  async installments(em: EntityManager, planId: string): Promise<Installment[]> {
    return em.find(Installment, { planId }, { orderBy: { sequence: 'asc' } });
  }

  async coveredInvoiceIds(em: EntityManager, planId: string): Promise<string[]> {
    const rows = await em.find(InstallmentPlanInvoice, { planId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return rows.map((r) => r.invoiceId);
  }

  /** Labels of saved methods, for listing (a method no longer chargeable gets its reason instead). */
  async methodLabels(em: EntityManager, ids: string[]): Promise<Map<string, { label: string | null; problem: string | null }>> {
    const labels = new Map<string, { label: string | null; problem: string | null }>();
    for (const id of new Set(ids)) {
      try {
        labels.set(id, { label: (await this.wallet.chargeable(em, id, { requireConsent: true })).label, problem: null });
      } catch (error) {
        if (!(error instanceof WalletError)) throw error;
        labels.set(id, { label: null, problem: error.message });
      }
    }
    return labels;
  }

  /** The saved method, chargeable without the customer present, and the customer's own. */
  private async chargeableFor(em: EntityManager, paymentMethodId: string, customerId: string): Promise<ChargeableMethod> {
    let method: ChargeableMethod;
    try {
      if (!isUuid(paymentMethodId)) throw WalletError.notFound(paymentMethodId);
      method = await this.wallet.chargeable(em, paymentMethodId, { requireConsent: true });
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      if (error.reason === WalletErrorReason.NOT_FOUND) {
        throw InvoicingError.invalid([{ field: 'paymentMethodId', message: `Payment method ${paymentMethodId} was not found` }]);
      }
      throw new InvoicingError(InvoicingErrorReason.PAYMENT_METHOD_NOT_CHARGEABLE, error.message, 'paymentMethodId', {
        walletReason: error.reason,
      });
    }
    if (method.customerId !== customerId) {
      throw new InvoicingError(
        InvoicingErrorReason.CUSTOMER_MISMATCH,
        `${method.label} belongs to another customer; use one of this customer's saved methods`,
        'paymentMethodId',
      );
    }
    return method;
  }

  /** Input that can be checked before reading anything: which target, which schedule, no past dates. */
  private checkShape(cmd: CreateInstallmentPlanCommand, today: string): void {
    const problems: FieldProblem[] = [];
    if (!!cmd.invoiceId === !!cmd.customerId) {
      problems.push({ field: 'invoiceId', message: 'give either invoiceId (a plan over one invoice) or customerId (over their balance), not both' });
    }
    const equal = cmd.count !== undefined && cmd.count !== null;
    const custom = !!cmd.installments?.length;
    if (equal === custom) {
      problems.push({ field: 'installments', message: 'give either count, firstDueOn and interval (equal parts) or installments (custom parts)' });
    }
    if (equal) {
      if (!cmd.firstDueOn) problems.push({ field: 'firstDueOn', message: 'is required with count' });
      else if (isCalendarDate(cmd.firstDueOn) && cmd.firstDueOn < today) {
        problems.push({ field: 'firstDueOn', message: `${cmd.firstDueOn} is in the past (today is ${today})` });
      }
      if (!cmd.interval) problems.push({ field: 'interval', message: 'is required with count' });
    }
    cmd.installments?.forEach((p, i) => {
      if (isCalendarDate(p.dueOn) && p.dueOn < today) {
        problems.push({ field: `installments.${i}.dueOn`, message: `${p.dueOn} is in the past (today is ${today})` });
      }
    });
    if (cmd.invoiceId && !isUuid(cmd.invoiceId)) throw InvoicingError.invoiceNotFound(cmd.invoiceId);
    if (problems.length) throw InvoicingError.invalid(problems);
  }

  private schedule(cmd: CreateInstallmentPlanCommand, total: Money): PlannedInstallment[] {
    try {
      if (cmd.installments?.length) {
        return customInstallments(
          total,
          cmd.installments.map((p) => ({ dueOn: p.dueOn, amount: Money.of(p.amount, total.currency) })),
        );
      }
      return equalInstallments(total, cmd.count!, cmd.firstDueOn!, cmd.interval!);
    } catch (error) {
      if (!(error instanceof InstallmentScheduleError)) throw error;
      const message = error.message.slice(error.field.length + 2);
      if (error.field === 'installments' && message.includes('difference')) {
        throw new InvoicingError(InvoicingErrorReason.INSTALLMENTS_DO_NOT_ADD_UP, `The installments ${message}`, [
          { field: 'installments', message },
        ]);
      }
      throw InvoicingError.invalid([{ field: error.field, message }]);
    }
  }

  /** Invoice id → id of the active plan covering it, for those of `invoiceIds` under one. */
  async activePlanCovering(em: EntityManager, invoiceIds: string[]): Promise<Map<string, string>> {
    if (invoiceIds.length === 0) return new Map();
    const rows = await em.find(InstallmentPlanInvoice, { invoiceId: { $in: invoiceIds } });
    if (rows.length === 0) return new Map();
    const active = await em.find(InstallmentPlan, { id: { $in: rows.map((r) => r.planId) }, status: InstallmentPlanStatus.ACTIVE });
    const activeIds = new Set(active.map((p) => p.id));
    return new Map(rows.filter((r) => activeIds.has(r.planId)).map((r) => [r.invoiceId, r.planId]));
  }

  /** The plan, read again after taking its customer's lock. Another organization's id is NOT_FOUND. */
  private async lockPlan(em: EntityManager, planId: string): Promise<InstallmentPlan> {
    const found = await this.plan(em, planId);
    await lockCustomerReceivables(em, found.customerId);
    return (await em.findOne(InstallmentPlan, { id: planId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
  }

  private async lockInstallment(em: EntityManager, installmentId: string): Promise<{ installment: Installment; plan: InstallmentPlan }> {
    const notFound = () => new InvoicingError(InvoicingErrorReason.INSTALLMENT_NOT_FOUND, `Installment ${installmentId} was not found`);
    if (!isUuid(installmentId)) throw notFound();
    const found = await em.findOne(Installment, { id: installmentId });
    if (!found) throw notFound();
    const plan = await this.lockPlan(em, found.planId);
    // Fresh after the lock: the charge job may have claimed it a moment ago.
    await em.find(Installment, { planId: plan.id }, { refresh: true });
    const installment = (await em.findOne(Installment, { id: installmentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
    return { installment, plan };
  }

  private requireActive(plan: InstallmentPlan): void {
    if (plan.status !== InstallmentPlanStatus.ACTIVE) {
      throw new InvoicingError(InvoicingErrorReason.INSTALLMENT_PLAN_NOT_ACTIVE, `The installment plan is ${plan.status.toLowerCase()}`);
    }
  }

  private requireScheduled(installment: Installment, verb: string): void {
    if (installment.status !== InstallmentStatus.SCHEDULED) {
      throw new InvoicingError(
        InvoicingErrorReason.INSTALLMENT_NOT_SCHEDULED,
        `Installment ${installment.sequence} is ${installment.status.toLowerCase()}; only a scheduled installment can be ${verb}`,
        'installmentId',
      );
    }
  }

  private planNotFound(id: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.INSTALLMENT_PLAN_NOT_FOUND, `Installment plan ${id} was not found`);
  }
}
