import { Entity, Enum, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ObjectType } from '@nestjs/graphql';
import { Role } from '#libs/auth/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** An invitation to join an organization with a role. The link's token is stored only as its SHA-256. */
@ObjectType({ description: 'An invitation for someone to join the organization with a role' })
@Entity({ tableName: 'invitation' })
@TenantScoped()
export class Invitation extends TenantEntity {
  @Field()
  @Property({ type: 'text' })
  email!: string;

  @Field(() => Role)
  @Enum({ items: () => Role, nativeEnumName: 'staff_role' })
  role!: Role;

  @Property({ type: 'text' })
  @Unique()
  tokenHash!: string;

  @Property({ type: 'uuid' })
  invitedById!: string;

  @Field()
  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  acceptedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}
