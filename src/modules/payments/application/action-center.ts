import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Invoicing } from '../../invoicing/index.js';
import type { Channel } from '../../notifications/index.js';
import { type ChargeableMethod, Wallet, WalletError } from '../../wallet/index.js';
import {
  Payment,
  PaymentEvent,
  PaymentEventType,
  type PaymentMethodType,
  type PaymentPurpose,
  PaymentResolution,
  PaymentStatus,
} from '../domain/payment.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import type { PaymentSummary } from './payments.contract.js';
import { Payments } from './payments.facade.js';

export interface ActionCenterFilter {
  customerId?: string | null;
  purpose?: PaymentPurpose | null;
  /** Failed at or after. */
  from?: Date | null;
  /** Failed before. */
  to?: Date | null;
}

/** What a retry will charge: the payment's own method, or the customer's current default (see chooseMethod). */
export type MethodChoice = { ok: true; method: ChargeableMethod | null; switched: boolean } | { ok: false; reason: string };

/**
 * The Payment Action Center (seed 002): failed payments that need attention — status FAILED and not marked resolved
 * — and what staff do with them: retry now, send the customer a link to update their method, mark resolved.
 *
 * Which method a retry charges: the customer's CURRENT DEFAULT saved method when it is another method that may be
 * charged (active, not expired, with consent for an off-session payment) — the customer updated their method, as the
 * action center asks them to; otherwise the payment's own saved method, if it still may be charged. A one-off card
 * (no saved method) is retried as it is by the core.
 */
@Injectable()
export class ActionCenter {
  constructor(
    private readonly payments: Payments,
    private readonly wallet: Wallet,
    private readonly invoicing: Invoicing,
    private readonly clock: Clock,
  ) {}

  /** The action center's list: FAILED and OPEN (null counts as open), by customer, purpose and failure time. */
  where(filter: ActionCenterFilter = {}): FilterQuery<Payment> {
    const where: FilterQuery<Payment> & Record<string, unknown> = {
      status: PaymentStatus.FAILED,
      $or: [{ resolution: null }, { resolution: PaymentResolution.OPEN }],
    };
    if (filter.customerId) where.customerId = filter.customerId;
    if (filter.purpose) where.purpose = filter.purpose;
    if (filter.from || filter.to) {
      where.failedAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
    }
    return where;
  }

