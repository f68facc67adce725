import { Field, InputType, ObjectType } from '@nestjs/graphql';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { normalizeAddress, type PostalAddress } from '#libs/ddd/index.js';

@InputType('PostalAddressInput', { description: 'A postal address; country is an ISO 3166-1 alpha-2 code such as US or CA' })
export class PostalAddressInput implements PostalAddress {
  @Field()
  @IsString()
  @Length(1, 200, { message: 'line1 must be 1 to 200 characters' })
  line1!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  line2?: string | null;

  @Field()
  @IsString()
  @Length(1, 100, { message: 'city must be 1 to 100 characters' })
  city!: string;

  @Field(() => String, { nullable: true, description: 'State, province or region' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  region?: string | null;

  @Field()
  @IsString()
  @Length(1, 20, { message: 'postalCode must be 1 to 20 characters' })
  postalCode!: string;

  @Field()
  @IsString()
  @Matches(/^[A-Za-z]{2}$/, { message: 'country must be a two-letter ISO 3166 code such as US' })
  country!: string;

  toAddress(): PostalAddress {
    return normalizeAddress(this);
  }
}

@ObjectType('PostalAddress')
export class PostalAddressType implements PostalAddress {
  @Field()
  line1!: string;

  @Field(() => String, { nullable: true })
  line2?: string | null;

  @Field()
  city!: string;

  @Field(() => String, { nullable: true })
  region?: string | null;

  @Field()
  postalCode!: string;

  @Field()
  country!: string;

  static from(a: PostalAddress): PostalAddressType {
    return Object.assign(new PostalAddressType(), normalizeAddress(a));
  }
}
