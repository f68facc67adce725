import { Field, ID, InputType } from '@nestjs/graphql';
import { IsEmail, IsEnum, IsOptional, IsString, IsTimeZone, IsUUID, Length, Matches, MaxLength } from 'class-validator';
import { IsLocale } from '../../../graphql/validators.js';
import { Role } from '#libs/auth/index.js';

const PASSWORD_RULE = 'password must be 10 to 200 characters long';

@InputType()
export class SignUpInput {
  @Field()
  @IsString()
  @Length(2, 200, { message: 'organizationName must be 2 to 200 characters long' })
  organizationName!: string;

  @Field()
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters long' })
  name!: string;

  @Field()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field()
  @IsString()
  @Length(10, 200, { message: PASSWORD_RULE })
  password!: string;

  @Field({ nullable: true, description: 'ISO 4217 currency of the organization; USD when omitted' })
  @IsOptional()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as USD' })
  currency?: string;

  @Field({ nullable: true, description: 'IANA time zone, e.g. America/Toronto; UTC when omitted' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @IsTimeZone({ message: 'timeZone must be an IANA time zone such as America/Toronto' })
  timeZone?: string;

  @Field({ nullable: true, description: 'BCP 47 locale for amounts and dates in customer messages, e.g. fr-CA; en-US when omitted' })
  @IsOptional()
  @IsString()
  @MaxLength(35)
  @IsLocale({ message: 'locale must be a BCP 47 locale such as en-US or fr-CA' })
  locale?: string;
}

@InputType()
export class LogInInput {
  @Field()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field()
  @IsString()
  @Length(1, 200)
  password!: string;
}

@InputType()
export class RefreshSessionInput {
  @Field()
  @IsString()
  @Length(20, 200)
  refreshToken!: string;
}

@InputType()
export class InviteUserInput {
  @Field()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field(() => Role)
  @IsEnum(Role, { message: 'role must be one of OWNER, ADMIN, PAYMENT_MANAGER, STAFF' })
  role!: Role;
}

@InputType()
export class AcceptInvitationInput {
  @Field()
  @IsString()
  @Length(20, 200)
  token!: string;

  @Field()
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters long' })
  name!: string;

  @Field()
  @IsString()
  @Length(10, 200, { message: PASSWORD_RULE })
  password!: string;
}

@InputType()
export class ChangeUserRoleInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'userId must be a user id' })
  userId!: string;

  @Field(() => Role)
  @IsEnum(Role, { message: 'role must be one of OWNER, ADMIN, PAYMENT_MANAGER, STAFF' })
  role!: Role;
}
