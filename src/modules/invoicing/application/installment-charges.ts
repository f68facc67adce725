import { Injectable, Logger, Optional } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, domainEvent } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { type CreateCharge, type GatewayCharge, GatewayError, GatewayErrorCode } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { type ChargeableMethod, Wallet, WalletError } from '../../wallet/index.js';
import { addDays, dateIn } from '../domain/calendar.js';
import { Installment, InstallmentPlan, InstallmentPlanInvoice, InstallmentPlanStatus, InstallmentStatus } from '../domain/installment-plan.entity.js';
import { Invoice } from '../domain/invoice.entity.js';
import { PaymentSource } from '../domain/received-payment.entity.js';
import { failureReason, InstallmentCharger } from '../infrastructure/installment-charger.js';
import { InvoicingEvents, type InstallmentPaymentFailedPayload } from '../invoicing.events.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext } from './organization-context.js';
import { Reconciliation } from './reconciliation.facade.js';

/**
 * A PROCESSING installment without a charge id is normally one another worker is charging right now (claimed, the
 * gateway call in flight). Only after this long is it treated as abandoned (the worker died, or the gateway did not
 * answer) and resolved by asking again with the same key. Well below a day, so the next daily run always resolves it.
 */
export const UNKNOWN_OUTCOME_GRACE_MS = 15 * 60_000;
/** The UPCOMING_INSTALLMENT reminder goes out once, from this many days before the due date. */
export const REMINDER_DAYS_BEFORE = 3;

export interface InstallmentRun {
  /** Installments paid in this run (charged now, a settled bank debit, or a resolved unknown outcome). */
  paid: number;
  /** Charged and still processing (bank debits settle days later). */
  processing: number;
  failed: number;
  /** The gateway's answer is unknown (outage): resolved by a later run with the same key. */
  unknown: number;
  /** Installments cancelled because what they covered was settled otherwise. */
  settledOtherwise: number;
  reminded: number;
}

type Outcome = keyof Omit<InstallmentRun, 'reminded'> | 'none';

interface Claim {
  installment: Installment;
  plan: InstallmentPlan;
  method: ChargeableMethod;
}

/**
 * The daily installment charge job. EXACTLY ONCE per installment, whatever happens, in three steps:
 *
 * 1. Claim (transaction 1, committed before the gateway is called): under the customer's receivables lock, a
 *    conditional UPDATE moves the installment SCHEDULED → PROCESSING, counts the attempt and fixes its idempotency
 *    key `installment:<id>:attempt:<n>`. Two runs (two workers, a retried job) race on that UPDATE and exactly one
 *    gets the row: the other sees 0 rows and moves on. Because the claim is committed first, a worker killed after
 *    it leaves a PROCESSING row with no charge id — never a SCHEDULED one that the next run would charge again.
 * 2. Charge (no transaction open: a slow gateway holds no locks) with that key. A decline is an answer (`failed`);
 *    an outage is GatewayError UNAVAILABLE: the outcome is unknown and the row stays PROCESSING without a charge id.
 * 3. Record (transaction 2): under the lock again, and only if the row is still PROCESSING at the same attempt (so
 *    two resolvers record once): PAID and the money recorded through Reconciliation (the invoices are paid down);
 *    `processing` keeps the charge id for later runs to ask getCharge; `failed` is FAILED with the gateway's reason,
 *    InstallmentPaymentFailed is published and the customer gets PAYMENT_FAILED.
 *
 * A later run resolves PROCESSING rows: with a charge id by getCharge; without one (outage, crash between 1 and 2,
 * or between 2 and 3) by calling createCharge AGAIN WITH THE SAME KEY and the same parameters — the gateway returns
 * the first charge if there was one, or makes it now. Never a new key: a new key is a second charge.
 */
@Injectable()
export class InstallmentCharges {
  private readonly logger = new Logger(InstallmentCharges.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly context: OrganizationContext,
    private readonly charger: InstallmentCharger,
    private readonly wallet: Wallet,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly outbox: Outbox,
    // Provided by the reconciliation part; without it, paid installments are not recorded against the invoices.
    @Optional() private readonly reconciliation?: Reconciliation,
  ) {}

