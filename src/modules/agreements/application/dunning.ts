import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { ApplicationError, Clock, isUuid, newId } from '#libs/ddd/index.js';
import { currentTenant, scopeToTenant } from '#libs/tenancy/index.js';
import { type CustomerSnapshot, CustomerDirectory } from '../../customers/index.js';
import { BilledRefType, Invoicing } from '../../invoicing/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { Wallet } from '../../wallet/index.js';
import { type PaymentFailedPayload, PaymentPurpose, PaymentResolution, Payments, PaymentStatus, type PaymentSummary } from '../../payments/index.js';
import { AgreementsError, AgreementsErrorReason } from '../agreements.error.js';
import { AgreementTransition, ServiceAgreement } from '../domain/agreement.entity.js';
import { AgreementStatus, IN_FORCE } from '../domain/agreement-status.js';
import { BilledPeriod } from '../domain/billing-run.entity.js';
import { DunningPolicy, DunningTrigger, MAX_DUNNING_THRESHOLD } from '../domain/dunning-policy.entity.js';
import { assess, daysBetween, describe, DEFAULT_DUNNING_RULES, type DunningRules, type UnpaidAgreementInvoice } from '../domain/dunning-policy.js';
import { AgreementLifecycle, illegal } from './agreement-lifecycle.js';
import { dateIn, OrganizationClock } from './organization-today.js';

/** Who in the office hears about failed agreement charges and suspensions. */
export const DUNNING_OFFICE_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

export interface DunningPolicyValue extends DunningRules {
  organizationId: string;
  notifyOfficeByEmail: boolean;
  autoReactivateWhenPaid: boolean;
  updatedBy: string | null;
  /** Null: never changed (the defaults). */
  updatedAt: Date | null;
}

export interface UpdateDunningPolicyCommand {
  suspend?: boolean | null;
  when?: DunningTrigger | null;
  threshold?: number | null;
  notifyOfficeByEmail?: boolean | null;
  autoReactivateWhenPaid?: boolean | null;
}

export type DunningOutcome = 'SUSPENDED' | 'REACTIVATED' | 'UNCHANGED';

export interface DunningDailyRun {
  evaluated: number;
  suspended: number;
  reactivated: number;
}

/**
 * Dunning (seed 001, "What happens if their card fails?"). A failed agreement charge tells the office and sends the
 * customer ONE message: a secure link to update their payment method (Payments' payment profile request; Payments
 * itself does not email the customer about agreement charges). Payments retries on the organization's schedule.
 *
 * Whether an agreement should be SUSPENDED is recomputed from the facts every time — its unpaid agreement invoices
 * (Invoicing), their days past due and the failed attempts of their charges (Payments) — on every payment or invoice
 * event of the customer and by a daily job, never from a count of events: a duplicated or stale event finds the same
 * facts and changes nothing. Suspension and reactivation go through AgreementLifecycle (state, visits, transitions).
 */
@Injectable()
export class Dunning {
  private readonly logger = new Logger(Dunning.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly org: OrganizationClock,
    private readonly lifecycle: AgreementLifecycle,
    private readonly invoicing: Invoicing,
    private readonly payments: Payments,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly wallet: Wallet,
  ) {}

  // ─── the policy ────────────────────────────────────────────────────────────────────────────────────────────────

  /** The policy of the organization in scope (the defaults — never suspend — until someone changes it). */
  async policy(em: EntityManager): Promise<DunningPolicyValue> {
    const organizationId = tenantOf(em);
    const row = await em.findOne(DunningPolicy, { organizationId });
    if (!row) {
      return { organizationId, ...DEFAULT_DUNNING_RULES, notifyOfficeByEmail: false, autoReactivateWhenPaid: false, updatedBy: null, updatedAt: null };
    }
    return {
      organizationId,
      suspend: row.suspend,
      trigger: row.trigger,
      threshold: row.threshold,
      notifyOfficeByEmail: row.notifyOfficeByEmail,
      autoReactivateWhenPaid: row.autoReactivateWhenPaid,
      updatedBy: row.updatedBy,
      updatedAt: row.updatedAt,
    };
  }

