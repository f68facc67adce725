import { Entity, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ObjectType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** A notification shown to one staff user in the web and mobile clients. Only that user can mark it read. */
@ObjectType('Notification', { description: 'An in-app notification for the signed-in staff user' })
@Entity({ tableName: 'in_app_notification' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'userId', 'dedupeKey'] })
@Index({ properties: ['userId', 'readAt', 'createdAt'] })
export class InAppNotification extends TenantEntity {
  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'text' })
  dedupeKey!: string;

  @Field()
  @Property({ type: 'text' })
  title!: string;

  @Field()
  @Property({ type: 'text' })
  body!: string;

  @Field(() => String, { nullable: true, description: 'Where the client should take the user, e.g. a payment request' })
  @Property({ type: 'text', nullable: true })
  link: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  readAt: Date | null = null;
}
