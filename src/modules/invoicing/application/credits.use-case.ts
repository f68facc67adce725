import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent, isUuid } from '#libs/ddd/index.js';
import type { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Credit, CreditApplication, CREDIT_NOTE_KINDS, CreditKind } from '../domain/credit.entity.js';
import type { Invoice } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import {
  InvoicingEvents,
  type CreditApplicationReversedPayload,
  type CreditAppliedPayload,
  type CreditCancelledPayload,
  type CreditCreatedPayload,
} from '../invoicing.events.js';
import { CustomerBalances } from './customer-balances.js';
import { Invoices } from './invoices.use-case.js';
import { lockCustomerReceivables } from './invoicing-locks.js';
import { OrganizationContext } from './organization-context.js';
import { checkedAmount, checkedReason, ReceivablesLedger } from './reconciliation-ledger.js';

export interface CreditNoteCommand {
  invoiceId: string;
  kind: CreditKind;
  amount: Money;
  reason: string;
}

export interface AccountCreditCommand {
  customerId: string;
  amount: Money;
  reason: string;
}

export interface ApplyCreditCommand {
  creditId: string;
  invoiceId: string;
  amount: Money;
}

/**
 * Credits in the customer's favour: credit notes against an invoice (applied to it at once as far as it owes), account
 * credit (GOODWILL here, OVERPAYMENT from Reconciliation), applying credit to invoices, and cancelling an OVERPAYMENT
 * credit when its payment is reversed. Every change takes the customer's receivables lock first, is announced in
 * the same transaction, and refreshes the customer's balance summary.
 */
@Injectable()
export class Credits {
  constructor(
    private readonly invoices: Invoices,
    private readonly ledger: ReceivablesLedger,
    private readonly balances: CustomerBalances,
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
    private readonly outbox: Outbox,
  ) {}

  /**
   * A credit note (REFUND or ADJUSTMENT) against an issued invoice. Credit notes of one invoice never add up to more
   * than its total. It settles the invoice at once as far as the invoice still owes; the rest stays as the
   * customer's credit (a refund of it goes through Payments).
   */
  async createCreditNote(em: EntityManager, cmd: CreditNoteCommand, actorUserId: string | null): Promise<Credit> {
    if (!CREDIT_NOTE_KINDS.includes(cmd.kind)) {
      throw InvoicingError.invalid([{ field: 'kind', message: 'a credit note is REFUND or ADJUSTMENT' }]);
    }
    const org = await this.context.of(em);
    const amount = checkedAmount(cmd.amount, org.currency, 'amount');
    const reason = checkedReason(cmd.reason, 'reason', 'say why the invoice is credited');
    const found = await this.invoices.lockInvoice(em, cmd.invoiceId); // customer lock, then the row lock
    const invoice = await this.ledger.invoiceToSettle(em, found.id, found.customerId, amount.currency, 'invoiceId');

    const [row] = await em.execute<{ sum: string }[]>(
      `select coalesce(sum(amount), 0)::text as sum from credit
        where organization_id = ? and invoice_id = ? and kind in ('REFUND', 'ADJUSTMENT') and cancelled_at is null`,
      [invoice.organizationId, invoice.id],
    );
    const credited = invoice.money(BigInt(row!.sum));
    const room = invoice.money(invoice.total).subtract(credited);
    if (amount.greaterThan(room)) {
      throw new InvoicingError(
        InvoicingErrorReason.CREDIT_NOTE_EXCEEDS_INVOICE,
        `amount: ${amount.format('en-US')} is more than ${invoice.label()} can still be credited: it billed ` +
          `${invoice.money(invoice.total).format('en-US')} and credit notes of ${credited.format('en-US')} exist`,
        'amount',
        { creditable: room.amount.toString() },
      );
    }

    const credit = this.newCredit(em, {
      organizationId: org.id,
      customerId: invoice.customerId,
      invoiceId: invoice.id,
      kind: cmd.kind,
      amount,
      reason,
      createdBy: actorUserId,
      now: org.now,
    });
    const applied = amount.lessThan(invoice.amountDue()) ? amount : invoice.amountDue();
    if (applied.isPositive()) this.applyLocked(em, credit, invoice, applied, actorUserId, org.now);
    await this.balances.refresh(em, invoice.customerId, invoice.currency);
    return credit;
  }