  /**
   * Changes the fields given (BAD_USER_INPUT naming each wrong field; nothing written). IMMEDIATELY takes no
   * threshold; AFTER_FAILED_ATTEMPTS and AFTER_DAYS_UNPAID need one from 1 to 365 (given with `when`). It applies at
   * the next evaluation: the customer's next payment event or the daily job.
   */
  async updatePolicy(em: EntityManager, cmd: UpdateDunningPolicyCommand, actorUserId: string): Promise<DunningPolicyValue> {
    const current = await this.policy(em);
    const trigger = cmd.when ?? current.trigger;
    const problems: { field: string; message: string }[] = [];
    let threshold: number | null;
    if (trigger === DunningTrigger.IMMEDIATELY) {
      if (cmd.threshold !== undefined && cmd.threshold !== null) problems.push({ field: 'threshold', message: 'only with AFTER_FAILED_ATTEMPTS or AFTER_DAYS_UNPAID' });
      threshold = null;
    } else {
      threshold = cmd.threshold ?? (cmd.when && cmd.when !== current.trigger ? null : current.threshold);
      if (threshold === null) problems.push({ field: 'threshold', message: `required with ${trigger}` });
      else if (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_DUNNING_THRESHOLD) {
        problems.push({ field: 'threshold', message: `must be a whole number from 1 to ${MAX_DUNNING_THRESHOLD}` });
      }
    }
    if (problems.length) throw AgreementsError.invalid(problems);

    let row = await em.findOne(DunningPolicy, { organizationId: current.organizationId });
    if (!row) {
      row = em.create(DunningPolicy, { organizationId: current.organizationId } as DunningPolicy);
    }
    if (cmd.suspend !== undefined && cmd.suspend !== null) row.suspend = cmd.suspend;
    row.trigger = trigger;
    row.threshold = threshold;
    if (cmd.notifyOfficeByEmail !== undefined && cmd.notifyOfficeByEmail !== null) row.notifyOfficeByEmail = cmd.notifyOfficeByEmail;
    if (cmd.autoReactivateWhenPaid !== undefined && cmd.autoReactivateWhenPaid !== null) row.autoReactivateWhenPaid = cmd.autoReactivateWhenPaid;
    row.updatedBy = actorUserId;
    row.updatedAt = this.clock.now();
    await em.flush();
    return this.policy(em);
  }

