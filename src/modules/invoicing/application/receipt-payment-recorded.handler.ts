import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { InvoicingEvents, type PaymentRecordedPayload } from '../invoicing.events.js';
import { Receipts } from './receipts.use-case.js';

/**
 * Every payment Invoicing records (a charge reported by Payments, cash or a cheque recorded by staff) gets its receipt,
 * emailed to the customer. Runs after the payment's transaction commits, in the outbox consumer's transaction (one
 * effect per event); the unique payment id makes a second PaymentRecorded for the same payment change nothing.
 */
@Injectable()
@EventHandler(InvoicingEvents.PaymentRecorded, { name: 'invoicing.receipt' })
export class ReceiptOnPaymentRecorded implements EventConsumer {
  constructor(private readonly receipts: Receipts) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { paymentId } = event.payload as unknown as PaymentRecordedPayload;
    await this.receipts.issueForPayment(em, paymentId);
  }
}
