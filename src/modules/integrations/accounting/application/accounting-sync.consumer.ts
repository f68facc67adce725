import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type DeliveredEvent } from '#libs/ddd/index.js';
import type { MoneyJson } from '#libs/money/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { CustomerEvents } from '../../../customers/index.js';
import { InvoicingEvents } from '../../../invoicing/index.js';
import { AccountingConnection, AccountingEntityType } from '../domain/accounting.entities.js';
import { AccountingSyncs } from './accounting-syncs.js';

/** Which of our records each consumed event is about (the id's field in its payload). */
const SUBJECTS: Record<string, { type: AccountingEntityType; idField: string }> = {
  [CustomerEvents.CustomerCreated]: { type: AccountingEntityType.CUSTOMER, idField: 'customerId' },
  [CustomerEvents.CustomerUpdated]: { type: AccountingEntityType.CUSTOMER, idField: 'customerId' },
  [CustomerEvents.CustomerArchived]: { type: AccountingEntityType.CUSTOMER, idField: 'customerId' },
  [CustomerEvents.CustomerReactivated]: { type: AccountingEntityType.CUSTOMER, idField: 'customerId' },
  [InvoicingEvents.InvoiceIssued]: { type: AccountingEntityType.INVOICE, idField: 'invoiceId' },
  [InvoicingEvents.InvoiceVoided]: { type: AccountingEntityType.INVOICE, idField: 'invoiceId' },
  // Invoicing's payment events rather than Payments' PaymentSucceeded/PaymentRefunded: they cover cash and cheques as
  // well as charges, and say which invoice each amount pays (PaymentAllocated) and what a refund took back.
  [InvoicingEvents.PaymentRecorded]: { type: AccountingEntityType.PAYMENT, idField: 'paymentId' },
  [InvoicingEvents.PaymentAllocated]: { type: AccountingEntityType.PAYMENT, idField: 'paymentId' },
  [InvoicingEvents.PaymentAllocationReversed]: { type: AccountingEntityType.PAYMENT, idField: 'paymentId' },
  [InvoicingEvents.PaymentReversed]: { type: AccountingEntityType.PAYMENT, idField: 'paymentId' },
  [InvoicingEvents.PaymentRefundRecorded]: { type: AccountingEntityType.PAYMENT, idField: 'paymentId' },
  [InvoicingEvents.CreditCreated]: { type: AccountingEntityType.CREDIT, idField: 'creditId' },
};

export const ACCOUNTING_SYNC_EVENTS = Object.keys(SUBJECTS);

interface AllocationFacts {
  allocationId: string;
  paymentId: string;
  invoiceId: string;
  amount: MoneyJson;
}

/**
 * Queues each event for the organization's accounting system, in the outbox consumer's transaction (the inbox makes a
 * second delivery a no-op; the unique event id is the backstop when it is handed over again). An organization with
 * no connection gets the `none` adapter and nothing is queued. An EXPIRED or DISCONNECTED connection still queues:
 * the rows wait, PENDING, for the organization to reconnect.
 *
 * Payment allocations are also mirrored (for every organization, connected or not: a few columns per allocation), so
 * a payment synced later — after a reconnect, or after connecting for the first time — is applied to its invoices.
 */
@Injectable()
@EventHandler(ACCOUNTING_SYNC_EVENTS, { name: 'integrations.accounting-sync' })
export class AccountingSyncConsumer implements EventConsumer {
  constructor(
    private readonly syncs: AccountingSyncs,
    private readonly clock: Clock,
  ) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const subject = SUBJECTS[event.type];
    if (!subject || !event.organizationId) return;
    const payload = event.payload;
    if (event.type === InvoicingEvents.PaymentAllocated || event.type === InvoicingEvents.PaymentAllocationReversed) {
      await this.mirrorAllocation(em, event.organizationId, payload as unknown as AllocationFacts, event.type === InvoicingEvents.PaymentAllocationReversed);
    }
    // Most organizations have no connection: a plain existence check first (every event of every organization comes
    // here, bench:deliveries), the entity only when there is one.
    const [connected] = await em.execute<{ id: string }[]>('select id from accounting_connection where organization_id = ? limit 1', [event.organizationId]);
    const connection = connected ? await em.findOne(AccountingConnection, { id: connected.id }) : null;
    if (!this.syncs.adapterFor(connection).queuesEvents) return;
    const entityId = payload[subject.idField];
    if (typeof entityId !== 'string') return;
    await em.execute(
      `insert into accounting_sync_item (id, organization_id, created_at, updated_at, event_id, event_type, entity_type, entity_id, payload, status, attempts, next_attempt_at)
       values (gen_random_uuid(), ?, clock_timestamp(), clock_timestamp(), ?, ?, ?, ?, ?::jsonb, 'PENDING', 0, ?)
       on conflict (event_id) do nothing`,
      [event.organizationId, event.id, event.type, subject.type, entityId, JSON.stringify(payload), this.clock.now()],
    );
  }

  /** Reversed wins whatever order the two events arrive in. */
  private async mirrorAllocation(em: EntityManager, organizationId: string, a: AllocationFacts, reversed: boolean): Promise<void> {
    await em.execute(
      `insert into accounting_payment_allocation (id, organization_id, created_at, updated_at, allocation_id, payment_id, invoice_id, amount, currency, reversed)
       values (gen_random_uuid(), ?, clock_timestamp(), clock_timestamp(), ?, ?, ?, ?, ?, ?)
       on conflict (organization_id, allocation_id) do update
         set reversed = accounting_payment_allocation.reversed or excluded.reversed, updated_at = excluded.updated_at`,
      [organizationId, a.allocationId, a.paymentId, a.invoiceId, a.amount.amount, a.amount.currency, reversed],
    );
  }
}
