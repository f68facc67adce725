import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { ApplicationError, Clock, domainEvent } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { Wallet, WalletError } from '../../wallet/index.js';
import { addDays, dateIn } from '../domain/calendar.js';
import { Installment, InstallmentPlan, InstallmentPlanInvoice, InstallmentPlanStatus, InstallmentStatus } from '../domain/installment-plan.entity.js';
import { Invoice } from '../domain/invoice.entity.js';
import { InstallmentCharger, type InstallmentChargeRequest, type InstallmentChargeResult } from '../infrastructure/installment-charger.js';
import { InvoicingEvents, type InstallmentPaymentFailedPayload } from '../invoicing.events.js';
import { InstallmentPaymentOutcomes } from './installment-payment-outcomes.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext } from './organization-context.js';

/**
 * A PROCESSING installment the job has no answer for (no charge id: the worker died between the claim and the
 * charge, or the charge's answer was not known) is normally one another worker is charging right now. Only after this
 * long does a later run ask Payments again, with the same attempt (the same key: Payments answers with the payment
 * it already made, or makes it now). Well below a day, so the next daily run always asks.
 */
export const UNKNOWN_OUTCOME_GRACE_MS = 15 * 60_000;
/** The UPCOMING_INSTALLMENT reminder goes out once, from this many days before the due date. */
export const REMINDER_DAYS_BEFORE = 3;

/** Who on staff hears (in-app) of an installment that failed before any payment was made. */
const FAILURE_STAFF_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

export interface InstallmentRun {
  /** Installments paid in this run (charged now, or a replayed attempt that had succeeded). */
  paid: number;
  /** Charged and still processing (bank debits settle days later; the installment follows the payment's events). */
  processing: number;
  failed: number;
  /** The outcome is not known yet: Payments resolves it (its janitor) and the installment follows its events. */
  unknown: number;
  /** Installments cancelled because what they covered was settled otherwise. */
  settledOtherwise: number;
  reminded: number;
}

type Outcome = keyof Omit<InstallmentRun, 'reminded'> | 'none';
/** What became of one installment charged at once (`chargeNow`): the same outcomes as a daily run's. */
export type InstallmentChargeNowOutcome = Outcome;

interface Claim {
  installment: Installment;
  plan: InstallmentPlan;
}

/**
 * The daily installment charge job: each due installment is charged THROUGH PAYMENTS, exactly once, whatever happens.
 *
 * 1. Claim (transaction 1, committed before anything is charged): under the customer's receivables lock, a
 *    conditional UPDATE moves the installment SCHEDULED → PROCESSING, counts the attempt and fixes its idempotency
 *    key `installment:<id>:attempt:<n>`. Two runs (two workers, a retried job) race on that UPDATE and exactly one
 *    gets the row. Because the claim is committed first, a worker killed after it leaves a PROCESSING row — never a
 *    SCHEDULED one that the next run would charge again.
 * 2. Charge (no transaction open) through the InstallmentCharger port, which Payments implements: `Payments.charge`
 *    with purpose INSTALLMENT, purposeRefId the installment and that key. Payments writes the payment before the
 *    gateway call, records the money in Invoicing itself when it succeeds (the installment job records nothing),
 *    announces PaymentSucceeded / PaymentFailed, messages the customer and the office on a failure, and keeps a
 *    failed payment in the Payment Action Center with its retries.
 * 3. Follow: the answer moves the installment at once (succeeded → PAID, failed → FAILED with the reason, processing
 *    and unknown stay PROCESSING); everything later — a bank debit settling, an unknown outcome resolved by the
 *    payments janitor, a retry from the Action Center — arrives as Payments' events (InstallmentFollowsPayment).
 *
 * Safety net: a PROCESSING installment without a charge id older than UNKNOWN_OUTCOME_GRACE_MS (a worker killed
 * between 1 and 2, or an answer that was lost) is asked for again WITH THE SAME ATTEMPT — Payments replays the payment
 * made under that key, or makes it now. Never a new attempt: a new attempt would be a second charge.
 */
