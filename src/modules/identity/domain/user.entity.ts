import { Entity, Enum, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Role } from '#libs/auth/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum UserStatus {
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
}

registerEnumType(UserStatus, { name: 'UserStatus' });

/** A staff member of one organization. Emails are unique across Settle so that login needs only email + password. */
@ObjectType({ description: 'A staff member of an organization' })
@Entity({ tableName: 'app_user' })
@TenantScoped()
export class User extends TenantEntity {
  @Field()
  @Property({ type: 'text' })
  @Unique()
  email!: string;

  @Field()
  @Property({ type: 'text' })
  name!: string;

  /** argon2id encoded hash (algorithm, parameters and salt included). */
  @Property({ type: 'text', lazy: true, hidden: true })
  passwordHash!: string;

  @Field(() => Role)
  @Enum({ items: () => Role, nativeEnumName: 'staff_role' })
  role!: Role;

  @Field(() => UserStatus)
  @Enum({ items: () => UserStatus, nativeEnumName: 'user_status' })
  status: UserStatus = UserStatus.ACTIVE;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null = null;
}
