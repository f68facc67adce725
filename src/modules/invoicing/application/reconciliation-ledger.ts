import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { domainEvent, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { MAX_TOTAL } from '../domain/invoice-math.js';
import { Invoice, InvoiceStatus } from '../domain/invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { InvoicingEvents, type InvoicePaidPayload } from '../invoicing.events.js';

export const MAX_REASON = 2000;
export const MAX_ALLOCATIONS = 100;

/**
 * A positive amount in the organization's currency, or the error naming the field. Money itself guarantees an
 * integer of minor units.
 */
export function checkedAmount(value: unknown, currency: string, field: string): Money {
  if (!(value instanceof Money)) throw InvoicingError.invalid([{ field, message: 'must be an amount of money' }]);
  if (value.currency !== currency) {
    throw new InvoicingError(
      InvoicingErrorReason.CURRENCY_MISMATCH,
      `${field}: is in ${value.currency} but the organization bills in ${currency}`,
      field,
    );
  }
  if (!value.isPositive()) throw InvoicingError.invalid([{ field, message: 'must be more than zero' }]);
  if (value.amount > MAX_TOTAL) throw InvoicingError.invalid([{ field, message: `must be at most ${MAX_TOTAL} minor units` }]);
  return value;
}

export function checkedReason(value: unknown, field = 'reason', what = 'say why'): string {
  const reason = typeof value === 'string' ? value.trim() : '';
  if (!reason) throw InvoicingError.invalid([{ field, message: what }]);
  if (reason.length > MAX_REASON) throw InvoicingError.invalid([{ field, message: `must be at most ${MAX_REASON} characters` }]);
  return reason;
}

/**
 * What payments and credits share when they settle invoices: loading an invoice of the customer for change, and
 * announcing InvoicePaid when it becomes paid. Callers hold lockCustomerReceivables for the customer.
 */
@Injectable()
export class ReceivablesLedger {
  constructor(private readonly outbox: Outbox) {}

  /**
   * The invoice, row-locked and read fresh (after the customer lock, so it shows what the previous holder
   * committed), checked to be the customer's and issued. `field` names the input in errors.
   */
  async invoiceToSettle(em: EntityManager, invoiceId: string, customerId: string, currency: string, field: string): Promise<Invoice> {
    if (!isUuid(invoiceId)) throw new InvoicingError(InvoicingErrorReason.INVOICE_NOT_FOUND, `Invoice ${invoiceId} was not found`, field);
    const invoice = await em.findOne(Invoice, { id: invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!invoice) throw new InvoicingError(InvoicingErrorReason.INVOICE_NOT_FOUND, `Invoice ${invoiceId} was not found`, field);
    if (invoice.customerId !== customerId) {
      throw new InvoicingError(
        InvoicingErrorReason.CUSTOMER_MISMATCH,
        `${invoice.label()} belongs to another customer; a customer's payment or credit settles only that customer's invoices`,
        field,
      );
    }
    if (invoice.status === InvoiceStatus.DRAFT || invoice.status === InvoiceStatus.VOID) {
      throw new InvoicingError(
        InvoicingErrorReason.INVOICE_NOT_ISSUED,
        `${invoice.label()} is ${invoice.status}: only an issued invoice takes payments and credits`,
        field,
      );
    }
    if (invoice.currency !== currency) {
      throw new InvoicingError(
        InvoicingErrorReason.CURRENCY_MISMATCH,
        `${invoice.label()} is in ${invoice.currency}, the payment or credit in ${currency}`,
        field,
      );
    }
    return invoice;
  }

  /** Refuses an amount above what the invoice still owes. */
  assertWithinDue(invoice: Invoice, amount: Money, field: string): void {
    const due = invoice.amountDue();
    if (amount.greaterThan(due)) {
      throw new InvoicingError(
        InvoicingErrorReason.ALLOCATION_EXCEEDS_DUE,
        `${field}: ${amount.format('en-US')} is more than ${invoice.label()} still owes (${due.format('en-US')})`,
        field,
        { amountDue: due.amount.toString() },
      );
    }
  }

  /** Moves the invoice's status after its paid or credited amount changed; announces InvoicePaid when it became paid. */
  settle(em: EntityManager, invoice: Invoice, now: Date): void {
    const { becamePaid } = invoice.settle(now);
    if (!becamePaid) return;
    this.outbox.record(
      em,
      domainEvent<InvoicePaidPayload>(InvoicingEvents.InvoicePaid, invoice.organizationId, {
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        total: invoice.money(invoice.total).toJSON(),
        amountPaid: invoice.money(invoice.amountPaid).toJSON(),
        amountCredited: invoice.money(invoice.amountCredited).toJSON(),
      }),
    );
  }
}
