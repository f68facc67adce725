import { BigIntType } from '@mikro-orm/core';
import { Entity, Index, Property } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * One line of an invoice. Quantity in thousandths (1.5 -> 1500), tax rate in thousandths of a percent
 * (14.975% -> 14975), amounts in minor units of the invoice's currency, each rounded per line (invoice-math.ts).
 * Lines of a draft are replaced as a whole when the draft is edited; an issued invoice's lines never change.
 */
@Entity({ tableName: 'invoice_line' })
@TenantScoped()
@Index({ properties: ['organizationId', 'invoiceId', 'position'] })
export class InvoiceLine extends TenantEntity {
  @Property({ type: 'uuid' })
  invoiceId!: string;

  /** 0, 1, 2, … in the order given. */
  @Property({ type: 'smallint' })
  position!: number;

  @Property({ type: 'text' })
  description!: string;

  @Property({ type: new BigIntType('bigint') })
  quantity!: bigint;

  @Property({ type: new BigIntType('bigint') })
  unitPrice!: bigint;

  /** Thousandths of a percent; null: no tax on this line. */
  @Property({ type: 'integer', nullable: true })
  taxRate: number | null = null;

  @Property({ type: new BigIntType('bigint') })
  subtotal!: bigint;

  @Property({ type: new BigIntType('bigint') })
  tax!: bigint;

  @Property({ type: new BigIntType('bigint') })
  total!: bigint;
}
