import { BigIntType } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { Money } from '#libs/money/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum RefundStatus {
  /** Committed before the gateway call; the gateway has not confirmed it yet (or its answer was lost). */
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  /** The gateway refused it (nothing was returned); the payment is unchanged. */
  FAILED = 'FAILED',
}
registerEnumType(RefundStatus, { name: 'RefundStatus' });

/**
 * Money given back from a succeeded payment. The row is committed (PENDING) before the gateway is asked, under the
 * gateway idempotency key `refund:<id>`, so a crash or timeout between the two is finished later by asking again
 * with that key, never by refunding twice. `idempotencyKey` is the request's (the client's own, or a new one), unique
 * per organization. PENDING refunds count against what is left to refund, so two refunds racing never exceed the
 * payment.
 */
@Entity({ tableName: 'refund' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'idempotencyKey'] })
@Index({ properties: ['organizationId', 'paymentId', 'createdAt'] })
@Index({
  name: 'refund_pending_idx',
  expression: 'create index "refund_pending_idx" on "refund" ("updated_at") where "status" = \'PENDING\'',
})
@Check({ name: 'refund_amount_positive', expression: '"amount" > 0' })
export class Refund extends TenantEntity {
  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Enum({ items: () => RefundStatus, nativeEnumName: 'refund_status' })
  status: RefundStatus = RefundStatus.PENDING;

  @Property({ type: 'text' })
  reason!: string;

  /** Invoices the refund took back from owe it again, instead of a REFUND credit note keeping them settled. */
  @Property({ type: 'boolean' })
  reopenInvoices: boolean = false;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  /** The gateway's refund (re_…), once it named it. */
  @Property({ type: 'text', nullable: true })
  gatewayRefundId: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  failureMessage: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  succeededAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  failedAt: Date | null = null;

  money(): Money {
    return Money.of(this.amount, this.currency);
  }

  /** The gateway idempotency key: one refund at the gateway per row, whatever retries happen. */
  gatewayKey(): string {
    return `refund:${this.id}`;
  }
}

export const REFUND_ENTITIES = [Refund];
