import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Credit, CreditKind } from '../domain/credit.entity.js';
import { PaymentAllocation, PaymentSource, ReceivedPayment, ReceivedPaymentStatus } from '../domain/received-payment.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import {
  InvoicingEvents,
  type PaymentAllocatedPayload,
  type PaymentAllocationReversedPayload,
  type PaymentRecordedPayload,
  type PaymentRefundRecordedPayload,
  type PaymentReversedPayload,
} from '../invoicing.events.js';
import { Credits } from './credits.use-case.js';
import { CustomerBalances } from './customer-balances.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext, type InvoicingContextValue } from './organization-context.js';
import { checkedAmount, checkedReason, MAX_ALLOCATIONS, ReceivablesLedger } from './reconciliation-ledger.js';

export const MAX_METHOD = 200;
export const MAX_REFERENCE = 200;

export interface AllocationCommand {
  invoiceId: string;
  amount: Money;
}

export interface RecordPaymentCommand {
  /** The payment's id: the Payments module's id, or a new one for an offline payment. Recording is idempotent by it. */
  paymentId: string;
  customerId: string;
  amount: Money;
  /** "Visa ending in 4242", or CASH / CHEQUE / BANK_TRANSFER / OTHER for an offline payment. */
  method: string;
  reference?: string | null;
  receivedAt: Date;
  /** Allocated in the same transaction; without, the payment stays UNRECONCILED. */
  allocations?: AllocationCommand[] | null;
  recordedBy?: string | null;
  source: PaymentSource;
}

/** Payments gave (part of) a payment back; see PaymentReconciliation.refundPayment. */
export interface RefundPaymentCommand {
  paymentId: string;
  /** The Payments module's refund id (in the events and the credit notes' reasons). */
  refundId: string;
  amount: Money;
  reason: string;
  /** The invoices it is taken back from owe it again, instead of getting a REFUND credit note that keeps them settled. */
  reopenInvoices?: boolean;
  actorUserId?: string | null;
}

export interface RecordedPayment {
  payment: ReceivedPayment;
  /** False when the same payment id had been recorded before (nothing changed). */
  created: boolean;
}

/**
 * Payments received and their reconciliation with invoices: recording (idempotent by payment id), allocating to the
 * customer's invoices, turning the unallocated rest into account credit, and reversing. Every method runs in the
 * caller's transaction and takes the customer's receivables lock before it reads anything it will change.
 */
@Injectable()
export class PaymentReconciliation {
  private readonly logger = new Logger(PaymentReconciliation.name);

  constructor(
    private readonly ledger: ReceivablesLedger,
    private readonly credits: Credits,
    private readonly balances: CustomerBalances,
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
    private readonly outbox: Outbox,
  ) {}

