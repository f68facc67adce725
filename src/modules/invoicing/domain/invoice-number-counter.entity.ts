import { BigIntType } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { TenantScoped } from '#libs/tenancy/index.js';

/**
 * The next invoice number of an organization. Issuing an invoice increments it with one
 * `INSERT … ON CONFLICT DO UPDATE … RETURNING` in the issuing transaction (see IssueNumbers): the row stays locked
 * until that transaction ends, so concurrent issuers of one organization take numbers one after the other, and a
 * transaction that rolls back takes its increment with it — no gaps, no duplicates.
 */
@Entity({ tableName: 'invoice_number_counter' })
@TenantScoped()
export class InvoiceNumberCounter {
  @PrimaryKey({ type: 'uuid' })
  organizationId!: string;

  /** The number the next issued invoice gets. */
  @Property({ type: new BigIntType('bigint'), fieldName: 'next' })
  next!: bigint;
}
