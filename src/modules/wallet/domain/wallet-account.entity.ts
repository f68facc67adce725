import { Entity, Property, Unique } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * A customer's wallet at the payment gateway: the gateway's customer id. Every change to a customer's saved methods
 * first locks this row (SELECT ... FOR UPDATE), so two staff members saving an 11th card at the same moment cannot
 * both get past the limit of ten.
 */
@Entity({ tableName: 'wallet_account' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'customerId'] })
export class WalletAccount extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** `stripe` or `sandbox`: ids of one gateway mean nothing to the other. */
  @Property({ type: 'text' })
  gateway!: string;

  @Property({ type: 'text' })
  gatewayCustomerId!: string;
}
