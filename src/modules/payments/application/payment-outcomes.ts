import { Injectable } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { Clock, domainEvent } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { type GatewayCharge, GatewayErrorCode } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Invoicing, PaymentSource, Reconciliation } from '../../invoicing/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import {
  AttemptStatus,
  Payment,
  PaymentAttempt,
  PaymentEvent,
  PaymentEventType,
  PaymentMethodType,
  PaymentPurpose,
  PaymentResolution,
  PaymentStatus,
  type PlannedAllocation,
} from '../domain/payment.entity.js';
import { PaymentsError } from '../payments.error.js';
import {
  type PaymentFailedPayload,
  type PaymentProcessingPayload,
  type PaymentPurposeJson,
  PaymentsEvents,
  type PaymentSucceededPayload,
} from '../payments.events.js';
import { declineReason } from './decline-reasons.js';
import type { PaymentSummary } from './payments.contract.js';
import { canMoveAttempt, summaryOf } from './take-payment.support.js';

/**
 * Timeline events are read in (at, createdAt) order; steps of one payment often share `at` (the clock of one request),
 * so createdAt is made strictly increasing within the process to keep them in the order they were written.
 */
let lastCreatedAt = 0;
function nextCreatedAt(): Date {
  lastCreatedAt = Math.max(Date.now(), lastCreatedAt + 1);
  return new Date(lastCreatedAt);
}

export type GatewayResultSource = 'charge' | 'webhook' | 'janitor';

/** Who on staff hears about a failed payment (in-app). */
export const PAYMENT_FAILURE_STAFF_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

/** What the gateway said about one attempt, in our terms. */
export interface AttemptOutcome {
  status: AttemptStatus.SUCCEEDED | AttemptStatus.PROCESSING | AttemptStatus.FAILED;
  /** The gateway's charge (pi_…); null when the gateway refused before creating one. */
  chargeId: string | null;
  failure?: { code: string; gatewayCode: string | null; gatewayMessage: string | null } | null;
}

export function outcomeOf(charge: GatewayCharge): AttemptOutcome {
  switch (charge.status) {
    case 'succeeded':
      return { status: AttemptStatus.SUCCEEDED, chargeId: charge.id };
    case 'processing':
      return { status: AttemptStatus.PROCESSING, chargeId: charge.id };
    case 'requires_action':
      // Staff cannot complete 3-D Secure for the customer: a refusal the customer resolves with a payment link.
      return {
        status: AttemptStatus.FAILED,
        chargeId: charge.id,
        failure: { code: GatewayErrorCode.AUTHENTICATION_REQUIRED, gatewayCode: 'authentication_required', gatewayMessage: null },
      };
    default:
      return {
        status: AttemptStatus.FAILED,
        chargeId: charge.id,
        failure: {
          code: charge.failure?.code ?? GatewayErrorCode.CARD_DECLINED,
          gatewayCode: charge.failure?.gatewayCode ?? null,
          gatewayMessage: charge.failure?.message ?? null,
        },
      };
  }
}

/**
 * Applies what the gateway says about an attempt, forward only, in one transaction with the payment's row locked:
 * the payment's state, its timeline, Invoicing (a success is recorded as a received payment with its allocations),
 * the integration events and the messages. Applying the same outcome twice, or an older one after a newer one,
 * changes nothing (the answer from the charge itself, a webhook and the janitor may all arrive).
 */
