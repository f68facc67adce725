import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { IsBoolean, IsInt, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { PostalAddressInput, PostalAddressType } from '../../../graphql/address.js';
import { ConsentAction } from '../domain/consent-record.entity.js';
import type { ConsentRecord } from '../domain/consent-record.entity.js';
import {
  ConsentSource,
  PaymentMethodKind,
  PaymentMethodStatus,
  SavedVia,
  type PaymentMethod,
} from '../domain/payment-method.entity.js';

/** Cards expiring within this many days are "expiring soon" (and get a notice with an update link). */
export const EXPIRING_SOON_DAYS = 30;

@ObjectType('PaymentMethodConsent', { description: "The customer's consent to be charged for future agreed purchases" })
export class PaymentMethodConsentView {
  @Field({ description: 'True while consent is in force' })
  granted!: boolean;

  @Field(() => Date, { nullable: true })
  grantedAt!: Date | null;

  @Field(() => ConsentSource, { nullable: true })
  source!: ConsentSource | null;

  @Field(() => ID, { nullable: true, description: 'The staff member who recorded it; null when the customer did' })
  recordedBy!: string | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

@ObjectType('PaymentMethodConsentRecord', { description: 'One grant or revocation of consent: who, when, how' })
export class ConsentRecordView {
  @Field(() => ID)
  id!: string;

  @Field(() => ConsentAction)
  action!: ConsentAction;

  @Field(() => ConsentSource, { nullable: true })
  source!: ConsentSource | null;

  @Field(() => ID, { nullable: true })
  recordedBy!: string | null;

  @Field(() => String, { nullable: true, description: 'The wording agreed to, the staff note, or the reason for a revocation' })
  note!: string | null;

  @Field(() => String, { nullable: true })
  ipAddress!: string | null;

  @Field()
  at!: Date;

  static from(r: ConsentRecord): ConsentRecordView {
    return Object.assign(new ConsentRecordView(), {
      id: r.id,
      action: r.action,
      source: r.source,
      recordedBy: r.recordedBy,
      note: r.note,
      ipAddress: r.ipAddress,
      at: r.createdAt,
    });
  }
}

@ObjectType('PaymentMethod', { description: 'A saved card or bank account (a gateway token; never the number)' })
export class PaymentMethodView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => PaymentMethodKind)
  kind!: PaymentMethodKind;

  @Field(() => PaymentMethodStatus)
  status!: PaymentMethodStatus;

  @Field({ description: 'For people: "Visa ending in 4242"' })
  label!: string;

  @Field(() => String, { nullable: true, description: 'Cards: visa, mastercard, amex, discover, ...' })
  brand!: string | null;

  @Field()
  last4!: string;

  @Field(() => Int, { nullable: true })
  expMonth!: number | null;

  @Field(() => Int, { nullable: true })
  expYear!: number | null;

  @Field(() => String, { nullable: true, description: 'Cards: the last day the card works (YYYY-MM-DD)' })
  expiresOn!: string | null;

  @Field({ description: 'Cards past their expiry month' })
  expired!: boolean;

  @Field({ description: `Cards expiring within ${EXPIRING_SOON_DAYS} days (or already expired)` })
  expiringSoon!: boolean;

  @Field(() => String, { nullable: true, description: 'Cards: credit, debit or prepaid' })
  funding!: string | null;

  @Field(() => String, { nullable: true })
  bankName!: string | null;

  @Field(() => String, { nullable: true, description: 'Bank accounts: checking or savings' })
  accountType!: string | null;

  @Field(() => PostalAddressType)
  billingAddress!: PostalAddressType;

  @Field()
  isDefault!: boolean;

  @Field(() => SavedVia)
  savedVia!: SavedVia;

  @Field(() => ID, { nullable: true, description: 'The staff member who saved it; null when the customer did' })
  savedBy!: string | null;

  @Field(() => PaymentMethodConsentView)
  consent!: PaymentMethodConsentView;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  removedAt!: Date | null;

  static from(m: PaymentMethod, now: Date): PaymentMethodView {
    const expiresOn = m.expiresOn();
    const soon = new Date(now.getTime() + EXPIRING_SOON_DAYS * 86_400_000).toISOString().slice(0, 10);
    return Object.assign(new PaymentMethodView(), {
      id: m.id,
      customerId: m.customerId,
      kind: m.kind,
      status: m.status,
      label: m.label(),
      brand: m.brand,
      last4: m.last4,
      expMonth: m.expMonth,
      expYear: m.expYear,
      expiresOn,
      expired: m.isExpired(now),
      expiringSoon: expiresOn !== null && expiresOn <= soon,
      funding: m.funding,
      bankName: m.bankName,
      accountType: m.accountType,
      billingAddress: PostalAddressType.from(m.billingAddress),
      isDefault: m.isDefault,
      savedVia: m.savedVia,
      savedBy: m.savedBy,
      consent: Object.assign(new PaymentMethodConsentView(), {
        granted: m.consentGranted,
        grantedAt: m.consentGrantedAt,
        source: m.consentSource,
        recordedBy: m.consentRecordedBy,
        revokedAt: m.consentRevokedAt,
      }),
      createdAt: m.createdAt,
      removedAt: m.removedAt,
    });
  }
}

