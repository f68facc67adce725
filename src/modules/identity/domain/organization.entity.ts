import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from '@nestjs/graphql';
import { newId } from '#libs/ddd/index.js';

/** A business using Settle: the tenant. Every business row carries its id. */
@ObjectType({ description: 'A business using Settle' })
@Entity({ tableName: 'organization' })
export class Organization {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Field()
  @Property({ type: 'text' })
  name!: string;

  /** ISO 4217 code; invoices and payments of the organization are in it. */
  @Field()
  @Property({ type: 'string', columnType: 'char(3)' })
  currency: string = 'USD';

  /** IANA time zone in which dates are shown to the organization's staff and customers. */
  @Field()
  @Property({ type: 'text' })
  timeZone: string = 'UTC';

  /** BCP 47 locale for amounts and dates in messages to customers. */
  @Field()
  @Property({ type: 'text', default: 'en-US' })
  locale: string = 'en-US';

  @Field()
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
