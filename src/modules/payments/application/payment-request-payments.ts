import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { Clock } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer, Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Invoicing, InvoicingError } from '../../invoicing/index.js';
import { Notifications } from '../../notifications/index.js';
import { Payment, PaymentPurpose, PaymentResolution, PaymentStatus } from '../domain/payment.entity.js';
import { PaymentSettings } from '../domain/mass-charge.entity.js';
import {
  PaymentRequest,
  PaymentRequestAttempt,
  PaymentRequestAttemptStatus,
  PaymentRequestPayMode,
  PaymentRequestStatus,
} from '../domain/payment-request.entity.js';
import { type PaymentFailedPayload, PaymentsEvents, type PaymentSucceededPayload } from '../payments.events.js';
import { ActionCenter } from './action-center.js';
import { recordRequestPaid } from './payment-request-events.js';

/** The charge key of an attempt on a pay link: one per gateway session, so a reloaded return page never charges twice. */
export function payLinkChargeKey(requestId: string, gatewaySessionId: string): string {
  return `payment-request:${requestId}:session:${gatewaySessionId}`;
}

const KEY_SHAPE = /^payment-request:[0-9a-f-]{36}:session:(.+)$/;
const HOUR_MS = 3_600_000;

/** What a payment says about an attempt (from the charge's answer, or later from its events). */
export interface AttemptOutcome {
  paymentId: string | null;
  status: PaymentStatus | null;
  methodLabel: string | null;
  failureMessage: string | null;
}

/**
 * Moves a pay-link attempt and its request along with the attempt's payment: forward-only and idempotent (the pay
 * page applies the charge's answer at once; the Payment events apply it again later, or for the first time when the
 * answer was unknown or a bank debit settled days later).
 */
@Injectable()
export class PaymentRequestPayments {
  private readonly logger = new Logger(PaymentRequestPayments.name);

  constructor(
    private readonly clock: Clock,
    private readonly notifications: Notifications,
    private readonly customers: CustomerDirectory,
    private readonly identity: IdentityDirectory,
    private readonly actionCenter: ActionCenter,
    private readonly invoicing: Invoicing,
    private readonly outbox: Outbox,
  ) {}