  // ─── the facts ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The agreement's unpaid invoices now: the customer's unpaid invoices billing an AGREEMENT_PERIOD of this agreement
   * (its billed periods), with their days past due (organization's calendar) and the failed attempts of their charge.
   */
  async facts(em: EntityManager, agreement: ServiceAgreement): Promise<UnpaidAgreementInvoice[]> {
    const unpaid = (await this.invoicing.unpaidInvoices(em, agreement.customerId)).filter((i) => i.billedRefType === BilledRefType.AGREEMENT_PERIOD);
    if (!unpaid.length) return [];
    const periods = await em.find(BilledPeriod, { agreementId: agreement.id, invoiceId: { $in: unpaid.map((i) => i.id) } });
    const byInvoice = new Map(periods.map((p) => [p.invoiceId, p]));
    const { today, locale, timeZone } = await this.org.of(em);
    const out: UnpaidAgreementInvoice[] = [];
    for (const invoice of unpaid) {
      const period = byInvoice.get(invoice.id);
      if (!period) continue;
      const payment = await this.paymentOf(em, period.paymentId);
      const attempts = attemptsOf(payment);
      // Unpaid since its due date, or since its charge first failed if that came first (an agreement is charged when
      // billed, before the invoice's payment terms run out): the payment's first attempt is made when it is created.
      let since = invoice.dueDate ?? invoice.issueDate ?? today;
      if (payment && attempts.failedAttempts > 0) {
        const firstFailure = dateIn(payment.createdAt, timeZone);
        if (firstFailure < since) since = firstFailure;
      }
      out.push({
        invoiceId: invoice.id,
        number: invoice.number,
        amountDue: invoice.amountDue.format(locale),
        daysUnpaid: Math.max(0, daysBetween(since, today)),
        ...attempts,
      });
    }
    return out;
  }

  // ─── evaluation ────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Applies the policy to one agreement's facts, under its row lock: ACTIVE and the policy says suspend → SUSPENDED
   * (visits ahead too; office and customer told); SUSPENDED by dunning, nothing overdue any more and
   * autoReactivateWhenPaid → ACTIVE again. Anything else changes nothing, so it is safe to call at any time, twice.
   */
  async evaluate(em: EntityManager, agreementId: string): Promise<DunningOutcome> {
    const agreement = await this.lifecycle.lock(em, agreementId);
    if (agreement.status !== AgreementStatus.ACTIVE && agreement.status !== AgreementStatus.SUSPENDED) return 'UNCHANGED';
    const policy = await this.policy(em);
    const verdict = assess(policy, await this.facts(em, agreement));
    if (agreement.status === AgreementStatus.ACTIVE && verdict.shouldSuspend) {
      await this.suspend(em, agreement, policy, describe(policy, verdict.triggering));
      return 'SUSPENDED';
    }
    if (agreement.status === AgreementStatus.SUSPENDED && policy.autoReactivateWhenPaid && verdict.cleared && (await this.suspendedByDunning(em, agreement))) {
      await this.reactivateNow(em, agreement, policy, 'Reactivated automatically: the overdue invoices are paid', null);
      return 'REACTIVATED';
    }
    return 'UNCHANGED';
  }

  /**
   * Evaluates the customer's agreements: after a failure or a refund every agreement in force; after a payment or a
   * paid/voided invoice only the suspended ones (money coming in cannot make an active agreement overdue).
   */
  async evaluateCustomer(em: EntityManager, customerId: string, only: 'IN_FORCE' | 'SUSPENDED'): Promise<DunningOutcome[]> {
    if (!isUuid(customerId)) return [];
    const statuses = only === 'SUSPENDED' ? [AgreementStatus.SUSPENDED] : [...IN_FORCE];
    const organizationId = currentTenant(em);
    if (!organizationId) throw new Error('Dunning needs a tenant-scoped EntityManager');
    // Plain ids: every money event of every customer comes here, most of them to find nothing (bench:deliveries).
    const agreements = await em.execute<{ id: string }[]>(
      'select id from service_agreement where organization_id = ? and customer_id = ? and status in (?) order by id',
      [organizationId, customerId, statuses],
    );
    const out: DunningOutcome[] = [];
    for (const { id } of agreements) out.push(await this.evaluate(em, id));
    return out;
  }

  /**
   * PaymentFailed for an agreement's charge: the office is told (in-app; email too when the policy says so), the
   * customer gets one secure link to update the method — once per failed payment and method, so a redelivered event
   * or the next failed retry on the same card sends nothing new (a retry failing on a NEW card asks again) — then
   * the agreement is evaluated. A stale event (the payment has succeeded since) only evaluates.
   */
  async onPaymentFailed(em: EntityManager, event: PaymentFailedPayload): Promise<void> {
    if (event.purpose !== PaymentPurpose.AGREEMENT) return;
    const agreementId = await this.agreementOf(em, event.purposeRefId, event.invoiceIds);
    if (!agreementId) return;
    const agreement = await this.lifecycle.lock(em, agreementId);
    const payment = await this.paymentOf(em, event.paymentId);
    if (payment && payment.status === PaymentStatus.FAILED && payment.resolution !== PaymentResolution.RESOLVED) {
      const key = `method-update:${payment.id}:${payment.paymentMethodId ?? 'one-off'}`;
      if (await this.claim(em, key, agreement.id, payment.id)) await this.tellFailure(em, agreement, payment);
    }
    await this.evaluate(em, agreement.id);
  }

  /**
   * One click (OWNER, ADMIN, PAYMENT_MANAGER): SUSPENDED → ACTIVE, its suspended visits SCHEDULED again, the customer
   * told. Refused (CONFLICT / AGREEMENT_OVERDUE naming the invoices) while the policy would suspend it again — the
   * payment issue must be cleared first (retry the payment, record it, or change the policy).
   */
  async reactivate(em: EntityManager, agreementId: string, actorUserId: string): Promise<ServiceAgreement> {
    const agreement = await this.lifecycle.lock(em, agreementId);
    if (agreement.status !== AgreementStatus.SUSPENDED) throw illegal(agreement, agreement.status, AgreementStatus.ACTIVE);
    const policy = await this.policy(em);
    const verdict = assess(policy, await this.facts(em, agreement));
    if (verdict.shouldSuspend) {
      throw new AgreementsError(
        AgreementsErrorReason.AGREEMENT_OVERDUE,
        `"${agreement.name}" cannot be reactivated yet: ${describe(policy, verdict.triggering)}. Collect the payment first (retry it once the customer has updated their method).`,
        'id',
        { invoiceIds: verdict.triggering.map((i) => i.invoiceId) },
      );
    }
    return this.reactivateNow(em, agreement, policy, 'Reactivated by staff: the payment issue is cleared', actorUserId);
  }

  /**
   * The daily job: every agreement in force that is suspended or has a billed period not known to be paid is
   * evaluated (days unpaid grow with the calendar, not with events), each in its own transaction. Idempotent.
   */
  async runDaily(): Promise<DunningDailyRun> {
    const run: DunningDailyRun = { evaluated: 0, suspended: 0, reactivated: 0 };
    // A system read across organizations; each evaluation runs in its organization's scope.
    const candidates = await this.orm.em.fork().execute<{ id: string; organization_id: string }[]>(
      `select sa.organization_id, sa.id from service_agreement sa
        where sa.status in ('ACTIVE', 'SUSPENDED')
          and (sa.status = 'SUSPENDED' or exists (
                select 1 from billed_period bp
                 where bp.organization_id = sa.organization_id and bp.agreement_id = sa.id and bp.status <> 'CHARGED'))
        order by sa.organization_id, sa.id`,
    );
    for (const { id, organization_id: organizationId } of candidates) {
      try {
        const em = this.orm.em.fork();
        scopeToTenant(em, organizationId);
        const outcome = await em.transactional((tx) => this.evaluate(tx, id));
        run.evaluated += 1;
        if (outcome === 'SUSPENDED') run.suspended += 1;
        if (outcome === 'REACTIVATED') run.reactivated += 1;
      } catch (error) {
        // One agreement's trouble must not stop the others'.
        this.logger.error(`Dunning evaluation of agreement ${id}: ${(error as Error).message}`, (error as Error).stack);
      }
    }
    if (run.suspended || run.reactivated) this.logger.log(`Dunning: ${run.evaluated} evaluated, ${run.suspended} suspended, ${run.reactivated} reactivated`);
    return run;
  }

  /**
   * The customer replaced the card an agreement bills (a payment profile request sent after a failure replaces the
   * failing card, which is removed): agreements in force on the removed method now bill the customer's default
   * method, when it may be charged without them (consent, not expired) — as Payments' retries do. Otherwise the
   * agreement keeps the removed method and the next billing run reports it as not chargeable.
   */
  async followReplacedMethod(em: EntityManager, customerId: string, removedMethodId: string): Promise<string[]> {
    if (!isUuid(customerId) || !isUuid(removedMethodId)) return [];
    const agreements = await em.find(ServiceAgreement, { customerId, paymentMethodId: removedMethodId, status: { $in: [...IN_FORCE] } });
    if (!agreements.length) return [];
    const fallback = await this.wallet.defaultMethod(em, customerId);
    if (!fallback || fallback.id === removedMethodId) return [];
    try {
      await this.wallet.chargeable(em, fallback.id, { requireConsent: true });
    } catch (error) {
      if (error instanceof ApplicationError) return [];
      throw error;
    }
    const moved: string[] = [];
    for (const candidate of agreements) {
      const agreement = await this.lifecycle.lock(em, candidate.id);
      if (agreement.paymentMethodId !== removedMethodId) continue;
      agreement.paymentMethodId = fallback.id;
      moved.push(agreement.id);
      await this.notifications.notifyStaff(em, {
        dedupeKey: `agreement-method-replaced:${agreement.id}:${fallback.id}`,
        roles: DUNNING_OFFICE_ROLES,
        title: `"${agreement.name}" now bills ${fallback.label}`,
        body: `The customer replaced the card this agreement billed; it now bills ${fallback.label}, their new default method (with their consent to automatic charges).`,
        link: `/agreements/${agreement.id}`,
      });
    }
    await em.flush();
    return moved;
  }

  // ─── internals ─────────────────────────────────────────────────────────────────────────────────────────────────

  /** The agreement an agreement charge was for: its billed period (purposeRefId), else the invoices' billed reference. */
  async agreementOf(em: EntityManager, purposeRefId: string | null, invoiceIds: readonly string[]): Promise<string | null> {
    if (purposeRefId && isUuid(purposeRefId)) {
      const period = await em.findOne(BilledPeriod, { id: purposeRefId }, { fields: ['agreementId'] });
      if (period) return period.agreementId;
    }
    for (const invoiceId of invoiceIds) {
      const invoice = await this.invoicing.invoice(em, invoiceId);
      if (invoice?.billedRefType !== BilledRefType.AGREEMENT_PERIOD || !invoice.billedRefId) continue;
      const period = await em.findOne(BilledPeriod, { id: invoice.billedRefId }, { fields: ['agreementId'] });
      if (period) return period.agreementId;
    }
    return null;
  }

  private async suspend(em: EntityManager, agreement: ServiceAgreement, policy: DunningPolicyValue, reason: string): Promise<void> {
    await this.lifecycle.suspend(em, agreement.id, reason, null);
    const customer = await this.customers.get(em, agreement.customerId);
    const who = customer?.name ?? 'the customer';
    await this.notifications.notifyStaff(em, {
      dedupeKey: `agreement-suspended:${agreement.id}:${agreement.version}`,
      roles: DUNNING_OFFICE_ROLES,
      email: policy.notifyOfficeByEmail,
      title: `"${agreement.name}" for ${who} is suspended`,
      body: `${reason}. Its visits from today on are suspended, so no technician is sent. Reactivate it in one click once the payment issue is cleared.`,
      link: `/agreements/${agreement.id}`,
    });
    if (customer) {
      await this.tellCustomer(em, customer, {
        dedupeKey: `agreement-suspended:${agreement.id}:${agreement.version}`,
        kind: MessageKind.AGREEMENT_SUSPENDED,
        data: { agreementName: agreement.name, date: this.clock.now(), reason },
      });
    }
    await em.flush();
  }

  private async reactivateNow(
    em: EntityManager,
    agreement: ServiceAgreement,
    policy: DunningPolicyValue,
    reason: string,
    actorUserId: string | null,
  ): Promise<ServiceAgreement> {
    await this.lifecycle.reactivate(em, agreement.id, reason, actorUserId);
    const customer = await this.customers.get(em, agreement.customerId);
    if (actorUserId === null) {
      await this.notifications.notifyStaff(em, {
        dedupeKey: `agreement-reactivated:${agreement.id}:${agreement.version}`,
        roles: DUNNING_OFFICE_ROLES,
        email: policy.notifyOfficeByEmail,
        title: `"${agreement.name}" for ${customer?.name ?? 'a customer'} is active again`,
        body: 'Its overdue invoices are paid: the agreement was reactivated automatically and its visits are scheduled again.',
        link: `/agreements/${agreement.id}`,
      });
    }
    if (customer) {
      await this.tellCustomer(em, customer, {
        dedupeKey: `agreement-reactivated:${agreement.id}:${agreement.version}`,
        kind: MessageKind.AGREEMENT_REACTIVATED,
        data: { agreementName: agreement.name, date: this.clock.now() },
      });
    }
    await em.flush();
    return agreement;
  }

  /** The office hears of the failure; the customer gets the secure link to update their method (one message). */
  private async tellFailure(em: EntityManager, agreement: ServiceAgreement, payment: PaymentSummary): Promise<void> {
    const customer = await this.customers.get(em, agreement.customerId);
    const policy = await this.policy(em);
    const { locale } = await this.org.of(em);
    const channels = customer?.email ? [Channel.EMAIL] : customer?.phone ? [Channel.SMS] : [];
    let asked = 'They have no email or phone number on file: contact them to update their payment method.';
    if (channels.length && payment.paymentMethodId) {
      try {
        await this.payments.requestMethodUpdate(em, payment.id, channels, null);
        asked = `We sent them a secure link to update their payment method (${channels[0] === Channel.EMAIL ? 'email' : 'text message'}).`;
      } catch (error) {
        if (!(error instanceof ApplicationError)) throw error;
        asked = `We could not send them a link to update their payment method: ${error.message}`;
      }
    } else if (channels.length) {
      asked = 'It was a one-off payment method: ask them to put a card or bank account on file.';
    }
    const suspension = !policy.suspend
      ? ''
      : policy.trigger === DunningTrigger.IMMEDIATELY
        ? ' Your dunning policy suspends the agreement now.'
        : policy.trigger === DunningTrigger.AFTER_FAILED_ATTEMPTS
          ? ` Your dunning policy suspends the agreement after ${policy.threshold} failed attempts.`
          : ` Your dunning policy suspends the agreement after ${policy.threshold} days unpaid.`;
    await this.notifications.notifyStaff(em, {
      dedupeKey: `agreement-payment-failed:${payment.id}:${payment.paymentMethodId ?? 'one-off'}`,
      roles: DUNNING_OFFICE_ROLES,
      email: policy.notifyOfficeByEmail,
      title: `Payment for "${agreement.name}" from ${customer?.name ?? 'a customer'} failed`,
      body: `${payment.amount.format(locale)} with ${payment.methodLabel}: ${payment.failureMessage ?? 'the payment failed'} ${asked} Payments retries it on your schedule.${suspension}`,
      link: `/payments/${payment.id}`,
    });
    await em.flush();
  }

  private async tellCustomer(
    em: EntityManager,
    customer: CustomerSnapshot,
    message: { dedupeKey: string; kind: MessageKind; data: Record<string, unknown> },
  ): Promise<void> {
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (!channels.length) return;
    await this.notifications.notifyCustomer(em, {
      dedupeKey: message.dedupeKey,
      kind: message.kind,
      recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
      channels,
      data: message.data as never,
    });
  }

  /** Only a suspension Settle made (no staff actor) is lifted automatically. */
  private async suspendedByDunning(em: EntityManager, agreement: ServiceAgreement): Promise<boolean> {
    const last = await em.findOne(AgreementTransition, { agreementId: agreement.id, toStatus: AgreementStatus.SUSPENDED }, { orderBy: { version: 'desc' } });
    return !last || last.actorUserId === null;
  }

  /** The claim of a once-only notice: true the first time, in the caller's transaction. */
  private async claim(em: EntityManager, key: string, agreementId: string, paymentId: string | null): Promise<boolean> {
    const now = this.clock.now();
    const rows = await em.execute<{ id: string }[]>(
      `insert into dunning_notice (id, organization_id, created_at, updated_at, key, agreement_id, payment_id)
       values (?, ?, ?, ?, ?, ?, ?) on conflict (organization_id, key) do nothing returning id`,
      [newId(), tenantOf(em), now, now, key, agreementId, paymentId],
    );
    return rows.length > 0;
  }

  private async paymentOf(em: EntityManager, paymentId: string): Promise<PaymentSummary | null> {
    try {
      return await this.payments.summary(em, paymentId);
    } catch (error) {
      if (error instanceof ApplicationError) return null;
      throw error;
    }
  }
}

/** What a payment's state says of its attempts: all failed when FAILED; the current one in flight while it is made. */
function attemptsOf(payment: PaymentSummary | null): Pick<UnpaidAgreementInvoice, 'failedAttempts' | 'inFlight' | 'failureMessage'> {
  if (!payment) return { failedAttempts: 0, inFlight: true, failureMessage: null };
  switch (payment.status) {
    case PaymentStatus.FAILED:
      return { failedAttempts: payment.attemptCount, inFlight: false, failureMessage: payment.failureMessage };
    case PaymentStatus.PENDING:
    case PaymentStatus.PROCESSING:
    case PaymentStatus.UNKNOWN:
      return { failedAttempts: Math.max(0, payment.attemptCount - 1), inFlight: true, failureMessage: payment.failureMessage };
    default:
      return { failedAttempts: Math.max(0, payment.attemptCount - 1), inFlight: false, failureMessage: payment.failureMessage };
  }
}

function tenantOf(em: EntityManager): string {
  const id = currentTenant(em);
  if (!id) throw new Error('Dunning needs a tenant-scoped EntityManager');
  return id;
}
