import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, domainEvent, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { GatewayError, type GatewayRefund, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Reconciliation } from '../../invoicing/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { AttemptStatus, Payment, PaymentAttempt, PaymentEvent, PaymentEventType, PaymentMethodType, PaymentStatus } from '../domain/payment.entity.js';
import { Refund, RefundStatus } from '../domain/refund.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import { type PaymentCancelledPayload, type PaymentRefundedPayload, PaymentsEvents } from '../payments.events.js';

export const MAX_REFUND_REASON = 500;
/** A PENDING refund older than this is finished by resumePendingRefunds (its request crashed or timed out). */
export const PENDING_REFUND_GRACE_MS = 2 * 60_000;

export interface RefundCommand {
  paymentId: string;
  /** Omitted: all that is left of the payment. */
  amount?: Money | null;
  reason: string;
  /** The invoices it is taken back from owe it again (default: a REFUND credit note keeps them settled). */
  reopenInvoices?: boolean;
  /** The client's own key; omitted: every request is a new refund. */
  idempotencyKey?: string | null;
  actorUserId: string | null;
}

/**
 * Refunds of succeeded payments and cancellation of processing bank debits.
 *
 * A refund is serialized per payment by the payment's row lock (`for update`): what is left to refund is read under
 * it, counting PENDING refunds, so two refunds racing can never give back more than was paid. The Refund row is
 * committed before the gateway call, under the gateway key `refund:<refundId>`, so a crash or timeout in between is
 * finished later by asking the gateway again with that key (resumePendingRefunds), never by refunding twice.
 */