  async recordPayment(em: EntityManager, cmd: RecordPaymentCommand): Promise<RecordedPayment> {
    const org = await this.context.of(em);
    const problems: FieldProblem[] = [];
    if (!isUuid(cmd.paymentId ?? '')) problems.push({ field: 'paymentId', message: 'must be a UUID' });
    const method = typeof cmd.method === 'string' ? cmd.method.trim() : '';
    if (!method) problems.push({ field: 'method', message: 'is required, e.g. "Visa ending in 4242" or CHEQUE' });
    else if (method.length > MAX_METHOD) problems.push({ field: 'method', message: `must be at most ${MAX_METHOD} characters` });
    const reference = typeof cmd.reference === 'string' ? cmd.reference.trim() || null : null;
    if (reference && reference.length > MAX_REFERENCE) problems.push({ field: 'reference', message: `must be at most ${MAX_REFERENCE} characters` });
    if (!(cmd.receivedAt instanceof Date) || Number.isNaN(cmd.receivedAt.getTime())) problems.push({ field: 'receivedAt', message: 'must be a date and time' });
    else if (cmd.receivedAt.getTime() > org.now.getTime() + 5 * 60_000) problems.push({ field: 'receivedAt', message: 'is in the future' });
    if (!Object.values(PaymentSource).includes(cmd.source)) problems.push({ field: 'source', message: 'must be OFFLINE or PAYMENTS' });
    if (problems.length) throw InvoicingError.invalid(problems);
    const amount = checkedAmount(cmd.amount, org.currency, 'amount');
    const allocations = cmd.allocations?.length ? this.checkAllocations(cmd.allocations, org.currency) : [];

    const customer = await this.customers.get(em, cmd.customerId);
    if (!customer) throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${cmd.customerId} was not found`, 'customerId');
    await lockCustomerReceivables(em, customer.id);

    // Under the customer lock, so a retry racing the first call waits for it and then finds its row.
    const existing = await em.findOne(ReceivedPayment, { id: cmd.paymentId }, { refresh: true });
    if (existing) {
      if (existing.customerId === customer.id && existing.currency === amount.currency && existing.amount === amount.amount) {
        return { payment: existing, created: false };
      }
      throw new InvoicingError(
        InvoicingErrorReason.PAYMENT_ID_CONFLICT,
        `Payment ${cmd.paymentId} was already recorded for another customer or amount (${existing.money(existing.amount).format('en-US')})`,
        'paymentId',
      );
    }

    const payment = em.create(ReceivedPayment, {
      id: cmd.paymentId,
      customerId: customer.id,
      source: cmd.source,
      method,
      reference,
      currency: amount.currency,
      amount: amount.amount,
      receivedAt: cmd.receivedAt,
      recordedBy: cmd.recordedBy ?? null,
      createdAt: org.now,
    } as ReceivedPayment);
    em.persist(payment);
    this.outbox.record(
      em,
      domainEvent<PaymentRecordedPayload>(InvoicingEvents.PaymentRecorded, org.id, {
        paymentId: payment.id,
        customerId: payment.customerId,
        amount: amount.toJSON(),
      }),
    );
    if (allocations.length) await this.allocateLocked(em, org, payment, allocations, cmd.recordedBy ?? null);
    await this.balances.refresh(em, customer.id, org.currency);
    return { payment, created: true };
  }

  /**
   * Allocates parts of a payment to invoices of its customer, all or nothing. With `creditRemainder`, what is left
   * unallocated afterwards becomes account credit (OVERPAYMENT) in the same transaction.
   */
  async allocate(
    em: EntityManager,
    paymentId: string,
    allocations: AllocationCommand[],
    actorUserId: string | null,
    options: { creditRemainder?: boolean } = {},
  ): Promise<{ payment: ReceivedPayment; allocations: PaymentAllocation[]; credit: Credit | null }> {
    const org = await this.context.of(em);
    if (!allocations?.length && !options.creditRemainder) {
      throw InvoicingError.invalid([{ field: 'allocations', message: 'list at least one invoice and amount' }]);
    }
    const checked = allocations?.length ? this.checkAllocations(allocations, org.currency) : [];
    const payment = await this.lockPayment(em, paymentId);
    const made = checked.length ? await this.allocateLocked(em, org, payment, checked, actorUserId) : [];
    const credit = options.creditRemainder && payment.unallocated().isPositive() ? this.creditRest(em, org, payment, null, actorUserId) : null;
    if (options.creditRemainder && !credit && !made.length) throw this.nothingUnallocated(payment);
    await this.balances.refresh(em, payment.customerId, payment.currency);
    return { payment, allocations: made, credit };
  }

  /** Turns the unallocated rest of a payment into account credit (OVERPAYMENT) the customer can apply later. */
  async creditUnallocated(em: EntityManager, paymentId: string, reason: string | null, actorUserId: string | null): Promise<{ payment: ReceivedPayment; credit: Credit }> {
    const org = await this.context.of(em);
    const why = reason?.trim() ? checkedReason(reason) : null;
    const payment = await this.lockPayment(em, paymentId);
    if (!payment.unallocated().isPositive()) throw this.nothingUnallocated(payment);
    const credit = this.creditRest(em, org, payment, why, actorUserId);
    await this.balances.refresh(em, payment.customerId, payment.currency);
    return { payment, credit };
  }

  /**
   * The money did not stay (a returned debit, a bounced cheque, a refund): every allocation in force is reversed (the
   * invoices owe it again), an OVERPAYMENT credit from it is cancelled with its applications, and the payment is
   * REVERSED. Reversing a reversed payment changes nothing.
   */
  async reversePayment(em: EntityManager, paymentId: string, reason: string): Promise<ReceivedPayment> {
    const why = checkedReason(reason, 'reason', 'say why the payment is reversed');
    const org = await this.context.of(em);
    const payment = await this.lockPayment(em, paymentId, { allowReversed: true });
    if (payment.status === ReceivedPaymentStatus.REVERSED) return payment;

    const allocations = await em.find(PaymentAllocation, { paymentId: payment.id, reversedAt: null }, { orderBy: { invoiceId: 'asc', id: 'asc' } });
    for (const allocation of allocations) {
      // An invoice with payments cannot be voided, so it is still issued and the customer's.
      const invoice = await this.ledger.invoiceToSettle(em, allocation.invoiceId, payment.customerId, payment.currency, 'paymentId');
      invoice.amountPaid -= allocation.amount;
      this.ledger.settle(em, invoice, org.now);
      allocation.reversedAt = org.now;
      this.outbox.record(
        em,
        domainEvent<PaymentAllocationReversedPayload>(InvoicingEvents.PaymentAllocationReversed, org.id, {
          allocationId: allocation.id,
          paymentId: payment.id,
          invoiceId: allocation.invoiceId,
          customerId: payment.customerId,
          amount: payment.money(allocation.amount).toJSON(),
          reason: why,
        }),
      );
    }
    await this.credits.cancelCreditsOfPayment(em, payment.id, why, org.now);

    payment.amountAllocated = 0n;
    payment.amountCredited = 0n;
    payment.status = ReceivedPaymentStatus.REVERSED;
    payment.reversedAt = org.now;
    payment.reversalReason = why;
    this.outbox.record(
      em,
      domainEvent<PaymentReversedPayload>(InvoicingEvents.PaymentReversed, org.id, {
        paymentId: payment.id,
        customerId: payment.customerId,
        amount: payment.money(payment.amount).toJSON(),
      }),
    );
    await this.balances.refresh(em, payment.customerId, payment.currency);
    return payment;
  }

  /**
   * Payments gave `amount` of a payment back (a refund that succeeded at the gateway); called once per refund, in the
   * transaction that marks the refund succeeded, so it must not refuse a valid payment. The money comes first out of
   * the payment's unallocated part; beyond that, allocations are taken back latest first. By default each invoice it
   * was taken from gets a REFUND credit note for that amount, applied at once, so the invoice stays settled (the refund
   * corrects what was billed); with `reopenInvoices` the invoices owe it again. Only if that is not enough (account
   * credit made from the payment) is the unapplied rest of that credit used. Returns null when Invoicing never
   * recorded the payment (nothing to do), and changes nothing on a reversed one.
   */
  async refundPayment(em: EntityManager, cmd: RefundPaymentCommand): Promise<ReceivedPayment | null> {
    const org = await this.context.of(em);
    const why = checkedReason(cmd.reason, 'reason', 'say why the payment is refunded');
    if (!isUuid(cmd.paymentId ?? '')) return null;
    if (!(await em.findOne(ReceivedPayment, { id: cmd.paymentId }))) return null;
    const payment = await this.lockPayment(em, cmd.paymentId, { allowReversed: true });
    if (payment.status === ReceivedPaymentStatus.REVERSED) return payment;
    const amount = checkedAmount(cmd.amount, payment.currency, 'amount');
    const actor = cmd.actorUserId ?? null;
    let rest = amount.amount;
    const take = (available: bigint) => (available < rest ? available : rest);

    const fromUnallocated = take(payment.unallocated().amount);
    payment.amountRefunded += fromUnallocated;
    rest -= fromUnallocated;

    const fromInvoices: { invoiceId: string; amount: bigint }[] = [];
    if (rest > 0n) {
      const allocations = await em.find(PaymentAllocation, { paymentId: payment.id, reversedAt: null }, { orderBy: { createdAt: 'desc', id: 'desc' } });
      for (const allocation of allocations) {
        if (rest === 0n) break;
        const taken = take(allocation.amount);
        const invoice = await this.ledger.invoiceToSettle(em, allocation.invoiceId, payment.customerId, payment.currency, 'paymentId');
        // Reversed, not edited: the allocation as it was stays in the history; the part that still pays is a new one.
        allocation.reversedAt = org.now;
        this.outbox.record(
          em,
          domainEvent<PaymentAllocationReversedPayload>(InvoicingEvents.PaymentAllocationReversed, org.id, {
            allocationId: allocation.id,
            paymentId: payment.id,
            invoiceId: allocation.invoiceId,
            customerId: payment.customerId,
            amount: payment.money(allocation.amount).toJSON(),
            reason: why,
          }),
        );
        if (allocation.amount > taken) {
          const kept = em.create(PaymentAllocation, {
            paymentId: payment.id,
            invoiceId: allocation.invoiceId,
            customerId: payment.customerId,
            currency: payment.currency,
            amount: allocation.amount - taken,
            createdBy: allocation.createdBy,
            // Keeps its place in the latest-first order of a later refund.
            createdAt: allocation.createdAt,
          } as PaymentAllocation);
          em.persist(kept);
          this.outbox.record(
            em,
            domainEvent<PaymentAllocatedPayload>(InvoicingEvents.PaymentAllocated, org.id, {
              allocationId: kept.id,
              paymentId: payment.id,
              invoiceId: kept.invoiceId,
              customerId: payment.customerId,
              amount: payment.money(kept.amount).toJSON(),
            }),
          );
        }
        invoice.amountPaid -= taken;
        payment.amountAllocated -= taken;
        payment.amountRefunded += taken;
        this.ledger.settle(em, invoice, org.now);
        fromInvoices.push({ invoiceId: invoice.id, amount: taken });
        rest -= taken;
      }
      // Credit notes read the invoices fresh under their locks: write what changed first.
      await em.flush();
    }

    const creditNotes = new Map<string, string | null>();
    if (!cmd.reopenInvoices) {
      for (const { invoiceId, amount: taken } of fromInvoices) {
        const invoice = await this.ledger.invoiceToSettle(em, invoiceId, payment.customerId, payment.currency, 'paymentId');
        const [row] = await em.execute<{ sum: string }[]>(
          `select coalesce(sum(amount), 0)::text as sum from credit
            where organization_id = ? and invoice_id = ? and kind in ('REFUND', 'ADJUSTMENT') and cancelled_at is null`,
          [invoice.organizationId, invoice.id],
        );
        // Credit notes never add up to more than the invoice billed: what does not fit leaves the invoice owing it.
        const room = invoice.total - BigInt(row!.sum);
        const noteAmount = taken < room ? taken : room;
        if (noteAmount <= 0n) {
          creditNotes.set(invoiceId, null);
          continue;
        }
        const note = await this.credits.createCreditNote(
          em,
          { invoiceId, kind: CreditKind.REFUND, amount: payment.money(noteAmount), reason: `Refund of a payment (${payment.method}): ${why}` },
          actor,
        );
        creditNotes.set(invoiceId, note.id);
      }
    }

    const fromCredits: { creditId: string; amount: bigint }[] = [];
    if (rest > 0n) {
      const credits = await em.find(
        Credit,
        { sourcePaymentId: payment.id, kind: CreditKind.OVERPAYMENT, cancelledAt: null, remaining: { $gt: 0n } },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true, orderBy: { createdAt: 'desc', id: 'desc' } },
      );
      for (const credit of credits) {
        if (rest === 0n) break;
        const taken = take(credit.remaining);
        credit.remaining -= taken;
        payment.amountCredited -= taken;
        payment.amountRefunded += taken;
        fromCredits.push({ creditId: credit.id, amount: taken });
        rest -= taken;
      }
    }
    if (rest > 0n) {
      // Only account credit already applied to other invoices is left: it stays applied (the event tells the office).
      this.logger.warn(`Refund ${cmd.refundId} of payment ${payment.id}: ${payment.money(rest).format('en-US')} could not be matched in Invoicing`);
    }

    payment.reconcile();
    this.outbox.record(
      em,
      domainEvent<PaymentRefundRecordedPayload>(InvoicingEvents.PaymentRefundRecorded, org.id, {
        paymentId: payment.id,
        refundId: cmd.refundId,
        customerId: payment.customerId,
        amount: amount.toJSON(),
        fromUnallocated: payment.money(fromUnallocated).toJSON(),
        fromInvoices: fromInvoices.map((f) => ({ invoiceId: f.invoiceId, amount: payment.money(f.amount).toJSON(), creditNoteId: creditNotes.get(f.invoiceId) ?? null })),
        fromCredits: fromCredits.map((c) => ({ creditId: c.creditId, amount: payment.money(c.amount).toJSON() })),
        reopenInvoices: !!cmd.reopenInvoices,
      }),
    );
    await em.flush();
    await this.balances.refresh(em, payment.customerId, payment.currency);
    return payment;
  }

  /** The payment, after its customer's lock, row-locked and read fresh. Another organization's id is NOT_FOUND. */
  async lockPayment(em: EntityManager, id: string, options: { allowReversed?: boolean } = {}): Promise<ReceivedPayment> {
    if (!isUuid(id ?? '')) throw InvoicingError.paymentNotFound(id);
    const found = await em.findOne(ReceivedPayment, { id });
    if (!found) throw InvoicingError.paymentNotFound(id);
    await lockCustomerReceivables(em, found.customerId);
    const payment = (await em.findOne(ReceivedPayment, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
    if (payment.status === ReceivedPaymentStatus.REVERSED && !options.allowReversed) {
      throw new InvoicingError(InvoicingErrorReason.PAYMENT_REVERSED, `Payment ${id} was reversed: nothing of it can be allocated or credited`, 'paymentId');
    }
    return payment;
  }

  /**
   * Checks every allocation against the payment's rest and each invoice's amount due (read under the locks), then
   * applies them all. The customer lock serializes this with every other change to the customer's receivables, so two
   * payments racing for one invoice cannot both see it owing; invoice_settled_within_total is the backstop.
   */
  private async allocateLocked(
    em: EntityManager,
    org: InvoicingContextValue,
    payment: ReceivedPayment,
    allocations: AllocationCommand[],
    actorUserId: string | null,
  ): Promise<PaymentAllocation[]> {
    const total = Money.sum(
      allocations.map((a) => a.amount),
      payment.currency,
    );
    const rest = payment.unallocated();
    if (total.greaterThan(rest)) {
      throw new InvoicingError(
        InvoicingErrorReason.ALLOCATION_EXCEEDS_PAYMENT,
        `allocations: ${total.format('en-US')} is more than the payment has left to allocate (${rest.format('en-US')})`,
        'allocations',
        { unallocated: rest.amount.toString() },
      );
    }
    // Row locks in id order, so two transactions locking the same invoices never deadlock.
    const order = allocations.map((a, i) => ({ ...a, field: `allocations.${i}` })).sort((a, b) => (a.invoiceId < b.invoiceId ? -1 : 1));
    const invoices = [];
    for (const a of order) {
      const invoice = await this.ledger.invoiceToSettle(em, a.invoiceId, payment.customerId, payment.currency, `${a.field}.invoiceId`);
      this.ledger.assertWithinDue(invoice, a.amount, `${a.field}.amount`);
      invoices.push({ invoice, amount: a.amount });
    }
    const made: PaymentAllocation[] = [];
    for (const { invoice, amount } of invoices) {
      const allocation = em.create(PaymentAllocation, {
        paymentId: payment.id,
        invoiceId: invoice.id,
        customerId: payment.customerId,
        currency: payment.currency,
        amount: amount.amount,
        createdBy: actorUserId,
        createdAt: org.now,
      } as PaymentAllocation);
      em.persist(allocation);
      made.push(allocation);
      invoice.amountPaid += amount.amount;
      payment.amountAllocated += amount.amount;
      this.ledger.settle(em, invoice, org.now);
      this.outbox.record(
        em,
        domainEvent<PaymentAllocatedPayload>(InvoicingEvents.PaymentAllocated, org.id, {
          allocationId: allocation.id,
          paymentId: payment.id,
          invoiceId: invoice.id,
          customerId: payment.customerId,
          amount: amount.toJSON(),
        }),
      );
    }
    payment.reconcile();
    await em.flush();
    return made;
  }

  private creditRest(em: EntityManager, org: InvoicingContextValue, payment: ReceivedPayment, reason: string | null, actorUserId: string | null): Credit {
    const rest = payment.unallocated();
    const credit = this.credits.createOverpaymentCredit(em, {
      organizationId: org.id,
      customerId: payment.customerId,
      paymentId: payment.id,
      amount: rest,
      reason: reason ?? `Unallocated part of the payment received ${payment.receivedAt.toISOString().slice(0, 10)} (${payment.method})`,
      actorUserId,
      now: org.now,
    });
    payment.amountCredited += rest.amount;
    payment.reconcile();
    return credit;
  }

  private checkAllocations(allocations: AllocationCommand[], currency: string): AllocationCommand[] {
    if (!Array.isArray(allocations)) throw InvoicingError.invalid([{ field: 'allocations', message: 'must be a list' }]);
    if (allocations.length > MAX_ALLOCATIONS) throw InvoicingError.invalid([{ field: 'allocations', message: `at most ${MAX_ALLOCATIONS} invoices at once` }]);
    const problems: FieldProblem[] = [];
    const seen = new Set<string>();
    allocations.forEach((a, i) => {
      if (!isUuid(a?.invoiceId ?? '')) problems.push({ field: `allocations.${i}.invoiceId`, message: 'must be an invoice id' });
      else if (seen.has(a.invoiceId.toLowerCase())) problems.push({ field: `allocations.${i}.invoiceId`, message: 'lists the same invoice twice' });
      else seen.add(a.invoiceId.toLowerCase());
    });
    if (problems.length) throw InvoicingError.invalid(problems);
    return allocations.map((a, i) => ({ invoiceId: a.invoiceId.toLowerCase(), amount: checkedAmount(a.amount, currency, `allocations.${i}.amount`) }));
  }

  private nothingUnallocated(payment: ReceivedPayment): InvoicingError {
    return new InvoicingError(
      InvoicingErrorReason.NOTHING_UNALLOCATED,
      `Nothing of payment ${payment.id} is left unallocated (${payment.money(payment.amount).format('en-US')}, all allocated or credited)`,
      'paymentId',
    );
  }
}
