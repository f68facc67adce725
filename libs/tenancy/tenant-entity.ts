import { PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from '@nestjs/graphql';
import { newId } from '../ddd/index.js';

/**
 * Base of every business row: it belongs to exactly one organization.
 * Reads are scoped by the `tenant` filter (see tenant-filter.ts) and `organizationId` is filled in on insert
 * from the same context (tenant.subscriber.ts), so no query or use case has to remember either.
 */
@ObjectType({ isAbstract: true })
export abstract class TenantEntity {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Property({ type: 'uuid', index: true })
  organizationId!: string;

  @Field()
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
