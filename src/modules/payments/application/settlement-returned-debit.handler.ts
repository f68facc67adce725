import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { Reconciliation, ReceivedPaymentStatus } from '../../invoicing/index.js';
import { Payment, PaymentStatus } from '../domain/payment.entity.js';
import { type PaymentFailedPayload, PaymentsEvents } from '../payments.events.js';

/**
 * A failed payment owes nothing to Invoicing: if anything was recorded there under its id, it is reversed (the
 * invoices owe it again). The core records nothing while a bank debit is PROCESSING, so for a returned debit this is
 * normally a no-op — it is the safety net for any path that recorded first. Reconciliation refuses an id it never
 * recorded (PAYMENT_NOT_FOUND), so the record is looked up first; a second delivery finds it REVERSED and stops.
 */
@Injectable()
@EventHandler(PaymentsEvents.PaymentFailed, { name: 'payments.settlement.reverse-failed-payment' })
export class ReverseFailedPayment implements EventConsumer {
  constructor(private readonly reconciliation: Reconciliation) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { paymentId, reason } = event.payload as unknown as PaymentFailedPayload;
    // A stale event (an earlier attempt's failure delivered after a retry succeeded, or a duplicate) must not undo
    // the money: only a payment that IS failed now owes nothing.
    const payment = await em.findOne(Payment, { id: paymentId });
    if (!payment || payment.status !== PaymentStatus.FAILED) return;
    const recorded = await this.reconciliation.payment(em, paymentId);
    if (!recorded || recorded.status === ReceivedPaymentStatus.REVERSED) return;
    await this.reconciliation.reversePayment(em, paymentId, `Payment failed: ${reason}`.slice(0, 200));
  }
}
