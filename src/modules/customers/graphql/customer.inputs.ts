import { ArgsType, Field, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PostalAddressInput } from '../../../graphql/address.js';
import { PageArgs } from '../../../graphql/pagination.js';
import { IsBigIntInRange } from '../../../graphql/validators.js';
import { MAX_CARD_EXPIRY_DAYS, MAX_OVERDUE_DAYS } from '../application/customer-search.js';
import { LIMITS, normalizeTag, TAG_PATTERN } from '../domain/customer-details.js';
import { CustomerStatus } from '../domain/customer.entity.js';
import { IsCalendarDate, IsEmailAddress, IsNotBlank, IsTag } from './validators.js';

/*
 * The limits here are the edge's first check, with the domain's numbers (customer-details.ts); the use cases check
 * again (the facade's callers do not come through GraphQL) and add what needs more than a decorator: phone numbers
 * (libphonenumber), the number of tags after de-duplication, dates of birth in the future.
 */

/** Raw tags before de-duplication may be a few more than the 20 distinct ones kept. */
const MAX_RAW_TAGS = 100;
const TAG_RULE = 'letters, digits, spaces and - _ . / & + # :';
const badTags = ({ value }: { value: unknown }) =>
  `each tag must be non-empty ${TAG_RULE} only (refused: ${(Array.isArray(value) ? value : [])
    .filter((t) => typeof t !== 'string' || !TAG_PATTERN.test(normalizeTag(t)))
    .map((t) => JSON.stringify(t))
    .join(', ')})`;

@InputType({ description: 'A place where the organization works for the customer' })
export class ServiceAddressInput {
  @Field(() => String, { nullable: true, description: 'e.g. "Cottage", "Main office"' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.serviceAddressLabel, { message: `label must be at most ${LIMITS.serviceAddressLabel} characters` })
  label?: string | null;

  @Field(() => PostalAddressInput)
  @ValidateNested()
  @Type(() => PostalAddressInput)
  address!: PostalAddressInput;
}

/** Fields shared by create and update; every one is optional here (create makes name required). */
@InputType({ isAbstract: true })
abstract class CustomerFields {
  @Field(() => String, { nullable: true, description: 'Validated and stored lower case' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.email, { message: `email must be at most ${LIMITS.email} characters` })
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Stored in E.164; a number without a country code is read as one of DEFAULT_PHONE_COUNTRY',
  })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.phone, { message: `phone must be at most ${LIMITS.phone} characters` })
  phone?: string | null;

  @Field(() => PostalAddressInput, { nullable: true, description: 'Required before a payment method is saved' })
  @IsOptional()
  @ValidateNested()
  @Type(() => PostalAddressInput)
  billingAddress?: PostalAddressInput | null;

  @Field(() => [ServiceAddressInput], { nullable: true, description: `At most ${LIMITS.serviceAddresses}; replaces the list` })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIMITS.serviceAddresses, { message: `serviceAddresses must have at most ${LIMITS.serviceAddresses} addresses` })
  @ValidateNested({ each: true })
  @Type(() => ServiceAddressInput)
  serviceAddresses?: ServiceAddressInput[] | null;

  @Field(() => String, {
    nullable: true,
    description: "The customer's id in the accounting system; unique in the organization. Empty or null clears it.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.externalReference, { message: `externalReference must be at most ${LIMITS.externalReference} characters` })
  externalReference?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.notes, { message: `notes must be at most ${LIMITS.notes} characters` })
  notes?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: `Replaces the tags: trimmed, lower-cased, duplicates dropped, at most ${LIMITS.tags}`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_RAW_TAGS)
  @IsString({ each: true })
  @MaxLength(LIMITS.tag, { each: true, message: `each tag must be at most ${LIMITS.tag} characters` })
  @IsTag({ each: true, message: badTags })
  tags?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'No marketing notices (receipts and payment messages are still sent)' })
  @IsOptional()
  @IsBoolean()
  marketingOptOut?: boolean | null;

  @Field(() => CustomerStatus, { nullable: true, description: 'ACTIVE or INACTIVE (archive with archiveCustomer)' })
  @IsOptional()
  @IsEnum(CustomerStatus, { message: 'status must be ACTIVE or INACTIVE' })
  status?: CustomerStatus | null;
}

@InputType()
export class CreateCustomerInput extends CustomerFields {
  @Field()
  @IsString()
  @IsNotBlank({ message: 'name must not be empty' })
  @MaxLength(LIMITS.name, { message: `name must be at most ${LIMITS.name} characters` })
  name!: string;
}

