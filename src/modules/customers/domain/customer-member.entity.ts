import { Entity, Index, Property } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * A person on a customer account (household member, participant) who is billed to the account owner: they have
 * no wallet or invoices of their own. Their names and contacts are part of the account's search text, so a search
 * for a child's name finds the parent's account.
 */
@Entity({ tableName: 'customer_member' })
@TenantScoped()
@Index({ properties: ['organizationId', 'customerId'] })
export class CustomerMember extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  /** E.164. */
  @Property({ type: 'text', nullable: true })
  phone: string | null = null;

  /** To the account owner, free text: "Child", "Spouse", "Employee". */
  @Property({ type: 'text', nullable: true })
  relationship: string | null = null;

  /** YYYY-MM-DD. */
  @Property({ type: 'date', nullable: true })
  dateOfBirth: string | null = null;
}
