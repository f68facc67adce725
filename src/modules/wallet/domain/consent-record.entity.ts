import { Entity, Enum, Index, Property } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { ConsentSource } from './payment-method.entity.js';

export enum ConsentAction {
  GRANTED = 'GRANTED',
  REVOKED = 'REVOKED',
}
registerEnumType(ConsentAction, { name: 'ConsentAction' });

/** One grant or revocation of consent to charge a saved method: who, when, how. Append-only. */
@Entity({ tableName: 'payment_method_consent' })
@TenantScoped()
@Index({ properties: ['organizationId', 'paymentMethodId', 'createdAt'] })
export class ConsentRecord extends TenantEntity {
  @Property({ type: 'uuid' })
  paymentMethodId!: string;

  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => ConsentAction, nativeEnumName: 'consent_action' })
  action!: ConsentAction;

  /** How a grant was given; null for a revocation. */
  @Enum({ items: () => ConsentSource, nativeEnumName: 'consent_source', nullable: true })
  source: ConsentSource | null = null;

  /** The staff member who recorded it; null when the customer did it on a hosted page. */
  @Property({ type: 'uuid', nullable: true })
  recordedBy: string | null = null;

  /** The wording the customer agreed to, or the staff member's note / the reason for a revocation. */
  @Property({ type: 'text', nullable: true })
  note: string | null = null;

  /** Hosted page: where the customer's browser was. */
  @Property({ type: 'text', nullable: true })
  ipAddress: string | null = null;

  @Property({ type: 'text', nullable: true })
  userAgent: string | null = null;
}
