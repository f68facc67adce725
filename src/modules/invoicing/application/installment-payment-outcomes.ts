import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { Installment, InstallmentPlan, InstallmentPlanStatus, InstallmentStatus } from '../domain/installment-plan.entity.js';
import { lockCustomerReceivables } from './invoicing-locks.js';

/** What became of an installment's payment: from the charge's own answer, or from Payments' events later. */
export type InstallmentPaymentNews =
  | { kind: 'succeeded'; gatewayChargeId?: string | null }
  | { kind: 'failed'; reason: string; gatewayChargeId?: string | null };

export type FollowResult = 'paid' | 'failed' | 'none';

/**
 * The installment follows its payment. Payments owns the money (it records a successful charge against the covered
 * invoices itself); Invoicing only moves the installment: succeeded → PAID (and the plan COMPLETED when nothing is
 * left to charge), failed → FAILED with the reason. Forward-only and idempotent, so the charge's own answer, a
 * repeated or late event, and a later successful retry of the same payment from the Payment Action Center may all
 * arrive in any order: PAID is final; PROCESSING or FAILED → PAID; PROCESSING or FAILED → FAILED (a later failed
 * retry updates the reason).
 */
@Injectable()
export class InstallmentPaymentOutcomes {
  private readonly logger = new Logger(InstallmentPaymentOutcomes.name);

  constructor(private readonly clock: Clock) {}

  /**
   * In the caller's transaction (tenant-scoped), under the customer's receivables lock. With `attempt`, only if the
   * installment is still at that attempt (the daily job's own answer); without it, whatever attempt (events).
   */
  async follow(tx: EntityManager, installmentId: string, news: InstallmentPaymentNews, attempt?: number): Promise<FollowResult> {
    const found = await tx.findOne(Installment, { id: installmentId });
    if (!found) return 'none';
    await lockCustomerReceivables(tx, found.customerId);
    const installment = (await tx.findOne(Installment, { id: installmentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
    if (attempt !== undefined && installment.attempts !== attempt) return 'none';
    if (news.gatewayChargeId && !installment.gatewayChargeId) installment.gatewayChargeId = news.gatewayChargeId;
    const from = installment.status;

    if (news.kind === 'succeeded') {
      if (from !== InstallmentStatus.PROCESSING && from !== InstallmentStatus.FAILED) {
        if (from !== InstallmentStatus.PAID) this.logger.warn(`Installment ${installmentId} is ${from}: a payment for it succeeded; left as it is`);
        await tx.flush();
        return 'none';
      }
      const now = this.clock.now();
      installment.status = InstallmentStatus.PAID;
      installment.paidAt = now;
      installment.lastError = null;
      await tx.flush();
      const plan = await tx.findOne(InstallmentPlan, { id: installment.planId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (plan) await this.completeIfDone(tx, plan, now);
      await tx.flush();
      return 'paid';
    }

    if (from !== InstallmentStatus.PROCESSING && from !== InstallmentStatus.FAILED) {
      await tx.flush();
      return 'none';
    }
    installment.status = InstallmentStatus.FAILED;
    installment.lastError = news.reason;
    await tx.flush();
    return from === InstallmentStatus.PROCESSING ? 'failed' : 'none';
  }

  /** COMPLETED when nothing is left to charge: every installment PAID or SKIPPED (or cancelled as not needed). */
  async completeIfDone(tx: EntityManager, plan: InstallmentPlan, now: Date): Promise<void> {
    if (plan.status !== InstallmentPlanStatus.ACTIVE) return;
    const open = await tx.count(Installment, {
      planId: plan.id,
      status: { $in: [InstallmentStatus.SCHEDULED, InstallmentStatus.PROCESSING, InstallmentStatus.FAILED] },
    });
    if (open > 0) return;
    plan.status = InstallmentPlanStatus.COMPLETED;
    plan.completedAt = now;
  }
}