@Injectable()
export class Refunds {
  private readonly logger = new Logger(Refunds.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly reconciliation: Reconciliation,
    private readonly notifications: Notifications,
    private readonly customers: CustomerDirectory,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  async refundPayment(organizationId: string, cmd: RefundCommand): Promise<Refund> {
    const reason = checkedReason(cmd.reason);
    const key = cmd.idempotencyKey?.trim() || null;
    if (key && key.length > 200) throw PaymentsError.invalid([{ field: 'idempotencyKey', message: 'must be at most 200 characters' }]);
    if (!isUuid(cmd.paymentId ?? '')) throw PaymentsError.notFound(cmd.paymentId);

    // (1) The refund row, committed before the gateway is asked.
    const refund = await this.inOrg(organizationId, async (tx) => {
      const payment = await this.lockPayment(tx, cmd.paymentId);
      if (key) {
        const seen = await tx.findOne(Refund, { idempotencyKey: key });
        if (seen) {
          const same = seen.paymentId === payment.id && (!cmd.amount || seen.amount === cmd.amount.amount) && seen.reason === reason;
          if (!same) throw new PaymentsError(PaymentsErrorReason.IDEMPOTENCY_KEY_REUSED, `The idempotency key was used before for another refund`, 'idempotencyKey');
          return { refund: seen, replay: true };
        }
      }
      if (payment.status !== PaymentStatus.SUCCEEDED && payment.status !== PaymentStatus.PARTIALLY_REFUNDED) {
        throw new PaymentsError(
          PaymentsErrorReason.INVALID_STATE,
          payment.status === PaymentStatus.REFUNDED
            ? 'This payment was refunded in full already'
            : `Only a succeeded payment can be refunded; this one is ${payment.status}${payment.status === PaymentStatus.PROCESSING ? ' (a bank debit still processing can be cancelled instead)' : ''}`,
          'paymentId',
        );
      }
      const left = BigInt(payment.amount) - BigInt(payment.amountRefunded) - (await this.pendingSum(tx, payment.id));
      const amount = cmd.amount ? checkedAmount(cmd.amount, payment.currency) : payment.money(left);
      if (amount.amount > left || left <= 0n) {
        throw new PaymentsError(
          PaymentsErrorReason.REFUND_EXCEEDS_PAYMENT,
          `amount: ${amount.format('en-US')} is more than is left to refund of this payment (${payment.money(left > 0n ? left : 0n).format('en-US')} of ${payment.money(payment.amount).format('en-US')})`,
          'amount',
          { refundable: (left > 0n ? left : 0n).toString() },
        );
      }
      const now = this.clock.now();
      const row = tx.create(Refund, {
        paymentId: payment.id,
        customerId: payment.customerId,
        amount: amount.amount,
        currency: payment.currency,
        reason,
        reopenInvoices: !!cmd.reopenInvoices,
        idempotencyKey: key ?? `refund-request:${randomUUID()}`,
        createdBy: cmd.actorUserId,
        createdAt: now,
        updatedAt: now,
      } as Refund);
      tx.persist(row);
      await tx.flush();
      return { refund: row, replay: false };
    });
    if (refund.replay) return refund.refund;
    return this.send(organizationId, refund.refund.id);
  }

  /**
   * Finishes refunds whose request stopped between committing the row and recording the gateway's answer (a crash, a
   * timeout): asks the gateway again under the same key (which answers the refund it made, or makes it now), and
   * polls refunds the gateway reported pending. Run by the payments janitor; returns how many it finished.
   */
  async resumePendingRefunds(olderThanMs = PENDING_REFUND_GRACE_MS): Promise<number> {
    const before = new Date(this.clock.now().getTime() - olderThanMs);
    const rows = await this.orm.em.fork().find(
      Refund,
      { status: RefundStatus.PENDING, updatedAt: { $lte: before } },
      { filters: { tenant: false }, orderBy: { updatedAt: 'asc' }, limit: 100 },
    );
    let finished = 0;
    for (const row of rows) {
      try {
        const done = await this.send(row.organizationId, row.id);
        if (done.status !== RefundStatus.PENDING) finished++;
      } catch (error) {
        this.logger.warn(`Pending refund ${row.id} not finished yet: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return finished;
  }

  /** Cancels a processing bank debit at the gateway: CANCELLED, nothing taken, nothing recorded in Invoicing. */
  async cancelPayment(organizationId: string, paymentId: string, reasonText: string, actorUserId: string | null): Promise<Payment> {
    const reason = checkedReason(reasonText);
    if (!isUuid(paymentId ?? '')) throw PaymentsError.notFound(paymentId);
    const payment = await this.inOrg(organizationId, async (tx) => {
      const p = await tx.findOne(Payment, { id: paymentId });
      if (!p) throw PaymentsError.notFound(paymentId);
      return p;
    });
    if (payment.status === PaymentStatus.CANCELLED) return payment;
    if (payment.status !== PaymentStatus.PROCESSING || payment.methodType !== PaymentMethodType.BANK_ACCOUNT || !payment.gatewayChargeId) {
      throw new PaymentsError(
        PaymentsErrorReason.INVALID_STATE,
        `Only a bank debit that is still processing can be cancelled; this payment is ${payment.status}${payment.status === PaymentStatus.SUCCEEDED || payment.status === PaymentStatus.PARTIALLY_REFUNDED ? ': refund it instead' : ''}`,
        'paymentId',
      );
    }
    let charge;
    try {
      charge = await this.gateway.cancelCharge(payment.gatewayChargeId, `cancel:${payment.id}:attempt:${payment.attemptCount}`);
    } catch (error) {
      if (error instanceof GatewayError) {
        throw new PaymentsError(error.retryable ? PaymentsErrorReason.GATEWAY_UNAVAILABLE : PaymentsErrorReason.INVALID_STATE, error.message, 'paymentId');
      }
      throw error;
    }
    if (charge.status !== 'canceled') {
      throw new PaymentsError(PaymentsErrorReason.INVALID_STATE, `The gateway did not cancel the debit (it is ${charge.status})`, 'paymentId');
    }
    return this.inOrg(organizationId, async (tx) => {
      const p = await this.lockPayment(tx, paymentId);
      // The debit settled or failed meanwhile (webhook, janitor): then the gateway would have refused; forward-only anyway.
      if (!p.moveTo(PaymentStatus.CANCELLED)) return p;
      const now = this.clock.now();
      p.nextRetryAt = null;
      const attempt = await tx.findOne(PaymentAttempt, { paymentId: p.id, number: p.attemptCount });
      if (attempt && attempt.status === AttemptStatus.PROCESSING) {
        attempt.status = AttemptStatus.CANCELLED;
        attempt.finishedAt = now;
      }
      this.event(tx, p, PaymentEventType.CANCELLED, `Bank debit of ${p.money(p.amount).format('en-US')} cancelled before it settled: ${reason}`, now, { reason, chargeId: p.gatewayChargeId }, actorUserId);
      this.outbox.record(
        tx,
        domainEvent<PaymentCancelledPayload>(PaymentsEvents.PaymentCancelled, p.organizationId, {
          paymentId: p.id,
          customerId: p.customerId,
          amount: p.money(p.amount).toJSON(),
          reason,
          purpose: p.purpose,
          purposeRefId: p.purposeRefId,
          invoiceIds: p.allocations.map((a) => a.invoiceId),
        }),
      );
      await this.notify(tx, p, MessageKind.PAYMENT_CANCELLED, `payment-cancelled:${p.id}`, p.money(p.amount), reason, now);
      await tx.flush();
      return p;
    });
  }

  /** (2) the gateway call under `refund:<id>`, (3) its answer recorded. Safe to run again for the same refund. */
  private async send(organizationId: string, refundId: string): Promise<Refund> {
    const { refund, chargeId } = await this.inOrg(organizationId, async (tx) => {
      const r = await tx.findOneOrFail(Refund, { id: refundId });
      const p = await tx.findOneOrFail(Payment, { id: r.paymentId });
      return { refund: r, chargeId: p.gatewayChargeId };
    });
    if (refund.status !== RefundStatus.PENDING) return refund;
    let answer: GatewayRefund;
    try {
      answer = refund.gatewayRefundId ? await this.gateway.getRefund(refund.gatewayRefundId) : await this.gateway.createRefund({ chargeId: chargeId ?? '', amount: refund.amount, reason: refund.reason, idempotencyKey: refund.gatewayKey() });
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      if (error.retryable) {
        // Unknown outcome: stays PENDING and counts against what is left; resumePendingRefunds asks again with the key.
        this.logger.warn(`Refund ${refund.id}: the gateway did not answer (${error.message}); it will be asked again`);
        await this.inOrg(organizationId, async (tx) => {
          const r = await tx.findOneOrFail(Refund, { id: refundId });
          r.failureMessage = error.message;
          r.updatedAt = this.clock.now();
          await tx.flush();
        });
        return this.inOrg(organizationId, (tx) => tx.findOneOrFail(Refund, { id: refundId }));
      }
      return this.fail(organizationId, refundId, error.gatewayCode ?? error.code, error.message);
    }
    if (answer.status === 'failed') return this.fail(organizationId, refundId, answer.failure?.gatewayCode ?? 'refund_failed', answer.failure?.message ?? 'The gateway could not return the money');
    if (answer.status === 'pending') {
      return this.inOrg(organizationId, async (tx) => {
        const r = await tx.findOneOrFail(Refund, { id: refundId });
        r.gatewayRefundId = answer.id;
        r.updatedAt = this.clock.now();
        await tx.flush();
        return r;
      });
    }
    return this.complete(organizationId, refundId, answer);
  }

  private async complete(organizationId: string, refundId: string, answer: GatewayRefund): Promise<Refund> {
    return this.inOrg(organizationId, async (tx) => {
      const refund = await tx.findOneOrFail(Refund, { id: refundId });
      const payment = await this.lockPayment(tx, refund.paymentId);
      await tx.refresh(refund);
      if (refund.status !== RefundStatus.PENDING) return refund; // finished by a racing janitor
      const now = this.clock.now();
      refund.status = RefundStatus.SUCCEEDED;
      refund.gatewayRefundId = answer.id;
      refund.succeededAt = now;
      refund.failureMessage = null;
      // BigInt(): the row may come back from a raw read as a decimal string.
      payment.amountRefunded = BigInt(payment.amountRefunded) + BigInt(refund.amount);
      payment.moveTo(payment.amountRefunded >= BigInt(payment.amount) ? PaymentStatus.REFUNDED : PaymentStatus.PARTIALLY_REFUNDED);
      const amount = refund.money();
      const total = payment.money(payment.amountRefunded);
      this.event(
        tx,
        payment,
        PaymentEventType.REFUNDED,
        `Refunded ${amount.format('en-US')} to ${payment.methodLabel} (${total.format('en-US')} of ${payment.money(payment.amount).format('en-US')} refunded): ${refund.reason}`,
        now,
        { refundId: refund.id, gatewayRefundId: answer.id, amount: amount.toJSON(), reopenInvoices: refund.reopenInvoices },
        refund.createdBy,
      );
      this.outbox.record(
        tx,
        domainEvent<PaymentRefundedPayload>(PaymentsEvents.PaymentRefunded, payment.organizationId, {
          paymentId: payment.id,
          refundId: refund.id,
          customerId: payment.customerId,
          amount: amount.toJSON(),
          totalRefunded: total.toJSON(),
        }),
      );
      await tx.flush();
      await this.reconciliation.refundPayment(tx, {
        paymentId: payment.id,
        refundId: refund.id,
        amount,
        reason: refund.reason,
        reopenInvoices: refund.reopenInvoices,
        actorUserId: refund.createdBy,
      });
      await this.notify(tx, payment, MessageKind.REFUND_ISSUED, `refund:${refund.id}`, amount, refund.reason, now);
      await tx.flush();
      return refund;
    });
  }

  private async fail(organizationId: string, refundId: string, code: string, message: string): Promise<Refund> {
    return this.inOrg(organizationId, async (tx) => {
      const refund = await tx.findOneOrFail(Refund, { id: refundId });
      const payment = await this.lockPayment(tx, refund.paymentId);
      await tx.refresh(refund);
      if (refund.status !== RefundStatus.PENDING) return refund;
      const now = this.clock.now();
      refund.status = RefundStatus.FAILED;
      refund.failureCode = code;
      refund.failureMessage = message;
      refund.failedAt = now;
      this.event(tx, payment, PaymentEventType.REFUNDED, `Refund of ${refund.money().format('en-US')} refused by the gateway: ${message}`, now, { refundId: refund.id, failed: true, code }, refund.createdBy);
      await tx.flush();
      return refund;
    });
  }

  private async notify(tx: EntityManager, payment: Payment, kind: MessageKind, dedupeKey: string, amount: Money, reason: string, now: Date): Promise<void> {
    const customer = await this.customers.get(tx, payment.customerId);
    if (!customer) return;
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (!channels.length) return;
    try {
      await this.notifications.notifyCustomer(tx, {
        dedupeKey,
        kind,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels,
        data: { customerName: customer.name, amount, date: now, reason, paymentMethod: payment.methodLabel, reference: payment.gatewayChargeId ?? undefined },
      });
    } catch (error) {
      // A contact the provider refuses must not undo the refund (the timeline and the event still tell the office).
      if (!(error instanceof ApplicationError)) throw error;
      this.logger.warn(`No ${kind} message for payment ${payment.id}: ${error.message}`);
    }
  }

  private async pendingSum(tx: EntityManager, paymentId: string): Promise<bigint> {
    const pending = await tx.find(Refund, { paymentId, status: RefundStatus.PENDING });
    return pending.reduce((sum, r) => sum + BigInt(r.amount), 0n);
  }

  /** The payment row locked `for update` and read fresh: refunds of one payment run one at a time. */
  private async lockPayment(tx: EntityManager, id: string): Promise<Payment> {
    const payment = await tx.findOne(Payment, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!payment) throw PaymentsError.notFound(id);
    return payment;
  }

  private event(tx: EntityManager, payment: Payment, type: PaymentEventType, summary: string, at: Date, detail: Record<string, unknown>, actorUserId: string | null): void {
    const e = new PaymentEvent();
    e.organizationId = payment.organizationId;
    e.paymentId = payment.id;
    e.type = type;
    e.summary = summary;
    e.detail = detail;
    e.actorUserId = actorUserId;
    e.at = at;
    tx.persist(e);
  }

  private inOrg<T>(organizationId: string, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em.transactional(fn);
  }
}

function checkedReason(value: unknown): string {
  const reason = typeof value === 'string' ? value.trim() : '';
  if (!reason) throw PaymentsError.invalid([{ field: 'reason', message: 'say why (the customer reads it)' }]);
  if (reason.length > MAX_REFUND_REASON) throw PaymentsError.invalid([{ field: 'reason', message: `must be at most ${MAX_REFUND_REASON} characters` }]);
  return reason;
}

function checkedAmount(value: Money, currency: string): Money {
  if (!(value instanceof Money)) throw PaymentsError.invalid([{ field: 'amount', message: 'must be an amount of money' }]);
  if (value.currency !== currency) throw PaymentsError.invalid([{ field: 'amount', message: `must be in ${currency}, the payment's currency` }]);
  if (!value.isPositive()) throw PaymentsError.invalid([{ field: 'amount', message: 'must be more than zero' }]);
  return value;
}

