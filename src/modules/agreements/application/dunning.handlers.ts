import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { InvoicingEvents } from '../../invoicing/index.js';
import { type PaymentFailedPayload, PaymentsEvents } from '../../payments/index.js';
import { type PaymentMethodEventPayload, WalletEvents } from '../../wallet/index.js';
import { Dunning } from './dunning.js';

/**
 * PaymentFailed of an agreement's charge: the office and the customer are told (once per failed payment and method)
 * and the agreement is evaluated against the organization's dunning policy (from the facts, so a duplicated or stale
 * event changes nothing).
 */
@Injectable()
@EventHandler(PaymentsEvents.PaymentFailed, { name: 'agreements.dunning-payment-failed' })
export class DunningOnPaymentFailed implements EventConsumer {
  constructor(private readonly dunning: Dunning) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    await this.dunning.onPaymentFailed(em, event.payload as unknown as PaymentFailedPayload);
  }
}

/** Money in: only a suspended agreement can change (reactivated when its policy says so). */
const MONEY_IN: readonly string[] = [PaymentsEvents.PaymentSucceeded, InvoicingEvents.InvoicePaid, InvoicingEvents.InvoiceVoided];
/** Money back out: an active agreement's invoices may owe again. */
const MONEY_OUT: readonly string[] = [PaymentsEvents.PaymentCancelled, PaymentsEvents.PaymentRefunded, InvoicingEvents.PaymentRefundRecorded, InvoicingEvents.PaymentReversed];

/**
 * Every payment or invoice event of a customer re-evaluates their agreements from the facts (an invoice paid by any
 * means — a retry, a payment recorded by staff, a credit — or owed again after a refund).
 */
@Injectable()
@EventHandler([...MONEY_IN, ...MONEY_OUT], { name: 'agreements.dunning-reevaluate' })
export class DunningReevaluates implements EventConsumer {
  constructor(private readonly dunning: Dunning) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const customerId = (event.payload as { customerId?: unknown }).customerId;
    if (typeof customerId !== 'string') return;
    await this.dunning.evaluateCustomer(em, customerId, MONEY_IN.includes(event.type) ? 'SUSPENDED' : 'IN_FORCE');
  }
}

/** A removed card that agreements bill: they follow the customer's new default method (see Dunning.followReplacedMethod). */
@Injectable()
@EventHandler(WalletEvents.PaymentMethodRemoved, { name: 'agreements.follow-replaced-method' })
export class AgreementsFollowReplacedMethod implements EventConsumer {
  constructor(private readonly dunning: Dunning) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { customerId, paymentMethodId } = event.payload as unknown as PaymentMethodEventPayload;
    await this.dunning.followReplacedMethod(em, customerId, paymentMethodId);
  }
}
