import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import {
  InstallmentCharger,
  installmentAttemptKey,
  type InstallmentChargeRequest,
  type InstallmentChargeResult,
} from '../../invoicing/index.js';
import { Payment, PaymentPurpose, PaymentStatus } from '../domain/payment.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import { Payments } from './payments.facade.js';

type PaymentState = Pick<Payment, 'id' | 'status' | 'failureCode' | 'failureMessage' | 'gatewayChargeId'>;

/**
 * Invoicing's installment job charges through Payments: one payment per installment attempt, purpose INSTALLMENT,
 * purposeRefId the installment, the request key `installment:<id>:attempt:<n>` (asking again with it answers with
 * the payment already made — Payments' replay — never a second charge), off-session on the plan's saved method,
 * allocated to the covered invoices. From there it is an ordinary payment: recorded in Invoicing when it succeeds,
 * PaymentSucceeded / PaymentFailed (the installment follows them), the customer's and the office's messages, the
 * Payment Action Center and its retries, bank debits settled by webhook, unknown outcomes settled by the janitor.
 */
@Injectable()
export class PaymentsInstallmentCharger extends InstallmentCharger {
  private readonly logger = new Logger(PaymentsInstallmentCharger.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly payments: Payments,
  ) {
    super();
  }

  async chargeInstallment(organizationId: string, request: InstallmentChargeRequest): Promise<InstallmentChargeResult> {
    const key = installmentAttemptKey(request.installmentId, request.attempt);
    try {
      const summary = await this.payments.charge(organizationId, {
        customerId: request.customerId,
        method: { paymentMethodId: request.paymentMethodId },
        amount: request.amount,
        purpose: PaymentPurpose.INSTALLMENT,
        purposeRefId: request.installmentId,
        allocations: request.allocations,
        description: request.description,
        idempotencyKey: key,
        offSession: true,
        createdBy: null,
      });
      const row = await this.byKey(organizationId, key);
      return this.resultOf({ ...summary, gatewayChargeId: row?.gatewayChargeId ?? null });
    } catch (error) {
      if (!(error instanceof PaymentsError)) throw error;
      // Only this attempt is ever charged under this key: if a payment exists under it (asked again after the
      // invoices changed, or the customer was archived since), it IS this attempt's payment — answer with it.
      const existing = await this.byKey(organizationId, key);
      if (existing) return this.resultOf(existing);
      if (error.reason === PaymentsErrorReason.METHOD_NOT_CHARGEABLE || error.reason === PaymentsErrorReason.INVALID_INPUT) {
        // Refused before anything was written or charged: the installment fails without a payment.
        this.logger.warn(`Installment ${request.installmentId} attempt ${request.attempt} not charged: ${error.message}`);
        return { outcome: 'failed', paymentId: null, gatewayChargeId: null, failureCode: error.reason, failureMessage: error.message };
      }
      throw error;
    }
  }

  private resultOf(payment: PaymentState): InstallmentChargeResult {
    const base = { paymentId: payment.id, gatewayChargeId: payment.gatewayChargeId, failureCode: null, failureMessage: null };
    switch (payment.status) {
      case PaymentStatus.SUCCEEDED:
      case PaymentStatus.PARTIALLY_REFUNDED:
      case PaymentStatus.REFUNDED:
        return { ...base, outcome: 'succeeded' };
      case PaymentStatus.PROCESSING:
        return { ...base, outcome: 'processing' };
      case PaymentStatus.FAILED:
        return { ...base, outcome: 'failed', failureCode: payment.failureCode, failureMessage: payment.failureMessage };
      case PaymentStatus.CANCELLED:
        return { ...base, outcome: 'failed', failureCode: 'CANCELLED', failureMessage: 'The bank debit was cancelled before it settled' };
      default:
        // PENDING / UNKNOWN: the janitor asks the gateway under the attempt's key; the installment follows the events.
        return { ...base, outcome: 'unknown' };
    }
  }

  private async byKey(organizationId: string, key: string): Promise<Payment | null> {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em.findOne(Payment, { idempotencyKey: key });
  }
}