@Injectable()
export class PaymentOutcomes {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
    private readonly reconciliation: Reconciliation,
    private readonly invoicing: Invoicing,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
  ) {}

  applyGatewayResult(organizationId: string, attemptId: string, charge: GatewayCharge, source: GatewayResultSource): Promise<PaymentSummary> {
    return this.apply(organizationId, attemptId, outcomeOf(charge), source);
  }

  apply(organizationId: string, attemptId: string, outcome: AttemptOutcome, source: GatewayResultSource): Promise<PaymentSummary> {
    return this.inTenant(organizationId, async (tx) => {
      const { payment, attempt } = await this.lock(tx, attemptId);
      if (!canMoveAttempt(attempt.status, outcome.status)) return summaryOf(payment); // late or repeated news
      const now = this.clock.now();
      attempt.status = outcome.status;
      if (outcome.chargeId && !attempt.gatewayChargeId) attempt.gatewayChargeId = outcome.chargeId;
      const current = attempt.number === payment.attemptCount;
      if (current && outcome.chargeId) payment.gatewayChargeId = outcome.chargeId;

      if (outcome.status === AttemptStatus.PROCESSING) {
        if (current && payment.moveTo(PaymentStatus.PROCESSING)) {
          this.event(tx, payment, PaymentEventType.PROCESSING, `Attempt ${attempt.number}: the bank debit is processing; invoices are paid when it clears`, now, {
            attempt: attempt.number,
            chargeId: outcome.chargeId,
            source,
          });
          this.outbox.record(
            tx,
            domainEvent<PaymentProcessingPayload>(PaymentsEvents.PaymentProcessing, organizationId, {
              ...this.purposeJson(payment),
              paymentId: payment.id,
              customerId: payment.customerId,
              amount: payment.money(payment.amount).toJSON(),
              attempt: attempt.number,
              methodLabel: payment.methodLabel,
            }),
          );
        }
      } else if (outcome.status === AttemptStatus.SUCCEEDED) {
        attempt.finishedAt = now;
        if (current && payment.moveTo(PaymentStatus.SUCCEEDED)) await this.succeeded(tx, payment, attempt, now, source);
      } else {
        attempt.finishedAt = now;
        const failure = outcome.failure ?? { code: GatewayErrorCode.CARD_DECLINED, gatewayCode: null, gatewayMessage: null };
        const reason = declineReason(failure.code, failure.gatewayCode, payment.methodType === PaymentMethodType.CARD ? 'CARD' : 'BANK_ACCOUNT');
        attempt.failureCode = failure.code;
        attempt.gatewayCode = failure.gatewayCode;
        attempt.failureMessage = reason;
        if (current && payment.moveTo(PaymentStatus.FAILED)) {
          await this.failed(tx, payment, attempt, failure, reason, now, source);
        }
      }
      await tx.flush();
      return summaryOf(payment);
    });
  }

  /** The gateway did not answer (timeout, outage): the outcome is unknown until the janitor asks again. */
  markUnknown(organizationId: string, attemptId: string, detail: string): Promise<PaymentSummary> {
    return this.inTenant(organizationId, async (tx) => {
      const { payment, attempt } = await this.lock(tx, attemptId);
      if (!canMoveAttempt(attempt.status, AttemptStatus.UNKNOWN)) return summaryOf(payment);
      attempt.status = AttemptStatus.UNKNOWN;
      if (attempt.number === payment.attemptCount && payment.moveTo(PaymentStatus.UNKNOWN)) {
        this.event(
          tx,
          payment,
          PaymentEventType.UNKNOWN,
          `Attempt ${attempt.number}: the payment gateway did not answer; Settle is checking the outcome (it never charges twice)`,
          this.clock.now(),
          { attempt: attempt.number, detail },
        );
      }
      await tx.flush();
      return summaryOf(payment);
    });
  }

  private async succeeded(tx: EntityManager, payment: Payment, attempt: PaymentAttempt, now: Date, source: GatewayResultSource): Promise<void> {
    payment.succeededAt = now;
    payment.failureCode = null;
    payment.failureMessage = null;
    payment.nextRetryAt = null;
    const allocations = await this.allocationsStillOwed(tx, payment);
    await this.reconciliation.recordPayment(tx, {
      paymentId: payment.id,
      customerId: payment.customerId,
      amount: payment.money(payment.amount),
      method: payment.methodLabel,
      reference: payment.gatewayChargeId,
      receivedAt: now,
      allocations,
      recordedBy: payment.createdBy,
      source: PaymentSource.PAYMENTS,
    });
    this.event(tx, payment, PaymentEventType.SUCCEEDED, `Attempt ${attempt.number} succeeded: ${payment.money(payment.amount).format()} from ${payment.methodLabel}`, now, {
      attempt: attempt.number,
      chargeId: attempt.gatewayChargeId,
      source,
    });
    if (allocations.length) {
      const total = Money.sum(
        allocations.map((a) => a.amount),
        payment.currency,
      );
      this.event(tx, payment, PaymentEventType.ALLOCATED, `${total.format()} applied to ${allocations.length} invoice(s)`, now, {
        allocations: allocations.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount.amount.toString() })),
      });
    }
    this.outbox.record(
      tx,
      domainEvent<PaymentSucceededPayload>(PaymentsEvents.PaymentSucceeded, payment.organizationId, {
        ...this.purposeJson(payment),
        paymentId: payment.id,
        customerId: payment.customerId,
        amount: payment.money(payment.amount).toJSON(),
        attempt: attempt.number,
        methodLabel: payment.methodLabel,
      }),
    );
  }

  /**
   * The planned allocations, each cut to what its invoice still owes now (money taken is never refused: an invoice
   * paid another way meanwhile leaves the rest unallocated, for reconciliation).
   */
  private async allocationsStillOwed(tx: EntityManager, payment: Payment): Promise<{ invoiceId: string; amount: Money }[]> {
    const out: { invoiceId: string; amount: Money }[] = [];
    for (const planned of payment.allocations) {
      const invoice = await this.invoicing.invoice(tx, planned.invoiceId);
      if (!invoice) continue;
      const amount = Money.min(Money.of(planned.amount, payment.currency), invoice.amountDue);
      if (amount.isPositive()) out.push({ invoiceId: planned.invoiceId, amount });
    }
    return out;
  }

  private async failed(
    tx: EntityManager,
    payment: Payment,
    attempt: PaymentAttempt,
    failure: NonNullable<AttemptOutcome['failure']>,
    reason: string,
    now: Date,
    source: GatewayResultSource,
  ): Promise<void> {
    payment.failedAt = now;
    payment.failureCode = failure.code;
    payment.failureMessage = reason;
    payment.resolution = PaymentResolution.OPEN;
    payment.resolvedAt = null;
    payment.resolvedBy = null;
    const amount = payment.money(payment.amount);
    this.event(tx, payment, PaymentEventType.FAILED, `Attempt ${attempt.number} failed: ${reason}`, now, {
      attempt: attempt.number,
      chargeId: attempt.gatewayChargeId,
      failureCode: failure.code,
      gatewayCode: failure.gatewayCode,
      gatewayMessage: failure.gatewayMessage,
      source,
    });
    this.outbox.record(
      tx,
      domainEvent<PaymentFailedPayload>(PaymentsEvents.PaymentFailed, payment.organizationId, {
        ...this.purposeJson(payment),
        paymentId: payment.id,
        customerId: payment.customerId,
        amount: amount.toJSON(),
        attempt: attempt.number,
        failureCode: failure.code,
        reason,
        paymentMethodId: payment.paymentMethodId,
      }),
    );

    const customer = await this.customers.get(tx, payment.customerId);
    const reference = await this.reference(tx, payment.allocations);
    // An agreement's charge: Agreements' dunning writes to the customer (one message, with a link to update the method).
    // A payment request's try: the customer is on the pay page and reads the reason there; the link stays open to retry.
    if (payment.purpose === PaymentPurpose.PAYMENT_REQUEST) return;
    if (customer?.email && payment.purpose !== PaymentPurpose.AGREEMENT) {
      await this.notifications.notifyCustomer(tx, {
        dedupeKey: `payment-failed:${payment.id}:${attempt.number}`,
        kind: MessageKind.PAYMENT_FAILED,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels: [Channel.EMAIL],
        data: { customerName: customer.name, amount, date: now, reason, paymentMethod: payment.methodLabel, ...(reference ? { reference } : {}) },
      });
    }
    await this.notifications.notifyStaff(tx, {
      dedupeKey: `payment-failed:${payment.id}:${attempt.number}`,
      roles: PAYMENT_FAILURE_STAFF_ROLES,
      title: `Payment of ${amount.format()} from ${customer?.name ?? 'a customer'} failed`,
      body: `${payment.methodLabel}: ${reason}${reference ? ` (${reference})` : ''}`,
      link: `/payments/${payment.id}`,
    });
  }

  /** "INV-000012, INV-000013": the invoices a payment was for, for messages. */
  private async reference(tx: EntityManager, allocations: PlannedAllocation[]): Promise<string | null> {
    const numbers: string[] = [];
    for (const a of allocations) {
      const invoice = await this.invoicing.invoice(tx, a.invoiceId);
      if (invoice?.number) numbers.push(invoice.number);
    }
    return numbers.length ? numbers.join(', ') : null;
  }

  purposeJson(payment: Payment): PaymentPurposeJson {
    return { purpose: payment.purpose, purposeRefId: payment.purposeRefId, invoiceIds: payment.allocations.map((a) => a.invoiceId) };
  }

  event(tx: EntityManager, payment: Payment, type: PaymentEventType, summary: string, at: Date, detail: Record<string, unknown> | null = null, actorUserId: string | null = null): void {
    const e = new PaymentEvent();
    e.organizationId = payment.organizationId;
    e.paymentId = payment.id;
    e.type = type;
    e.summary = summary;
    e.detail = detail;
    e.actorUserId = actorUserId;
    e.at = at;
    e.createdAt = nextCreatedAt();
    tx.persist(e);
  }

  private async lock(tx: EntityManager, attemptId: string): Promise<{ payment: Payment; attempt: PaymentAttempt }> {
    const found = await tx.findOne(PaymentAttempt, { id: attemptId });
    if (!found) throw PaymentsError.notFound();
    const payment = await tx.findOne(Payment, { id: found.paymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!payment) throw PaymentsError.notFound(found.paymentId);
    // Re-read the attempt under the payment's lock: another writer may have moved it meanwhile.
    const attempt = await tx.findOneOrFail(PaymentAttempt, { id: attemptId }, { refresh: true });
    return { payment, attempt };
  }

  private inTenant<T>(organizationId: string, work: (tx: EntityManager) => Promise<T>): Promise<T> {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em.transactional(work);
  }
}