@InputType({ description: 'Only the fields given change; null clears an optional field' })
export class UpdateCustomerInput extends CustomerFields {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @IsNotBlank({ message: 'name must not be empty' })
  @MaxLength(LIMITS.name, { message: `name must be at most ${LIMITS.name} characters` })
  name?: string | null;
}

@InputType({ description: 'Every condition given must hold; a list matches any of its values' })
export class CustomerFilterInput {
  @Field(() => String, {
    nullable: true,
    description:
      'Words that must all appear in the name, email, phone, external reference, or a member\'s name, email or phone ' +
      '(case and accents ignored; a phone number matches by its digits)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.searchText, { message: `text must be at most ${LIMITS.searchText} characters` })
  text?: string | null;

  @Field(() => [String], { nullable: true, description: 'Customers with any of these tags' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIMITS.tags, { message: `tags must have at most ${LIMITS.tags} tags` })
  @IsString({ each: true })
  @MaxLength(LIMITS.tag, { each: true, message: `each tag must be at most ${LIMITS.tag} characters` })
  tags?: string[] | null;

  @Field(() => [CustomerStatus], { nullable: true, description: 'Any of these statuses; default ACTIVE and INACTIVE' })
  @IsOptional()
  @IsArray()
  @IsEnum(CustomerStatus, { each: true, message: 'status must be ACTIVE, INACTIVE or ARCHIVED' })
  status?: CustomerStatus[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Has (true) or has not (false) an active saved card' })
  @IsOptional()
  @IsBoolean()
  hasCard?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Has (true) or has not (false) an active saved bank account' })
  @IsOptional()
  @IsBoolean()
  hasBankAccount?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Has (true) or has not (false) consent to charge a saved method' })
  @IsOptional()
  @IsBoolean()
  hasConsent?: boolean | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "Has a card that has expired or expires within this many days (0: expired or expiring today; in the organization's time zone)",
  })
  @IsOptional()
  @IsInt()
  @Min(0, { message: 'cardExpiringWithinDays must be 0 or more' })
  @Max(MAX_CARD_EXPIRY_DAYS, { message: `cardExpiringWithinDays must be at most ${MAX_CARD_EXPIRY_DAYS}` })
  cardExpiringWithinDays?: number | null;

  @Field(() => BigInt, {
    nullable: true,
    description: 'Owes more than this amount (minor units of the organization\'s currency) on issued invoices; 0: owes anything',
  })
  @IsOptional()
  @IsBigIntInRange(0n, 10n ** 18n, { message: 'balanceOwedAbove must be 0 or more' })
  balanceOwedAbove?: bigint | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "Has an unpaid invoice overdue by more than this many days (due before today minus N, in the organization's time zone; 0: overdue at all)",
  })
  @IsOptional()
  @IsInt()
  @Min(0, { message: 'overdueByMoreThanDays must be 0 or more' })
  @Max(MAX_OVERDUE_DAYS, { message: `overdueByMoreThanDays must be at most ${MAX_OVERDUE_DAYS}` })
  overdueByMoreThanDays?: number | null;
}

@ArgsType()
export class CustomersArgs extends PageArgs {
  @Field(() => CustomerFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => CustomerFilterInput)
  filter?: CustomerFilterInput | null;
}

@InputType({ isAbstract: true })
abstract class MemberFields {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.email, { message: `email must be at most ${LIMITS.email} characters` })
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Stored in E.164' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.phone, { message: `phone must be at most ${LIMITS.phone} characters` })
  phone?: string | null;

  @Field(() => String, { nullable: true, description: 'To the account owner, e.g. "Child", "Spouse"' })
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.relationship, { message: `relationship must be at most ${LIMITS.relationship} characters` })
  relationship?: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD' })
  @IsOptional()
  @IsString()
  @IsCalendarDate({ message: 'dateOfBirth must be a date written YYYY-MM-DD' })
  dateOfBirth?: string | null;
}

@InputType()
export class AddCustomerMemberInput extends MemberFields {
  @Field()
  @IsString()
  @IsNotBlank({ message: 'name must not be empty' })
  @MaxLength(LIMITS.name, { message: `name must be at most ${LIMITS.name} characters` })
  name!: string;
}

@InputType({ description: 'Only the fields given change; null clears an optional field' })
export class UpdateCustomerMemberInput extends MemberFields {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @IsNotBlank({ message: 'name must not be empty' })
  @MaxLength(LIMITS.name, { message: `name must be at most ${LIMITS.name} characters` })
  name?: string | null;
}
