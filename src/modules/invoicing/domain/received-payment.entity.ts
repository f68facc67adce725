import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum ReceivedPaymentStatus {
  /** Some of it is neither allocated to invoices nor turned into account credit: it is in the reconciliation list. */
  UNRECONCILED = 'UNRECONCILED',
  /** All of it is allocated to invoices or turned into account credit. */
  RECONCILED = 'RECONCILED',
  /** The money did not stay (a returned bank debit, a refund): its allocations were reversed. */
  REVERSED = 'REVERSED',
}
registerEnumType(ReceivedPaymentStatus, { name: 'ReceivedPaymentStatus' });

export enum PaymentSource {
  /** Cash, cheque or bank transfer recorded by the office. */
  OFFLINE = 'OFFLINE',
  /** Reported by the Payments module (a charge, a payment request paid). */
  PAYMENTS = 'PAYMENTS',
}
registerEnumType(PaymentSource, { name: 'PaymentSource' });

export enum OfflinePaymentMethod {
  CASH = 'CASH',
  CHEQUE = 'CHEQUE',
  BANK_TRANSFER = 'BANK_TRANSFER',
  OTHER = 'OTHER',
}
registerEnumType(OfflinePaymentMethod, { name: 'OfflinePaymentMethod' });

/**
 * Money received from a customer that Invoicing must reconcile with invoices. Its id is the payment's id: the
 * Payments module's id for a charge (so recording it twice is recording it once), a new id for an offline payment.
 * What is not allocated to invoices nor turned into account credit keeps it UNRECONCILED.
 */
@Entity({ tableName: 'received_payment' })
@TenantScoped()
@Index({ properties: ['organizationId', 'status', 'receivedAt', 'id'] })
@Index({ properties: ['organizationId', 'customerId', 'receivedAt'] })
@Index({ properties: ['organizationId', 'receivedAt'] })
@Check({
  name: 'received_payment_within_amount',
  expression:
    '"amount" > 0 and "amount_allocated" >= 0 and "amount_credited" >= 0 and "amount_refunded" >= 0 and "amount_allocated" + "amount_credited" + "amount_refunded" <= "amount"',
})
export class ReceivedPayment extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => PaymentSource, nativeEnumName: 'payment_source' })
  source!: PaymentSource;

  /** CASH, CHEQUE, BANK_TRANSFER, OTHER for offline payments; the Payments module's label ("Visa ending in 4242"). */
  @Property({ type: 'text' })
  method!: string;

  /** Cheque number, transfer reference, receipt number. */
  @Property({ type: 'text', nullable: true })
  reference: string | null = null;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  /** Sum of the allocations in force. */
  @Property({ type: new BigIntType('bigint') })
  amountAllocated: bigint = 0n;

  /** Turned into account credit (an OVERPAYMENT credit). */
  @Property({ type: new BigIntType('bigint') })
  amountCredited: bigint = 0n;

  /** Given back to the customer by Payments (refunds), out of what was neither allocated nor credited. */
  @Property({ type: new BigIntType('bigint') })
  amountRefunded: bigint = 0n;

  @Enum({ items: () => ReceivedPaymentStatus, nativeEnumName: 'received_payment_status' })
  status: ReceivedPaymentStatus = ReceivedPaymentStatus.UNRECONCILED;

  @Property({ type: 'timestamptz' })
  receivedAt!: Date;

  /** The staff member who recorded an offline payment. */
  @Property({ type: 'uuid', nullable: true })
  recordedBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  reversedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  reversalReason: string | null = null;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }

  /** Neither allocated nor credited nor refunded. */
  unallocated(): Money {
    if (this.status === ReceivedPaymentStatus.REVERSED) return Money.zero(this.currency);
    return this.money(this.amount - this.amountAllocated - this.amountCredited - this.amountRefunded);
  }

  /** UNRECONCILED while some of it is unaccounted for. */
  reconcile(): void {
    if (this.status === ReceivedPaymentStatus.REVERSED) return;
    this.status = this.unallocated().isZero() ? ReceivedPaymentStatus.RECONCILED : ReceivedPaymentStatus.UNRECONCILED;
  }
}

/** Part of a payment allocated to an invoice. Reversed (not deleted) when the payment is reversed. */
@Entity({ tableName: 'payment_allocation' })
@TenantScoped()
@Index({ properties: ['organizationId', 'invoiceId'] })
@Index({ properties: ['organizationId', 'paymentId'] })
@Index({ properties: ['organizationId', 'createdAt'] })
@Check({ name: 'payment_allocation_amount_positive', expression: '"amount" > 0' })
export class PaymentAllocation extends TenantEntity {
  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: 'uuid' })
  invoiceId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  /** Who allocated it; null when Payments allocated it with the payment. */
  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  reversedAt: Date | null = null;
}