  /** Account credit given by the organization (a gesture, a promotion): GOODWILL, applied later with applyCredit. */
  async createAccountCredit(em: EntityManager, cmd: AccountCreditCommand, actorUserId: string | null): Promise<Credit> {
    const org = await this.context.of(em);
    const amount = checkedAmount(cmd.amount, org.currency, 'amount');
    const reason = checkedReason(cmd.reason, 'reason', 'say why the customer gets credit');
    const customer = await this.customers.get(em, cmd.customerId);
    if (!customer) throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, `Customer ${cmd.customerId} was not found`, 'customerId');
    await lockCustomerReceivables(em, customer.id);
    const credit = this.newCredit(em, {
      organizationId: org.id,
      customerId: customer.id,
      invoiceId: null,
      kind: CreditKind.GOODWILL,
      amount,
      reason,
      createdBy: actorUserId,
      now: org.now,
    });
    await this.balances.refresh(em, customer.id, org.currency);
    return credit;
  }

  /** Applies part of a credit to one of the same customer's issued invoices. */
  async applyCredit(em: EntityManager, cmd: ApplyCreditCommand, actorUserId: string | null): Promise<{ credit: Credit; application: CreditApplication }> {
    const org = await this.context.of(em);
    const amount = checkedAmount(cmd.amount, org.currency, 'amount');
    const credit = await this.lockCredit(em, cmd.creditId);
    if (credit.cancelledAt) {
      throw new InvoicingError(
        InvoicingErrorReason.CREDIT_CANCELLED,
        'This credit was cancelled (the payment it came from was reversed) and cannot be applied',
        'creditId',
      );
    }
    const invoice = await this.ledger.invoiceToSettle(em, cmd.invoiceId, credit.customerId, credit.currency, 'invoiceId');
    const remaining = credit.money(credit.remaining);
    if (amount.greaterThan(remaining)) {
      throw new InvoicingError(
        InvoicingErrorReason.CREDIT_EXCEEDS_REMAINING,
        `amount: ${amount.format('en-US')} is more than the credit has left (${remaining.format('en-US')})`,
        'amount',
        { remaining: remaining.amount.toString() },
      );
    }
    this.ledger.assertWithinDue(invoice, amount, 'amount');
    const application = this.applyLocked(em, credit, invoice, amount, actorUserId, org.now);
    await this.balances.refresh(em, credit.customerId, credit.currency);
    return { credit, application };
  }

  /**
   * An OVERPAYMENT credit from the unallocated part of a payment. The caller (Reconciliation) holds the customer's
   * lock and updates the payment.
   */
  createOverpaymentCredit(
    em: EntityManager,
    p: { organizationId: string; customerId: string; paymentId: string; amount: Money; reason: string; actorUserId: string | null; now: Date },
  ): Credit {
    const { organizationId, customerId, paymentId, amount, reason, actorUserId, now } = p;
    return this.newCredit(em, {
      organizationId,
      customerId,
      invoiceId: null,
      kind: CreditKind.OVERPAYMENT,
      amount,
      reason,
      sourcePaymentId: paymentId,
      createdBy: actorUserId,
      now,
    });
  }

  /**
   * Cancels the OVERPAYMENT credits of a reversed payment: their applications in force are reversed (the invoices
   * owe that again) and nothing is left to apply. The caller holds the customer's lock.
   */
  async cancelCreditsOfPayment(em: EntityManager, paymentId: string, reason: string, now: Date): Promise<void> {
    const credits = await em.find(
      Credit,
      { sourcePaymentId: paymentId, kind: CreditKind.OVERPAYMENT, cancelledAt: null },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true, orderBy: { id: 'asc' } },
    );
    for (const credit of credits) {
      const applications = await em.find(CreditApplication, { creditId: credit.id, reversedAt: null }, { orderBy: { invoiceId: 'asc', id: 'asc' } });
      for (const application of applications) {
        // An invoice with credit applied cannot be voided, so it is still issued and the customer's.
        const invoice = await this.ledger.invoiceToSettle(em, application.invoiceId, credit.customerId, credit.currency, 'creditId');
        invoice.amountCredited -= application.amount;
        this.ledger.settle(em, invoice, now);
        application.reversedAt = now;
        this.outbox.record(
          em,
          domainEvent<CreditApplicationReversedPayload>(InvoicingEvents.CreditApplicationReversed, credit.organizationId, {
            creditApplicationId: application.id,
            creditId: credit.id,
            invoiceId: application.invoiceId,
            customerId: credit.customerId,
            amount: credit.money(application.amount).toJSON(),
            reason,
          }),
        );
      }
      const remaining = credit.money(credit.remaining);
      credit.remaining = 0n;
      credit.cancelledAt = now;
      this.outbox.record(
        em,
        domainEvent<CreditCancelledPayload>(InvoicingEvents.CreditCancelled, credit.organizationId, {
          creditId: credit.id,
          customerId: credit.customerId,
          paymentId,
          amount: credit.money(credit.amount).toJSON(),
          remaining: remaining.toJSON(),
          reason,
        }),
      );
    }
  }

  /** The credit, after its customer's lock, row-locked and read fresh. Another organization's id is NOT_FOUND. */
  private async lockCredit(em: EntityManager, id: string): Promise<Credit> {
    if (!isUuid(id)) throw InvoicingError.creditNotFound(id);
    const found = await em.findOne(Credit, { id });
    if (!found) throw InvoicingError.creditNotFound(id);
    await lockCustomerReceivables(em, found.customerId);
    return (await em.findOne(Credit, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
  }

  private applyLocked(em: EntityManager, credit: Credit, invoice: Invoice, amount: Money, actorUserId: string | null, now: Date): CreditApplication {
    const application = em.create(CreditApplication, {
      creditId: credit.id,
      invoiceId: invoice.id,
      customerId: credit.customerId,
      currency: credit.currency,
      amount: amount.amount,
      createdBy: actorUserId,
      createdAt: now,
    } as CreditApplication);
    em.persist(application);
    credit.remaining -= amount.amount;
    invoice.amountCredited += amount.amount;
    this.ledger.settle(em, invoice, now);
    this.outbox.record(
      em,
      domainEvent<CreditAppliedPayload>(InvoicingEvents.CreditApplied, invoice.organizationId, {
        creditApplicationId: application.id,
        creditId: credit.id,
        invoiceId: invoice.id,
        customerId: credit.customerId,
        amount: amount.toJSON(),
      }),
    );
    return application;
  }

  private newCredit(
    em: EntityManager,
    c: {
      organizationId: string;
      customerId: string;
      invoiceId: string | null;
      kind: CreditKind;
      amount: Money;
      reason: string;
      sourcePaymentId?: string;
      createdBy: string | null;
      now: Date;
    },
  ): Credit {
    const credit = em.create(Credit, {
      customerId: c.customerId,
      invoiceId: c.invoiceId,
      kind: c.kind,
      currency: c.amount.currency,
      amount: c.amount.amount,
      remaining: c.amount.amount,
      reason: c.reason,
      sourcePaymentId: c.sourcePaymentId ?? null,
      createdBy: c.createdBy,
      // The organization's clock, not the wall clock: the export and the credit list date it by this.
      createdAt: c.now,
    } as Credit);
    em.persist(credit);
    this.outbox.record(
      em,
      domainEvent<CreditCreatedPayload>(InvoicingEvents.CreditCreated, c.organizationId, {
        creditId: credit.id,
        customerId: credit.customerId,
        invoiceId: credit.invoiceId,
        paymentId: credit.sourcePaymentId,
        kind: credit.kind,
        amount: c.amount.toJSON(),
      }),
    );
    return credit;
  }
}