@Injectable()
export class InstallmentCharges {
  private readonly logger = new Logger(InstallmentCharges.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly context: OrganizationContext,
    private readonly charger: InstallmentCharger,
    private readonly outcomes: InstallmentPaymentOutcomes,
    private readonly wallet: Wallet,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly outbox: Outbox,
  ) {}

  /** Charges everything due on or before today (each organization's today at `now`) and asks again about lost answers. */
  async runDue(now: Date = this.clock.now()): Promise<InstallmentRun> {
    const run: InstallmentRun = { paid: 0, processing: 0, failed: 0, unknown: 0, settledOtherwise: 0, reminded: 0 };
    // A system read across organizations: which have work. An organization's today is at most one day after UTC's;
    // each organization then filters by its own date in its own scope.
    const horizon = addDays(now.toISOString().slice(0, 10), 1 + REMINDER_DAYS_BEFORE);
    const organizations = await this.orm.em
      .fork()
      .execute<{ organization_id: string }[]>(
        `select distinct organization_id from installment
          where (status = 'SCHEDULED' and due_on <= ?::date) or (status = 'PROCESSING' and gateway_charge_id is null)`,
        [horizon],
      );
    for (const { organization_id: organizationId } of organizations) {
      try {
        await this.runOrganization(organizationId, now, run);
      } catch (error) {
        // One organization's trouble (its settings, a bug) must not stop the others' installments.
        this.logger.error(`Installments of organization ${organizationId}: ${(error as Error).message}`, (error as Error).stack);
      }
    }
    if (run.paid || run.failed || run.unknown || run.processing) {
      this.logger.log(`Installments: ${run.paid} paid, ${run.processing} processing, ${run.failed} failed, ${run.unknown} unknown`);
    }
    return run;
  }

  private async runOrganization(organizationId: string, now: Date, run: InstallmentRun): Promise<void> {
    const em = this.scoped(organizationId);
    const org = await this.context.of(em);
    const today = dateIn(now, org.timeZone);

    // Earlier attempts without an answer first (same attempt, same key), so what they collect counts first.
    const unanswered = await em.find(
      Installment,
      { status: InstallmentStatus.PROCESSING, gatewayChargeId: null },
      { orderBy: { id: 'asc' } },
    );
    for (const installment of unanswered) {
      const inFlight = installment.claimedAt && now.getTime() - installment.claimedAt.getTime() < UNKNOWN_OUTCOME_GRACE_MS;
      if (inFlight) continue;
      this.count(run, await this.guarded(installment.id, 'none' as Outcome, () => this.askAgain(organizationId, installment.id, now)));
    }

    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const due = await em.find(
        Installment,
        { status: InstallmentStatus.SCHEDULED, dueOn: { $lte: today }, id: { $gt: after } },
        { orderBy: { id: 'asc' }, limit: 200, fields: ['id'] },
      );
      for (const { id } of due) this.count(run, await this.guarded(id, 'none' as Outcome, () => this.chargeDue(organizationId, id, now, today)));
      if (due.length < 200) break;
      after = due[due.length - 1]!.id;
    }