@ObjectType('SavePaymentMethodPayload')
export class SavePaymentMethodPayload {
  @Field(() => PaymentMethodView)
  paymentMethod!: PaymentMethodView;

  @Field({ description: 'The same card or account was already saved: it was updated instead of added' })
  updatedExisting!: boolean;
}

@InputType()
export class SavePaymentMethodInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field({
    description:
      'A token from the gateway (Stripe.js PaymentMethod id, or in sandbox mode a test token such as pm_card_visa or one ' +
      'made by POST /sandbox-gateway/v1/payment_methods). Never a card number.',
  })
  @IsString()
  @Length(3, 255, { message: 'token must be a gateway token such as pm_...' })
  token!: string;

  @Field(() => PostalAddressInput, { nullable: true, description: "Defaults to the customer's billing address" })
  @IsOptional()
  @ValidateNested()
  @Type(() => PostalAddressInput)
  billingAddress?: PostalAddressInput | null;

  @Field({ defaultValue: false, description: 'Make it the default method (the first saved method always is)' })
  @IsBoolean()
  makeDefault: boolean = false;

  @Field({
    description:
      'The customer told you they authorize the organization to charge this method for future agreed purchases ' +
      '(recorded as STAFF_ON_CUSTOMER_INSTRUCTION, with you as the recorder)',
  })
  @IsBoolean()
  consentGiven!: boolean;

  @Field(() => String, { nullable: true, description: 'How and when the customer said so, e.g. "by phone, signed form on file"' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  consentNote?: string | null;
}

@InputType()
export class UpdateCardExpiryInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'id must be a payment method id' })
  id!: string;

  @Field(() => Int)
  @IsInt()
  @Min(1, { message: 'expMonth must be 1 to 12' })
  @Max(12, { message: 'expMonth must be 1 to 12' })
  expMonth!: number;

  @Field(() => Int, { description: 'Four digits, e.g. 2029' })
  @IsInt()
  @Min(2000, { message: 'expYear must be a four-digit year' })
  @Max(2100, { message: 'expYear must be a four-digit year' })
  expYear!: number;
}

@InputType()
export class ReplaceCardInput {
  @Field(() => ID, { description: 'The card being replaced' })
  @IsUUID('all', { message: 'id must be a payment method id' })
  id!: string;

  @Field({ description: 'A gateway token for the new card' })
  @IsString()
  @Length(3, 255, { message: 'token must be a gateway token such as pm_...' })
  token!: string;
}

@InputType()
export class PaymentMethodConsentInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'id must be a payment method id' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'Grant: how the customer said so. Revoke: the reason.' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string | null;
}
