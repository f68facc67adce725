import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import type { Channel } from '../../notifications/index.js';
import type { GatewayCharge } from '../../../infra/payment-gateway/index.js';
import { type AttemptStatus, type Payment, Payment as PaymentEntity, PaymentAttempt } from '../domain/payment.entity.js';
import { PaymentsError } from '../payments.error.js';
import { type AppliedPayment, type BulkApplyOptions, type BulkChargeCommand, BulkPayments, type BulkPrepareOptions, type PreparedPayment, type SentCharge } from './bulk-payments.js';
import { type GatewayResultSource, PaymentOutcomes } from './payment-outcomes.js';
import type { ChargeCommand, PaymentSummary } from './payments.contract.js';
import { TakePayment } from './take-payment.use-case.js';
import { summaryOf } from './take-payment.support.js';

export type { GatewayResultSource } from './payment-outcomes.js';
export type { AppliedPayment, BulkApplyOptions, BulkChargeCommand, BulkPrepareOptions, PreparedPayment, SentCharge } from './bulk-payments.js';

/** The Action Center's "ask the customer for a new method" (ActionCenter), provided under this token by its part. */
export const METHOD_UPDATE_REQUESTS = Symbol('payments.method-update-requests');
export interface MethodUpdateRequests {
  requestMethodUpdate(tx: EntityManager, paymentId: string, channels: Channel[], actorUserId: string | null, note?: string | null): Promise<unknown>;
}

/** Where a gateway charge belongs (webhooks find the attempt and its organization from the charge id alone). */
export interface PaymentAttemptRef {
  organizationId: string;
  attemptId: string;
  paymentId: string;
  number: number;
  status: AttemptStatus;
}

/**
 * The payments core's API for the other parts (settlement and webhooks, refunds, mass charge, action center) and
 * other modules (installments, agreements, payment requests). `charge`, `retry` and `applyGatewayResult` manage their
 * own transactions (the payment row is committed before the gateway is called); `summary` reads through the caller's
 * tenant-scoped EntityManager.
 */
@Injectable()
export class Payments {
  constructor(
    private readonly orm: MikroORM,
    private readonly take: TakePayment,
    private readonly outcomes: PaymentOutcomes,
    private readonly bulk: BulkPayments,
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * Emails and/or texts the customer ONE secure link to update the method this FAILED payment was declined on (a
   * payment profile request; the note names the payment, its invoices and the reason), noted on its timeline — the
   * Action Center's "ask for a new method", for other modules (Agreements' dunning). In the caller's transaction;
   * a payment that is not FAILED (or was marked resolved) is CONFLICT INVALID_STATE. actorUserId null: Settle.
   */
  async requestMethodUpdate(em: EntityManager, paymentId: string, channels: Channel[], actorUserId: string | null, note: string | null = null): Promise<void> {
    // Resolved lazily by token: the action center itself depends on this facade.
    const center = this.moduleRef.get<MethodUpdateRequests>(METHOD_UPDATE_REQUESTS, { strict: false });
    await center.requestMethodUpdate(em, paymentId, channels, actorUserId, note);
  }

  /**
   * Bulk charging (billing runs), step 1, in the caller's transaction: each payment and its attempt 1 PENDING, with
   * the rows, keys and timeline of `charge` (see BulkPayments). Commit before `sendBulk`.
   */
  preparePaymentsBulk(em: EntityManager, organizationId: string, cmds: readonly BulkChargeCommand[], options: BulkPrepareOptions = {}): Promise<PreparedPayment[]> {
    return this.bulk.prepare(em, organizationId, cmds, options);
  }

  /** Step 2, outside any transaction: the gateway asked for every open attempt of these payments, under their keys. */
  sendBulk(em: EntityManager, organizationId: string, paymentIds: readonly string[]): Promise<SentCharge[]> {
    return this.bulk.send(em, organizationId, paymentIds);
  }

  /** Step 3, in the caller's transaction: the answers applied forward-only, successes recorded in Invoicing, events out. */
  applyResultsBulk(em: EntityManager, organizationId: string, sent: readonly SentCharge[], options: BulkApplyOptions = {}): Promise<AppliedPayment[]> {
    return this.bulk.apply(em, organizationId, sent, options);
  }

  /**
   * Takes a payment exactly once (see TakePayment). A decline is answered as status FAILED with failureMessage in
   * words, not thrown; a gateway that did not answer gives status UNKNOWN (the janitor settles it). Bad input throws
   * BAD_USER_INPUT naming the fields, with nothing written; the same idempotency key with another request CONFLICT.
   */
  charge(organizationId: string, cmd: ChargeCommand): Promise<PaymentSummary> {
    return this.take.charge(organizationId, cmd);
  }

  /** A new attempt of a FAILED payment (attemptCount + 1); anything else is CONFLICT INVALID_STATE. */
  retry(organizationId: string, paymentId: string, actorUserId: string | null): Promise<PaymentSummary> {
    return this.take.retry(organizationId, paymentId, actorUserId);
  }

  /** Applies what the gateway says about an attempt; forward-only and idempotent (see PaymentOutcomes). */
  applyGatewayResult(organizationId: string, attemptId: string, charge: GatewayCharge, source: GatewayResultSource): Promise<PaymentSummary> {
    return this.outcomes.applyGatewayResult(organizationId, attemptId, charge, source);
  }

  /** The attempt a gateway charge belongs to. With organizationId null it searches every organization (webhooks). */
  async attemptByChargeId(organizationId: string | null, gatewayChargeId: string): Promise<PaymentAttemptRef | null> {
    const em = this.orm.em.fork();
    const where = organizationId ? { organizationId, gatewayChargeId } : { gatewayChargeId };
    const attempt = await em.findOne(PaymentAttempt, where, { filters: { tenant: false } });
    if (attempt) return refOf(attempt);
    // A charge whose answer was lost has no id on its attempt yet; the payment may know it through a later read.
    const payment = await em.findOne(PaymentEntity, organizationId ? { organizationId, gatewayChargeId } : { gatewayChargeId }, {
      filters: { tenant: false },
    });
    if (!payment) return null;
    const current = await em.findOne(PaymentAttempt, { organizationId: payment.organizationId, paymentId: payment.id, number: payment.attemptCount }, {
      filters: { tenant: false },
    });
    return current ? refOf(current) : null;
  }

  async summary(em: EntityManager, paymentId: string): Promise<PaymentSummary> {
    const payment = isUuid(paymentId) ? await em.findOne(PaymentEntity, { id: paymentId }) : null;
    if (!payment) throw PaymentsError.notFound(paymentId);
    return summaryOf(payment);
  }

  summaryOf(payment: Payment, replayed = false): PaymentSummary {
    return summaryOf(payment, replayed);
  }
}

function refOf(a: PaymentAttempt): PaymentAttemptRef {
  return { organizationId: a.organizationId, attemptId: a.id, paymentId: a.paymentId, number: a.number, status: a.status };
}