  /** Charges everything due on or before today (each organization's today at `now`) and resolves earlier attempts. */
  async runDue(now: Date = this.clock.now()): Promise<InstallmentRun> {
    const run: InstallmentRun = { paid: 0, processing: 0, failed: 0, unknown: 0, settledOtherwise: 0, reminded: 0 };
    // A system read across organizations: which have work. An organization's today is at most one day after UTC's;
    // each organization then filters by its own date in its own scope.
    const horizon = addDays(now.toISOString().slice(0, 10), 1 + REMINDER_DAYS_BEFORE);
    const organizations = await this.orm.em
      .fork()
      .execute<{ organization_id: string }[]>(
        `select distinct organization_id from installment
          where (status = 'SCHEDULED' and due_on <= ?::date) or status = 'PROCESSING'`,
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
    if (run.paid || run.failed || run.unknown) {
      this.logger.log(`Installments: ${run.paid} paid, ${run.processing} processing, ${run.failed} failed, ${run.unknown} unknown`);
    }
    return run;
  }

  private async runOrganization(organizationId: string, now: Date, run: InstallmentRun): Promise<void> {
    const em = this.scoped(organizationId);
    const org = await this.context.of(em);
    const today = dateIn(now, org.timeZone);

    // Earlier attempts first, so what they collected counts before anything new is charged.
    const processing = await em.find(Installment, { status: InstallmentStatus.PROCESSING }, { orderBy: { id: 'asc' } });
    for (const installment of processing) {
      const inFlight = !installment.gatewayChargeId && installment.claimedAt && now.getTime() - installment.claimedAt.getTime() < UNKNOWN_OUTCOME_GRACE_MS;
      if (inFlight) continue;
      this.count(run, await this.guarded(installment.id, 'none' as Outcome, () => this.resolve(organizationId, installment.id, now)));
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

  /** Claims one due installment, charges it and records the outcome. */
  private async chargeDue(organizationId: string, installmentId: string, now: Date, today: string): Promise<Outcome> {
    const claim = await this.claim(organizationId, installmentId, now, today);
    if (typeof claim === 'string') return claim;
    return this.chargeAndRecord(organizationId, claim, now);
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

      let method: ChargeableMethod;
      try {
        method = await this.wallet.chargeable(tx, plan.paymentMethodId, { requireConsent: true });
      } catch (error) {
        if (!(error instanceof WalletError)) throw error;
        // Removed, expired, or consent revoked since the plan was made: charging it would be wrong, so it fails
        // now without a gateway call, and the office / dunning hear of it like a decline.
        installment.attempts += 1;
        installment.status = InstallmentStatus.FAILED;
        installment.lastError = error.message;
        await this.announceFailure(tx, plan, installment, error.message, 'METHOD_NOT_CHARGEABLE', null, now);
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
        [now, method.id, now, installment.id, organizationId],
      );
      if (claimed.length === 0) return 'none';
      const fresh = (await tx.findOne(Installment, { id: installment.id }, { refresh: true }))!;
      return { installment: fresh, plan, method };
    });
  }

  /** Steps 2 and 3 for a claimed attempt (also used to retry an unknown outcome: same key, same request). */
  private async chargeAndRecord(organizationId: string, claim: Claim, now: Date): Promise<Outcome> {
    const { installment } = claim;
    let charge: GatewayCharge;
    try {
      charge = await this.charger.charge(this.chargeRequest(organizationId, claim));
    } catch (error) {
      if (error instanceof GatewayError && !error.retryable) {
        // A definitive refusal thrown rather than returned (e.g. the method was detached at the gateway).
        return this.record(organizationId, installment.id, installment.attempts, { failed: { code: error.code, message: error.message } }, now);
      }
      // UNAVAILABLE or anything unexpected: we do not know whether money moved. The row stays PROCESSING without a
      // charge id; a later run asks again with the same key.
      await this.noteUnknown(organizationId, installment.id, installment.attempts, error);
      return 'unknown';
    }
    return this.record(organizationId, installment.id, installment.attempts, { charge }, now);
  }

  /** A later run's look at a PROCESSING installment. */
  private async resolve(organizationId: string, installmentId: string, now: Date): Promise<Outcome> {
    const em = this.scoped(organizationId);
    const installment = await em.findOne(Installment, { id: installmentId });
    if (!installment || installment.status !== InstallmentStatus.PROCESSING) return 'none';
    if (installment.gatewayChargeId) {
      let charge: GatewayCharge;
      try {
        charge = await this.charger.status(installment.gatewayChargeId);
      } catch (error) {
        await this.noteUnknown(organizationId, installment.id, installment.attempts, error);
        return 'unknown';
      }
      return this.record(organizationId, installment.id, installment.attempts, { charge }, now);
    }
    // Outcome unknown: the same request again, with the same key. The method is read without the consent check on
    // purpose — this is the attempt consented to when it was claimed, not a new charge.
    const plan = (await em.findOne(InstallmentPlan, { id: installment.planId }))!;
    let method: ChargeableMethod;
    try {
      method = await this.wallet.chargeable(em, installment.paymentMethodId ?? plan.paymentMethodId, { requireConsent: false });
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      await this.noteUnknown(organizationId, installment.id, installment.attempts, error);
      return 'unknown';
    }
    return this.chargeAndRecord(organizationId, { installment, plan, method }, now);
  }

  /** Step 3: records a gateway answer, once (the row must still be PROCESSING at this attempt). */
  private async record(
    organizationId: string,
    installmentId: string,
    attempt: number,
    answer: { charge: GatewayCharge } | { failed: { code: GatewayErrorCode; message: string } },
    now: Date,
  ): Promise<Outcome> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const found = (await tx.findOne(Installment, { id: installmentId }))!;
      await lockCustomerReceivables(tx, found.customerId);
      const installment = (await tx.findOne(Installment, { id: installmentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
      if (installment.status !== InstallmentStatus.PROCESSING || installment.attempts !== attempt) return 'none'; // recorded by another run
      const plan = (await tx.findOne(InstallmentPlan, { id: installment.planId }, { refresh: true }))!;
      const charge = 'charge' in answer ? answer.charge : null;
      if (charge) installment.gatewayChargeId = charge.id;

      if (charge?.status === 'succeeded') {
        installment.status = InstallmentStatus.PAID;
        installment.paidAt = now;
        installment.lastError = null;
        await tx.flush();
        await this.recordPayment(tx, plan, installment, now);
        await this.completeIfDone(tx, plan, now);
        await tx.flush();
        return 'paid';
      }
      if (charge?.status === 'processing') {
        installment.lastError = null;
        await tx.flush();
        return 'processing';
      }
      const failure =
        'failed' in answer
          ? answer.failed
          : charge!.status === 'requires_action'
            ? { code: GatewayErrorCode.AUTHENTICATION_REQUIRED, message: '' }
            : { code: charge!.failure?.code ?? GatewayErrorCode.CARD_DECLINED, message: charge!.failure?.message ?? '' };
      const reason = failureReason(failure.code, failure.message);
      installment.status = InstallmentStatus.FAILED;
      installment.lastError = reason;
      await this.announceFailure(tx, plan, installment, reason, failure.code, charge, now);
      await tx.flush();
      return 'failed';
    });
  }

  /** The request of an attempt: derived only from what it pays, so a retry sends exactly the same parameters. */
  private chargeRequest(organizationId: string, { installment, plan, method }: Claim): CreateCharge {
    return {
      gatewayCustomerId: method.gatewayCustomerId,
      paymentMethodId: method.gatewayPaymentMethodId,
      amount: installment.amount,
      currency: installment.currency,
      description: `Installment ${installment.sequence} of plan ${plan.id}`,
      metadata: { organizationId, customerId: plan.customerId, planId: plan.id, installmentId: installment.id },
      offSession: true,
      idempotencyKey: installment.idempotencyKey!,
    };
  }

  /**
   * The money, recorded as a received payment (its id is the installment's, so recording twice is once) allocated
   * to the covered invoices, oldest due first, up to what each still owes.
   */
  private async recordPayment(tx: EntityManager, plan: InstallmentPlan, installment: Installment, now: Date): Promise<void> {
    if (!this.reconciliation) {
      this.logger.warn(`Installment ${installment.id} was paid but Reconciliation is not provided: the payment is not recorded`);
      return;
    }
    const invoices = await this.coveredInvoices(tx, plan.id);
    let left = installment.amount;
    const allocations: { invoiceId: string; amount: Money }[] = [];
    for (const invoice of invoices) {
      const take = minBig(left, invoice.amountDue().amount);
      if (take <= 0n) continue;
      allocations.push({ invoiceId: invoice.id, amount: Money.of(take, installment.currency) });
      left -= take;
      if (left === 0n) break;
    }
    await this.reconciliation.recordPayment(tx, {
      paymentId: installment.id,
      customerId: plan.customerId,
      amount: installment.money(),
      method: await this.methodLabel(tx, installment.paymentMethodId ?? plan.paymentMethodId),
      reference: installment.gatewayChargeId,
      receivedAt: now,
      allocations,
      source: PaymentSource.PAYMENTS,
    });
  }

  private async announceFailure(
    tx: EntityManager,
    plan: InstallmentPlan,
    installment: Installment,
    reason: string,
    failureCode: string,
    charge: GatewayCharge | null,
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
        failureCode: charge?.failure?.gatewayCode ? `${failureCode}:${charge.failure.gatewayCode}` : failureCode,
        paymentMethodId: methodId,
      }),
    );
    const customer = await this.customers.get(tx, plan.customerId);
    if (!customer) return;
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (channels.length === 0) return; // the event still tells the office
    try {
      await this.notifications.notifyCustomer(tx, {
        dedupeKey: `installment-failed:${installment.id}:${installment.attempts}`,
        kind: MessageKind.PAYMENT_FAILED,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels,
        data: {
          customerName: customer.name,
          amount: installment.money(),
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

  /** COMPLETED when nothing is left to charge: every installment PAID or SKIPPED (or cancelled as not needed). */
  private async completeIfDone(tx: EntityManager, plan: InstallmentPlan, now: Date): Promise<void> {
    if (plan.status !== InstallmentPlanStatus.ACTIVE) return;
    const open = await tx.count(Installment, {
      planId: plan.id,
      status: { $in: [InstallmentStatus.SCHEDULED, InstallmentStatus.PROCESSING, InstallmentStatus.FAILED] },
    });
    if (open > 0) return;
    plan.status = InstallmentPlanStatus.COMPLETED;
    plan.completedAt = now;
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
    this.logger.warn(`Installment ${installmentId} attempt ${attempt}: outcome unknown (${message}); a later run asks again with the same key`);
    await this.scoped(organizationId).nativeUpdate(
        Installment,
        { id: installmentId, status: InstallmentStatus.PROCESSING, attempts: attempt },
        { lastError: `Outcome unknown, to be checked again: ${message}` },
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