    run.reminded += await this.remind(organizationId, today);
  }

  /**
   * Charges one installment due today at once, through the daily run's own path (claim committed first → charge
   * through Payments under `installment:<id>:attempt:<n>` → follow the answer): the first part of a plan the customer
   * set up while waiting (a pay link's "Pay in 4"). The claim moves it SCHEDULED → PROCESSING before any money moves,
   * so the daily run never charges it again (an unknown outcome is asked for again with the same attempt, the same key).
   */
  async chargeNow(organizationId: string, installmentId: string, now: Date = this.clock.now()): Promise<InstallmentChargeNowOutcome> {
    const org = await this.context.of(this.scoped(organizationId));
    return this.chargeDue(organizationId, installmentId, now, dateIn(now, org.timeZone));
  }

  /** Claims one due installment, charges it through Payments and follows the answer. */
  private async chargeDue(organizationId: string, installmentId: string, now: Date, today: string): Promise<Outcome> {
    const claim = await this.claim(organizationId, installmentId, now, today);
    if (typeof claim === 'string') return claim;
    return this.charge(organizationId, claim.installment, claim.plan, now);
  }

  /** Step 1, its own committed transaction. Returns the claim, or what happened instead. */
  private async claim(organizationId: string, installmentId: string, now: Date, today: string): Promise<Claim | Outcome> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const found = await tx.findOne(Installment, { id: installmentId });
      if (!found) return 'none';
      // The customer's lock: staff skipping or rescheduling this installment, or a payment settling its invoice, wait.
      await lockCustomerReceivables(tx, found.customerId);
      const installment = (await tx.findOne(Installment, { id: installmentId }, { refresh: true }))!;
      if (installment.status !== InstallmentStatus.SCHEDULED || installment.dueOn > today) return 'none';
      const plan = (await tx.findOne(InstallmentPlan, { id: installment.planId }, { refresh: true }))!;
      if (plan.status !== InstallmentPlanStatus.ACTIVE) return 'none';

      // Paid by other means meanwhile (a cheque, a credit)? Never charge more than the covered invoices still owe,
      // less what this plan's attempts in progress are collecting.
      const available = (await this.stillOwed(tx, plan)) - (await this.inProgress(tx, plan.id));
      if (available <= 0n) {
        await this.settledOtherwise(tx, plan, now);
        return 'settledOtherwise';
      }
      if (available < installment.amount) {
        // The rest was paid otherwise: this installment takes what is left, the later ones are not needed.
        installment.amount = available;
        await tx.nativeUpdate(
          Installment,
          { planId: plan.id, status: InstallmentStatus.SCHEDULED, sequence: { $gt: installment.sequence } },
          { status: InstallmentStatus.CANCELLED, lastError: 'Not needed: the invoices were paid otherwise' },
        );
      }

      let methodId: string;
      try {
        methodId = (await this.wallet.chargeable(tx, plan.paymentMethodId, { requireConsent: true })).id;
      } catch (error) {
        if (!(error instanceof WalletError)) throw error;
        // Removed, expired, or consent revoked since the plan was made: charging it would be wrong, so it fails
        // now without a payment, and the customer and the office hear of it here (Payments never saw it).
        installment.attempts += 1;
        installment.status = InstallmentStatus.FAILED;
        installment.lastError = error.message;
        await this.announceUnchargedFailure(tx, plan, installment, error.message, 'METHOD_NOT_CHARGEABLE', now);
        await tx.flush();
        return 'failed';
      }
      await tx.flush();

      // The claim itself: conditional on the row still being SCHEDULED, so exactly one claimant wins even without
      // the lock; the attempt number and its key are fixed here and committed before any money moves.
      const claimed = await tx.execute<{ attempts: number }[]>(
        `update installment
            set status = 'PROCESSING', attempts = attempts + 1,
                idempotency_key = 'installment:' || id || ':attempt:' || (attempts + 1),
                claimed_at = ?, payment_method_id = ?, gateway_charge_id = null, last_error = null, updated_at = ?
          where id = ? and organization_id = ? and status = 'SCHEDULED'
          returning attempts`,
        [now, methodId, now, installment.id, organizationId],
      );
      if (claimed.length === 0) return 'none';
      const fresh = (await tx.findOne(Installment, { id: installment.id }, { refresh: true }))!;
      return { installment: fresh, plan };
    });
  }

  /** The safety net: a PROCESSING attempt without an answer is asked for again, with the same attempt number. */
  private async askAgain(organizationId: string, installmentId: string, now: Date): Promise<Outcome> {
    const em = this.scoped(organizationId);
    const installment = await em.findOne(Installment, { id: installmentId });
    if (!installment || installment.status !== InstallmentStatus.PROCESSING || installment.gatewayChargeId) return 'none';
    const plan = (await em.findOne(InstallmentPlan, { id: installment.planId }))!;
    return this.charge(organizationId, installment, plan, now);
  }

  /** Steps 2 and 3 for a claimed attempt (also the safety net's: same attempt, same key, same request). */
  private async charge(organizationId: string, installment: Installment, plan: InstallmentPlan, now: Date): Promise<Outcome> {
    const request = await this.chargeRequest(this.scoped(organizationId), installment, plan);
    let result: InstallmentChargeResult;
    try {
      result = await this.charger.chargeInstallment(organizationId, request);
    } catch (error) {
      // We do not know what happened (the database, a crash inside Payments): the row stays PROCESSING without a
      // charge id; Payments' janitor settles a payment it wrote, and a later run asks again with the same attempt.
      await this.noteUnknown(organizationId, installment.id, installment.attempts, error);
      return 'unknown';
    }
    return this.follow(organizationId, installment.id, installment.attempts, result, now);
  }

  /** Step 3: the charge's own answer, applied once (the row must still be at this attempt). */
  private async follow(organizationId: string, installmentId: string, attempt: number, result: InstallmentChargeResult, now: Date): Promise<Outcome> {
    const gatewayChargeId = result.gatewayChargeId;
    switch (result.outcome) {
      case 'succeeded': {
        const moved = await this.scoped(organizationId).transactional((tx) =>
          this.outcomes.follow(tx, installmentId, { kind: 'succeeded', gatewayChargeId }, attempt),
        );
        return moved === 'paid' ? 'paid' : 'none';
      }
      case 'failed':
        if (result.paymentId) {
          const moved = await this.scoped(organizationId).transactional((tx) =>
            this.outcomes.follow(tx, installmentId, { kind: 'failed', reason: result.failureMessage || 'The payment failed', gatewayChargeId }, attempt),
          );
          return moved === 'failed' ? 'failed' : 'none';
        }
        return this.failUncharged(organizationId, installmentId, attempt, result, now);
      case 'processing':
        await this.scoped(organizationId).nativeUpdate(
          Installment,
          { id: installmentId, status: InstallmentStatus.PROCESSING, attempts: attempt },
          { gatewayChargeId, lastError: null },
        );
        return 'processing';
      default:
        await this.noteUnknown(organizationId, installmentId, attempt, new Error('the payment gateway has not answered yet'));
        return 'unknown';
    }
  }

  /** Payments refused before any payment was made (the method, the invoices): FAILED, told here since no PaymentFailed follows. */
  private async failUncharged(organizationId: string, installmentId: string, attempt: number, result: InstallmentChargeResult, now: Date): Promise<Outcome> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const found = (await tx.findOne(Installment, { id: installmentId }))!;
      await lockCustomerReceivables(tx, found.customerId);
      const installment = (await tx.findOne(Installment, { id: installmentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
      if (installment.status !== InstallmentStatus.PROCESSING || installment.attempts !== attempt) return 'none';
      const plan = (await tx.findOne(InstallmentPlan, { id: installment.planId }, { refresh: true }))!;
      const reason = result.failureMessage || 'The payment could not be taken';
      installment.status = InstallmentStatus.FAILED;
      installment.lastError = reason;
      await this.announceUnchargedFailure(tx, plan, installment, reason, result.failureCode ?? 'NOT_CHARGED', now);
      await tx.flush();
      return 'failed';
    });
  }

  /**
   * The request of an attempt: derived only from what it pays, so asking again sends the same parameters. The
   * amount pays the covered invoices oldest due first, after what the plan's earlier installments still in progress
   * are collecting (they were allocated the same way), so two installments in flight never pay the same invoice.
   */
  private async chargeRequest(em: EntityManager, installment: Installment, plan: InstallmentPlan): Promise<InstallmentChargeRequest> {
    const earlier = await em.find(
      Installment,
      { planId: plan.id, status: InstallmentStatus.PROCESSING, sequence: { $lt: installment.sequence } },
      { refresh: true },
    );
    let skip = earlier.reduce((sum, i) => sum + i.amount, 0n);
    let left = installment.amount;
    const allocations: { invoiceId: string; amount: Money }[] = [];
    for (const invoice of await this.coveredInvoices(em, plan.id)) {
      let owed = invoice.amountDue().amount;
      const skipped = minBig(skip, owed);
      skip -= skipped;
      owed -= skipped;
      const take = minBig(left, owed);
      if (take <= 0n) continue;
      allocations.push({ invoiceId: invoice.id, amount: Money.of(take, installment.currency) });
      left -= take;
      if (left === 0n) break;
    }
    const count = await em.count(Installment, { planId: plan.id });
    return {
      installmentId: installment.id,
      attempt: installment.attempts,
      customerId: plan.customerId,
      paymentMethodId: installment.paymentMethodId ?? plan.paymentMethodId,
      amount: installment.money(),
      allocations,
      description: `Installment ${installment.sequence} of ${count}`,
    };
  }

  /**
   * A failure Payments never saw (no payment was made: the method could no longer be charged, or Payments refused
   * the request): InstallmentPaymentFailed, the customer's PAYMENT_FAILED message and the office's in-app notice.
   * Failures of a payment are announced by Payments (PaymentFailed with purpose INSTALLMENT, its messages, the
   * Action Center), not here.
   */
  private async announceUnchargedFailure(
    tx: EntityManager,
    plan: InstallmentPlan,
    installment: Installment,
    reason: string,
    failureCode: string,
    now: Date,
  ): Promise<void> {
    const invoiceIds = (await this.coveredInvoices(tx, plan.id)).map((i) => i.id);
    const methodId = installment.paymentMethodId ?? plan.paymentMethodId;
    this.outbox.record(
      tx,
      domainEvent<InstallmentPaymentFailedPayload>(InvoicingEvents.InstallmentPaymentFailed, plan.organizationId, {
        installmentId: installment.id,
        planId: plan.id,
        customerId: plan.customerId,
        invoiceIds,
        amount: installment.money().toJSON(),
        dueOn: installment.dueOn,
        attempt: installment.attempts,
        reason,
        failureCode,
        paymentMethodId: methodId,
      }),
    );
    const customer = await this.customers.get(tx, plan.customerId);
    const amount = installment.money();
    await this.notifications.notifyStaff(tx, {
      dedupeKey: `installment-failed:${installment.id}:${installment.attempts}`,
      roles: FAILURE_STAFF_ROLES,
      title: `Installment ${installment.sequence} of ${amount.format()} from ${customer?.name ?? 'a customer'} could not be charged`,
      body: reason,
    });
    if (!customer) return;
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (channels.length === 0) return; // the event and the office's notice still tell
    try {
      await this.notifications.notifyCustomer(tx, {
        dedupeKey: `installment-failed:${installment.id}:${installment.attempts}`,
        kind: MessageKind.PAYMENT_FAILED,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels,
        data: {
          customerName: customer.name,
          amount,
          date: now,
          reason,
          reference: `Installment ${installment.sequence}`,
          paymentMethod: await this.methodLabel(tx, methodId),
        },
      });
    } catch (error) {
      // A contact the provider refuses must not undo recording the failure (the event still reaches the office).
      if (!(error instanceof ApplicationError)) throw error;
      this.logger.warn(`No PAYMENT_FAILED message for installment ${installment.id}: ${error.message}`);
    }
  }

  /**
   * UPCOMING_INSTALLMENT reminders for what falls due within REMINDER_DAYS_BEFORE days: once per installment and due
   * date (the `remindedFor` mark, set in the message's transaction; the message's dedupe key backs it up). A
   * rescheduled installment is reminded again for its new date.
   */
  private async remind(organizationId: string, today: string): Promise<number> {
    const soon = await this.scoped(organizationId).find(
      Installment,
      { status: InstallmentStatus.SCHEDULED, dueOn: { $gt: today, $lte: addDays(today, REMINDER_DAYS_BEFORE) } },
      { orderBy: { dueOn: 'asc', id: 'asc' }, limit: 1000 },
    );
    let sent = 0;
    for (const candidate of soon.filter((i) => i.remindedFor !== i.dueOn)) {
      const reminded = await this.guarded(candidate.id, false, () =>
        this.scoped(organizationId).transactional(async (tx) => {
          const installment = await tx.findOne(Installment, { id: candidate.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
          if (!installment || installment.status !== InstallmentStatus.SCHEDULED || installment.remindedFor === installment.dueOn) return false;
          const plan = await tx.findOne(InstallmentPlan, { id: installment.planId });
          if (!plan || plan.status !== InstallmentPlanStatus.ACTIVE) return false;
          const customer = await this.customers.get(tx, plan.customerId);
          const channels = customer?.email ? [Channel.EMAIL] : customer?.phone ? [Channel.SMS] : [];
          if (!customer || channels.length === 0) return false;
          await this.notifications.notifyCustomer(tx, {
            dedupeKey: `installment-reminder:${installment.id}:${installment.dueOn}`,
            kind: MessageKind.UPCOMING_INSTALLMENT,
            recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
            channels,
            data: {
              customerName: customer.name,
              amount: installment.money(),
              // Noon UTC of the due date: the same calendar day in every time zone the renderer may show it in.
              dueDate: new Date(`${installment.dueOn}T12:00:00Z`),
              reference: `Installment ${installment.sequence}`,
              paymentMethod: await this.methodLabel(tx, plan.paymentMethodId),
            },
          });
          installment.remindedFor = installment.dueOn;
          await tx.flush();
          return true;
        }),
      );
      if (reminded) sent += 1;
    }
    return sent;
  }

  private async settledOtherwise(tx: EntityManager, plan: InstallmentPlan, now: Date): Promise<void> {
    await tx.nativeUpdate(
      Installment,
      { planId: plan.id, status: InstallmentStatus.SCHEDULED },
      { status: InstallmentStatus.CANCELLED, lastError: 'Not needed: the invoices were paid otherwise' },
    );
    if (await this.inProgress(tx, plan.id)) return; // completes when that attempt settles
    plan.status = InstallmentPlanStatus.COMPLETED;
    plan.completedAt = now;
    await tx.flush();
  }

  private async stillOwed(tx: EntityManager, plan: InstallmentPlan): Promise<bigint> {
    const invoices = await this.coveredInvoices(tx, plan.id);
    return invoices.reduce((sum, i) => sum + i.amountDue().amount, 0n);
  }

  private async inProgress(tx: EntityManager, planId: string): Promise<bigint> {
    const rows = await tx.find(Installment, { planId, status: InstallmentStatus.PROCESSING }, { refresh: true });
    return rows.reduce((sum, i) => sum + i.amount, 0n);
  }

  private async coveredInvoices(tx: EntityManager, planId: string): Promise<Invoice[]> {
    const rows = await tx.find(InstallmentPlanInvoice, { planId });
    if (rows.length === 0) return [];
    return tx.find(Invoice, { id: { $in: rows.map((r) => r.invoiceId) } }, { orderBy: { dueDate: 'asc', id: 'asc' }, refresh: true });
  }

  private async methodLabel(em: EntityManager, paymentMethodId: string): Promise<string> {
    try {
      return (await this.wallet.chargeable(em, paymentMethodId, { requireConsent: false })).label;
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      return 'Saved payment method';
    }
  }

  private async noteUnknown(organizationId: string, installmentId: string, attempt: number, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn(`Installment ${installmentId} attempt ${attempt}: outcome unknown (${message}); Payments settles it, a later run asks again with the same key`);
    await this.scoped(organizationId).nativeUpdate(
      Installment,
      { id: installmentId, status: InstallmentStatus.PROCESSING, attempts: attempt },
      { lastError: `Outcome unknown, being checked: ${message}` },
    );
  }

  /** One installment's failure (a bug, the database) is logged and leaves it for the next run; the others go on. */
  private async guarded<T>(installmentId: string, fallback: T, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.logger.error(`Installment ${installmentId}: ${(error as Error).message}`, (error as Error).stack);
      return fallback;
    }
  }

  private count(run: InstallmentRun, outcome: Outcome): void {
    if (outcome !== 'none') run[outcome] += 1;
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
