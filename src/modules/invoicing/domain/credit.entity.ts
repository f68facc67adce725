import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum CreditKind {
  /** Credit note against an invoice for money to be given back (a refund follows through Payments). */
  REFUND = 'REFUND',
  /** Credit note against an invoice that corrects it (wrong price, service not rendered). */
  ADJUSTMENT = 'ADJUSTMENT',
  /** Account credit given by the organization (a gesture, a promotion). */
  GOODWILL = 'GOODWILL',
  /** Account credit from the unallocated part of a payment. */
  OVERPAYMENT = 'OVERPAYMENT',
}
registerEnumType(CreditKind, {
  name: 'CreditKind',
  description: 'REFUND and ADJUSTMENT are credit notes against an invoice; GOODWILL and OVERPAYMENT are account credit',
});

export const CREDIT_NOTE_KINDS: readonly CreditKind[] = [CreditKind.REFUND, CreditKind.ADJUSTMENT];

/**
 * An amount in the customer's favour. A credit note (REFUND, ADJUSTMENT) is against one invoice and is applied to it
 * at once as far as it owes; account credit (GOODWILL, OVERPAYMENT) belongs to the customer. Whatever is not applied
 * (`remaining`) can be applied to another of the customer's invoices. Applications are CreditApplication rows.
 */
@Entity({ tableName: 'credit' })
@TenantScoped()
@Index({ properties: ['organizationId', 'customerId', 'createdAt'] })
@Index({ properties: ['organizationId', 'invoiceId'] })
@Index({ properties: ['organizationId', 'createdAt'] })
@Check({ name: 'credit_remaining_within_amount', expression: '"amount" > 0 and "remaining" >= 0 and "remaining" <= "amount"' })
export class Credit extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** The invoice a credit note is against; null for account credit. */
  @Property({ type: 'uuid', nullable: true })
  invoiceId: string | null = null;

  @Enum({ items: () => CreditKind, nativeEnumName: 'credit_kind' })
  kind!: CreditKind;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  /** Not yet applied to an invoice. */
  @Property({ type: new BigIntType('bigint') })
  remaining!: bigint;

  @Property({ type: 'text' })
  reason!: string;

  /** OVERPAYMENT: the payment it came from (reversing that payment cancels the credit). */
  @Property({ type: 'uuid', nullable: true })
  sourcePaymentId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  /** Cancelled because its source payment was reversed; its applications were reversed with it. */
  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  money(minor: bigint): Money {
    return Money.of(minor, this.currency);
  }
}

/** Part of a credit applied to an invoice. Reversed (not deleted) when the credit is cancelled. */
@Entity({ tableName: 'credit_application' })
@TenantScoped()
@Index({ properties: ['organizationId', 'invoiceId'] })
@Index({ properties: ['organizationId', 'creditId'] })
@Index({ properties: ['organizationId', 'createdAt'] })
@Check({ name: 'credit_application_amount_positive', expression: '"amount" > 0' })
export class CreditApplication extends TenantEntity {
  @Property({ type: 'uuid' })
  creditId!: string;

  @Property({ type: 'uuid' })
  invoiceId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  reversedAt: Date | null = null;
}