  /** A payment of the organization in scope, or NOT_FOUND (another organization's id included). */
  async require(em: EntityManager, paymentId: string, lock = false): Promise<Payment> {
    const payment = await em.findOne(Payment, { id: paymentId }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
    if (!payment) throw PaymentsError.notFound(paymentId);
    return payment;
  }

  /**
   * Retry now (staff): the method is chosen (and switched on the payment if the customer updated theirs), the planned
   * automatic retry is cancelled (a failure plans the next one), then the core makes a new attempt. A decline is the
   * answer (status FAILED), not an error.
   */
  async retryNow(em: EntityManager, organizationId: string, paymentId: string, actorUserId: string): Promise<PaymentSummary> {
    await em.transactional(async (tx) => {
      const payment = await this.require(tx, paymentId, true);
      this.assertOpenFailure(payment, 'retried');
      const choice = await this.chooseMethod(tx, payment);
      if (!choice.ok) throw new PaymentsError(PaymentsErrorReason.METHOD_NOT_CHARGEABLE, choice.reason, 'paymentId');
      if (choice.switched && choice.method) this.switchMethod(tx, payment, choice.method, actorUserId);
      payment.nextRetryAt = null;
      await tx.flush();
    });
    return this.payments.retry(organizationId, paymentId, actorUserId);
  }

  /**
   * Emails and/or texts the customer a secure link to update the method this payment failed on (a payment profile
   * request: their failing card is to be replaced), and notes it on the timeline. In the caller's transaction.
   */
  async requestMethodUpdate(
    tx: EntityManager,
    paymentId: string,
    channels: Channel[],
    actorUserId: string | null,
    note: string | null = null,
  ): Promise<Payment> {
    const payment = await this.require(tx, paymentId, true);
    this.assertOpenFailure(payment, 'followed up');
    const reason = payment.failureMessage ?? 'it did not go through';
    const amount = Money.of(payment.amount, payment.currency).format('en-US');
    const numbers = await this.invoiceNumbers(tx, payment);
    const what = numbers.length ? ` for ${numbers.join(', ')}` : '';
    const request = await this.wallet.requestMethodUpdate(tx, {
      customerId: payment.customerId,
      channels,
      failedPaymentMethodId: payment.paymentMethodId,
      note: note?.trim() || `Your payment of ${amount}${what} with ${payment.methodLabel} failed: ${reason} Please update your payment method.`,
      requestedBy: actorUserId,
    });
    this.event(tx, payment, PaymentEventType.METHOD_UPDATE_REQUESTED, `Asked the customer to update their payment method (${channels.join(', ').toLowerCase()})`, actorUserId, {
      profileRequestId: request.id,
      channels,
      sentToEmail: request.sentToEmail,
      sentToPhone: request.sentToPhone,
      expiresAt: request.expiresAt.toISOString(),
    });
    await tx.flush();
    return payment;
  }

  /** Marks a failed payment resolved (e.g. the customer paid another way): it leaves the list and is never retried automatically. Idempotent. */
  async resolve(tx: EntityManager, paymentId: string, note: string | null, actorUserId: string): Promise<Payment> {
    const payment = await this.require(tx, paymentId, true);
    if (payment.resolution === PaymentResolution.RESOLVED) return payment;
    if (payment.status !== PaymentStatus.FAILED) {
      throw new PaymentsError(PaymentsErrorReason.INVALID_STATE, `Only a failed payment can be marked resolved; this one is ${payment.status.toLowerCase()}`, 'paymentId');
    }
    const now = this.clock.now();
    payment.resolution = PaymentResolution.RESOLVED;
    payment.resolvedBy = actorUserId;
    payment.resolvedAt = now;
    payment.resolutionNote = note?.trim() || null;
    payment.nextRetryAt = null;
    this.event(tx, payment, PaymentEventType.RESOLVED, payment.resolutionNote ? `Marked resolved: ${payment.resolutionNote}` : 'Marked resolved', actorUserId, null);
    await tx.flush();
    return payment;
  }

  /** What a retry charges (see the class comment). Off-session payments need the customer's consent on it. */
  async chooseMethod(tx: EntityManager, payment: Payment): Promise<MethodChoice> {
    if (!payment.paymentMethodId) return { ok: true, method: null, switched: false };
    const requireConsent = payment.offSession;
    const chargeable = async (id: string): Promise<ChargeableMethod | string> => {
      try {
        return await this.wallet.chargeable(tx, id, { requireConsent });
      } catch (error) {
        if (error instanceof WalletError) return error.message;
        throw error;
      }
    };
    const fallback = await this.wallet.defaultMethod(tx, payment.customerId);
    if (fallback && fallback.id !== payment.paymentMethodId) {
      const method = await chargeable(fallback.id);
      if (typeof method !== 'string') return { ok: true, method, switched: true };
    }
    const own = await chargeable(payment.paymentMethodId);
    if (typeof own === 'string') return { ok: false, reason: own };
    return { ok: true, method: own, switched: false };
  }

  /** The retry charges another saved method: the payment names it from now on (receipts, lists, the next attempt). */
  switchMethod(tx: EntityManager, payment: Payment, method: ChargeableMethod, actorUserId: string | null): void {
    const before = payment.methodLabel;
    payment.paymentMethodId = method.id;
    payment.gatewayPaymentMethodId = method.gatewayPaymentMethodId;
    payment.gatewayCustomerId = method.gatewayCustomerId;
    payment.gateway = method.gateway;
    payment.methodType = method.kind as unknown as PaymentMethodType;
    payment.methodLabel = method.label;
    payment.brand = method.brand;
    payment.last4 = method.last4;
    this.event(tx, payment, PaymentEventType.ATTEMPT_STARTED, `Retrying with ${method.label}, the customer's current default method (was ${before})`, actorUserId, {
      methodChanged: { from: before, to: method.label, paymentMethodId: method.id },
    });
  }

  /** The numbers of the invoices the payment is for (drafts have none). */
  async invoiceNumbers(em: EntityManager, payment: Payment): Promise<string[]> {
    const numbers: string[] = [];
    for (const { invoiceId } of payment.allocations) {
      const invoice = await this.invoicing.invoice(em, invoiceId);
      if (invoice?.number) numbers.push(invoice.number);
    }
    return numbers;
  }

  event(tx: EntityManager, payment: Payment, type: PaymentEventType, summary: string, actorUserId: string | null, detail: Record<string, unknown> | null): void {
    tx.create(PaymentEvent, {
      paymentId: payment.id,
      organizationId: payment.organizationId,
      type,
      summary,
      detail,
      actorUserId,
      at: this.clock.now(),
    } as PaymentEvent);
  }

  private assertOpenFailure(payment: Payment, action: string): void {
    if (payment.status !== PaymentStatus.FAILED) {
      throw new PaymentsError(PaymentsErrorReason.INVALID_STATE, `Only a failed payment can be ${action}; this one is ${payment.status.toLowerCase()}`, 'paymentId');
    }
    if (payment.resolution === PaymentResolution.RESOLVED) {
      throw new PaymentsError(PaymentsErrorReason.INVALID_STATE, 'This payment was marked resolved', 'paymentId');
    }
  }
}
