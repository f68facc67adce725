import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

export type SandboxObjectType = 'customer' | 'payment_method' | 'setup_intent' | 'checkout_session' | 'payment_intent' | 'refund' | 'idempotency_record';

/**
 * One object of the sandbox gateway (customer, payment method, setup intent, checkout session, payment intent (a
 * charge), or the remembered
 * outcome of an idempotent request), as Stripe would hold it on its servers. Not tenant-scoped on purpose: the sandbox
 * stands in for the gateway, which knows nothing of organizations. Card and account numbers are never in `data`.
 */
@Entity({ tableName: 'sandbox_gateway_object' })
@Index({ properties: ['type', 'createdAt'] })
export class SandboxGatewayObject {
  /** The gateway's id: cus_…, pm_…, seti_…, cs_test_…, pi_…, re_…, idr_… */
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'text' })
  type!: SandboxObjectType;

  @Property({ type: 'jsonb' })
  data!: Record<string, unknown>;

  /** Only on idempotency records: the caller's key, unique, so a replayed request finds its first outcome. */
  @Property({ type: 'text', nullable: true, unique: true })
  idempotencyKey: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