  async follow(tx: EntityManager, attemptId: string, outcome: AttemptOutcome): Promise<void> {
    const attempt = await tx.findOne(PaymentRequestAttempt, { id: attemptId });
    if (!attempt) return;
    // The request's row lock serializes this with the pay page, the expiry job and staff's cancel.
    const request = await tx.findOneOrFail(PaymentRequest, { id: attempt.requestId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    await tx.refresh(attempt);
    if (attempt.status === PaymentRequestAttemptStatus.SUCCEEDED || attempt.status === PaymentRequestAttemptStatus.FAILED) return;
    const now = this.clock.now();
    if (outcome.paymentId) attempt.paymentId = outcome.paymentId;
    if (outcome.methodLabel) attempt.methodLabel = outcome.methodLabel;

    const status = outcome.status;
    const wasProcessing = attempt.status === PaymentRequestAttemptStatus.PROCESSING;
    if (status === PaymentStatus.SUCCEEDED || status === PaymentStatus.PARTIALLY_REFUNDED || status === PaymentStatus.REFUNDED) {
      attempt.status = PaymentRequestAttemptStatus.SUCCEEDED;
      attempt.finishedAt = now;
      request.bankDebitPendingSince = null;
      // EXPIRED here only when the expiry passed while this attempt (claimed before it) was being charged.
      if (request.status === PaymentRequestStatus.OPEN || request.status === PaymentRequestStatus.EXPIRED) {
        // Pay in 4: COMPLETED once the plan exists and its first installment is paid (the plan charges the rest).
        request.status = PaymentRequestStatus.COMPLETED;
        request.completedAt = now;
        request.expiredAt = null;
        request.paymentId = attempt.paymentId;
        request.methodLabel = attempt.methodLabel;
        request.lastFailureMessage = null;
        request.readAt = null;
        await this.notifyCreator(tx, request, attempt.mode);
        recordRequestPaid(this.outbox, tx, request, attempt.mode);
      } else {
        this.logger.error(`Payment request ${request.id} is ${request.status}, yet attempt ${attempt.number} (payment ${attempt.paymentId}) succeeded`);
      }
    } else if (status === PaymentStatus.FAILED || status === PaymentStatus.CANCELLED || status === null) {
      attempt.status = PaymentRequestAttemptStatus.FAILED;
      attempt.finishedAt = now;
      attempt.failureMessage = outcome.failureMessage ?? 'The payment did not go through.';
      request.lastFailureMessage = attempt.failureMessage;
      await this.keepOutOfActionCenter(tx, attempt.paymentId, request.createdBy);
      if (attempt.mode === PaymentRequestPayMode.INSTALLMENTS) await this.dropPlan(tx, request);
      if (request.bankDebitPendingSince || wasProcessing) await this.reopenAfterFailedDebit(tx, request, now);
    } else if (status === PaymentStatus.PROCESSING) {
      attempt.status = PaymentRequestAttemptStatus.PROCESSING;
      // A bank debit the bank confirms in days: the request waits for it instead of expiring meanwhile.
      if (attempt.mode === PaymentRequestPayMode.BANK_ACCOUNT && !request.bankDebitPendingSince) request.bankDebitPendingSince = now;
    }
    // PENDING / UNKNOWN: the payments janitor finds out; its event brings the answer here.
    await tx.flush();
  }

  /**
   * Follows a Payment event of a pay-link payment: the attempt is named by the payment's idempotency key, or — pay
   * in 4 — by the installment the payment charges (purpose INSTALLMENT, only the plan's first one has an attempt).
   */
  async followPayment(tx: EntityManager, paymentId: string): Promise<void> {
    const payment = await tx.findOne(Payment, { id: paymentId });
    if (!payment) return;
    const session = payment.idempotencyKey.match(KEY_SHAPE)?.[1];
    const attempt = session
      ? await tx.findOne(PaymentRequestAttempt, { gatewaySessionId: session })
      : payment.purpose === PaymentPurpose.INSTALLMENT && payment.purposeRefId
        ? await tx.findOne(PaymentRequestAttempt, { installmentId: payment.purposeRefId })
        : null;
    if (!attempt) return;
    await this.follow(tx, attempt.id, {
      paymentId: payment.id,
      status: payment.status,
      methodLabel: payment.methodLabel,
      failureMessage: payment.failureMessage,
    });
  }

  /**
   * A declined try on the link is the customer's to retry on the page while it is open; it is marked resolved so it
   * does not sit in the Payment Action Center (the request itself shows the attempts and the last reason).
   */
  private async keepOutOfActionCenter(tx: EntityManager, paymentId: string | null, actorUserId: string): Promise<void> {
    if (!paymentId) return;
    const payment = await tx.findOne(Payment, { id: paymentId });
    if (!payment || payment.status !== PaymentStatus.FAILED || payment.resolution === PaymentResolution.RESOLVED) return;
    await this.actionCenter.resolve(tx, paymentId, "Declined on the customer's pay link (payment request): the customer may try again on the link while it is open", actorUserId);
  }

  /**
   * A declined first installment (pay in 4): the plan is cancelled — the customer may try again on the link, which
   * makes a new plan over the same invoice (the invoice created for the request stays, and stays linked to it).
   */
  private async dropPlan(tx: EntityManager, request: PaymentRequest): Promise<void> {
    if (!request.installmentPlanId) return;
    try {
      await this.invoicing.cancelInstallmentPlan(tx, request.installmentPlanId, 'The first installment was declined on the pay link; the customer may try again on the link', null);
    } catch (error) {
      if (!(error instanceof InvoicingError)) throw error;
      this.logger.warn(`Payment request ${request.id}: plan ${request.installmentPlanId} not cancelled: ${error.message}`);
    }
    request.installmentPlanId = null;
  }

  /**
   * A bank debit that failed days later: the link is open for another try — for the organization's link lifetime
   * from now when its expiry passed while the bank was deciding (the customer paid in time).
   */
  private async reopenAfterFailedDebit(tx: EntityManager, request: PaymentRequest, now: Date): Promise<void> {
    request.bankDebitPendingSince = null;
    if (request.status !== PaymentRequestStatus.OPEN && request.status !== PaymentRequestStatus.EXPIRED) return;
    if (request.expiresAt.getTime() > now.getTime()) return;
    const settings = await tx.findOne(PaymentSettings, { organizationId: request.organizationId });
    request.status = PaymentRequestStatus.OPEN;
    request.expiredAt = null;
    request.expiresAt = new Date(now.getTime() + (settings?.paymentRequestTtlHours ?? 24) * HOUR_MS);
  }

  private async notifyCreator(tx: EntityManager, request: PaymentRequest, mode: PaymentRequestPayMode): Promise<void> {
    const customer = await this.customers.get(tx, request.customerId);
    const org = await this.identity.organization(tx, request.organizationId);
    const amount = request.money().format(org?.locale ?? 'en-US');
    const retried = request.attemptCount > 1 ? ` after ${request.attemptCount} attempts` : '';
    const how =
      mode === PaymentRequestPayMode.INSTALLMENTS
        ? `set up to be paid in 4 monthly installments (installment plan; the first was paid with ${request.methodLabel ?? 'a card'})`
        : `paid with ${request.methodLabel ?? 'a card'}`;
    await this.notifications.notifyStaff(tx, {
      dedupeKey: `payment-request-paid:${request.id}`,
      userIds: [request.createdBy],
      title: `${customer?.name ?? 'A customer'} ${mode === PaymentRequestPayMode.INSTALLMENTS ? 'is paying' : 'paid'} ${amount}${mode === PaymentRequestPayMode.INSTALLMENTS ? ' in 4 installments' : ''}`,
      body: `Payment request${request.reference ? ` ${request.reference}` : ''} (${request.description}) was ${how}${retried}.`,
      link: `/payment-requests/${request.id}`,
    });
  }
}

/**
 * Pay-link payments whose outcome arrives later (an unknown outcome the janitor resolved, a bank debit that settled):
 * the attempt and the request follow. Forward-only: a redelivered event, or the page having applied it, changes nothing.
 */
@Injectable()
@EventHandler([PaymentsEvents.PaymentSucceeded, PaymentsEvents.PaymentFailed, PaymentsEvents.PaymentProcessing], { name: 'payments.payment-request-attempt' })
export class PaymentRequestPaymentSettled implements EventConsumer {
  constructor(private readonly payments: PaymentRequestPayments) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const payload = event.payload as unknown as PaymentSucceededPayload | PaymentFailedPayload;
    // PAYMENT_REQUEST: paid in full on the link; INSTALLMENT: maybe the first installment of a link's "Pay in 4".
    if (payload.purpose !== PaymentPurpose.PAYMENT_REQUEST && payload.purpose !== PaymentPurpose.INSTALLMENT) return;
    if (!payload.purposeRefId) return;
    await this.payments.followPayment(em, payload.paymentId);
  }
}
