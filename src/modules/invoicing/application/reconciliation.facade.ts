import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { type PaymentSource, ReceivedPayment, type ReceivedPaymentStatus } from '../domain/received-payment.entity.js';
import { type BulkRecorded, type BulkRecordOptions, BulkReconciliation } from './bulk-reconciliation.js';
import { PaymentReconciliation, type RecordPaymentCommand, type RefundPaymentCommand } from './reconciliation.use-case.js';

/** What other modules know of a payment Invoicing received. */
export interface ReceivedPaymentSummary {
  paymentId: string;
  customerId: string;
  amount: Money;
  allocated: Money;
  credited: Money;
  /** Given back by Payments out of it (refunds). */
  refunded: Money;
  /** Neither allocated nor credited nor refunded: what the reconciliation list shows. */
  unallocated: Money;
  status: ReceivedPaymentStatus;
  source: PaymentSource;
  method: string;
  reference: string | null;
  receivedAt: Date;
  reversedAt: Date | null;
}

export function paymentSummaryOf(p: ReceivedPayment): ReceivedPaymentSummary {
  return {
    paymentId: p.id,
    customerId: p.customerId,
    amount: p.money(p.amount),
    allocated: p.money(p.amountAllocated),
    credited: p.money(p.amountCredited),
    refunded: p.money(p.amountRefunded),
    unallocated: p.unallocated(),
    status: p.status,
    source: p.source,
    method: p.method,
    reference: p.reference,
    receivedAt: p.receivedAt,
    reversedAt: p.reversedAt,
  };
}

/**
 * Reconciliation's facade for the Payments module: a successful charge or paid payment request is recorded here
 * (with the invoices it pays, when it knows them), and a refund or returned debit reverses it. Both run in the
 * caller's transaction through its tenant-scoped EntityManager, so the payment's state and Invoicing's commit together.
 */
@Injectable()
export class Reconciliation {
  constructor(
    private readonly payments: PaymentReconciliation,
    private readonly bulk: BulkReconciliation,
  ) {}

  /**
   * recordPayment for many payments in the caller's transaction, in a fixed number of statements (see
   * BulkReconciliation): same rows and events, idempotent by paymentId. `capAllocationsToDue` cuts allocations to
   * what the invoices still owe (a charge that already succeeded).
   */
  async recordPaymentsBulk(em: EntityManager, cmds: readonly RecordPaymentCommand[], options: BulkRecordOptions = {}): Promise<BulkRecorded[]> {
    return this.bulk.recordPayments(em, cmds, options);
  }

  /**
   * Idempotent by `paymentId`: recording the same id again with the same customer and amount returns the existing
   * record unchanged (its allocations are not repeated); another customer or amount is PAYMENT_ID_CONFLICT. Without
   * allocations the payment stays UNRECONCILED until a PAYMENT_MANAGER allocates it. Announces PaymentRecorded (and
   * PaymentAllocated, InvoicePaid).
   */
  async recordPayment(em: EntityManager, cmd: RecordPaymentCommand): Promise<ReceivedPaymentSummary> {
    return paymentSummaryOf((await this.payments.recordPayment(em, cmd)).payment);
  }

  /**
   * Reverses every allocation in force (the invoices owe it again), cancels an OVERPAYMENT credit made from it and
   * reverses that credit's applications; the payment becomes REVERSED. Idempotent. Announces PaymentReversed.
   */
  async reversePayment(em: EntityManager, paymentId: string, reason: string): Promise<ReceivedPaymentSummary> {
    return paymentSummaryOf(await this.payments.reversePayment(em, paymentId, reason));
  }

  /**
   * Payments gave (part of) a payment back: out of its unallocated part first, then allocations latest first, each
   * invoice getting a REFUND credit note for it (it stays settled) or, with `reopenInvoices`, owing it again. Call it
   * once per refund, in the transaction that records the refund's success. Null when the payment was never recorded
   * here. Announces PaymentRefundRecorded (and PaymentAllocationReversed, PaymentAllocated, CreditCreated, CreditApplied).
   */
  async refundPayment(em: EntityManager, cmd: RefundPaymentCommand): Promise<ReceivedPaymentSummary | null> {
    const payment = await this.payments.refundPayment(em, cmd);
    return payment ? paymentSummaryOf(payment) : null;
  }

  async payment(em: EntityManager, paymentId: string): Promise<ReceivedPaymentSummary | null> {
    if (!isUuid(paymentId)) return null;
    const payment = await em.findOne(ReceivedPayment, { id: paymentId });
    return payment ? paymentSummaryOf(payment) : null;
  }
}

export type { AllocationCommand, RecordPaymentCommand, RefundPaymentCommand } from './reconciliation.use-case.js';
