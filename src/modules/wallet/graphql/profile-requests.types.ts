import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsEnum, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { Channel } from '../../notifications/index.js';
import { PaymentMethodKind } from '../domain/payment-method.entity.js';
import { type PaymentProfileRequest, ProfileRequestPurpose, ProfileRequestStatus } from '../domain/payment-profile-request.entity.js';

@ObjectType('PaymentProfileRequest', {
  description: 'A secure, single-use, expiring link sent to a customer to add a card or bank account (the link itself is never shown)',
})
export class PaymentProfileRequestView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => ProfileRequestStatus, { description: 'EXPIRED when still PENDING past expiresAt' })
  status!: ProfileRequestStatus;

  @Field(() => ProfileRequestPurpose)
  purpose!: ProfileRequestPurpose;

  @Field(() => ID, { nullable: true, description: 'REPLACE_CARD: the card the new one replaces' })
  replacesPaymentMethodId!: string | null;

  @Field(() => [Channel])
  channels!: Channel[];

  @Field(() => String, { nullable: true, description: 'The address the link was emailed to' })
  sentToEmail!: string | null;

  @Field(() => String, { nullable: true, description: 'The number the link was texted to (E.164)' })
  sentToPhone!: string | null;

  @Field(() => [PaymentMethodKind], { description: 'What the customer may add' })
  kinds!: PaymentMethodKind[];

  @Field(() => String, { nullable: true, description: 'The note shown to the customer on the page' })
  message!: string | null;

  @Field()
  expiresAt!: Date;

  @Field(() => ID, { nullable: true, description: 'The staff member who sent it; null when Settle sent it (a card-expiring notice)' })
  requestedBy!: string | null;

  @Field({ description: 'The customer ticked the consent box on the page' })
  consentGiven!: boolean;

  @Field(() => Date, { nullable: true })
  consentGivenAt!: Date | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'The method the customer saved' })
  paymentMethodId!: string | null;

  @Field(() => Date, { nullable: true })
  cancelledAt!: Date | null;

  @Field(() => ID, { nullable: true })
  cancelledBy!: string | null;

  @Field()
  createdAt!: Date;

  static from(r: PaymentProfileRequest, now: Date): PaymentProfileRequestView {
    return Object.assign(new PaymentProfileRequestView(), {
      id: r.id,
      customerId: r.customerId,
      status: r.statusAt(now),
      purpose: r.purpose,
      replacesPaymentMethodId: r.replacesPaymentMethodId,
      channels: r.channels as Channel[],
      sentToEmail: r.sentToEmail,
      sentToPhone: r.sentToPhone,
      kinds: r.kinds,
      message: r.note,
      expiresAt: r.expiresAt,
      requestedBy: r.requestedBy,
      consentGiven: r.consentGiven,
      consentGivenAt: r.consentGivenAt,
      completedAt: r.completedAt,
      paymentMethodId: r.paymentMethodId,
      cancelledAt: r.cancelledAt,
      cancelledBy: r.cancelledBy,
      createdAt: r.createdAt,
    });
  }
}

export const PaymentProfileRequestConnection = ConnectionType(PaymentProfileRequestView, 'PaymentProfileRequest');

@InputType()
export class SendPaymentProfileRequestInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId!: string;

  @Field(() => [Channel], { description: 'EMAIL and/or SMS' })
  @IsArray()
  @ArrayNotEmpty({ message: 'channels must name EMAIL, SMS or both' })
  @ArrayUnique({ message: 'channels must not repeat a channel' })
  @IsEnum(Channel, { each: true, message: 'channels must be EMAIL or SMS' })
  channels!: Channel[];

  @Field(() => String, { nullable: true, description: "Email the link here instead of the customer's email (the record is not changed)" })
  @IsOptional()
  @IsString()
  @MaxLength(320, { message: 'email must be at most 320 characters' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: "Text the link here instead of the customer's phone (the record is not changed)" })
  @IsOptional()
  @IsString()
  @MaxLength(40, { message: 'phone must be at most 40 characters' })
  phone?: string | null;

  @Field(() => [PaymentMethodKind], { nullable: true, description: 'What the customer may add; both when absent' })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty({ message: 'kinds must name CARD, BANK_ACCOUNT or both (or be left out)' })
  @ArrayUnique({ message: 'kinds must not repeat a kind' })
  @ArrayMaxSize(2)
  @IsEnum(PaymentMethodKind, { each: true, message: 'kinds must be CARD or BANK_ACCOUNT' })
  kinds?: PaymentMethodKind[] | null;

  @Field(() => String, { nullable: true, description: 'A note shown to the customer at the top of the page' })
  @IsOptional()
  @IsString()
  @MaxLength(500, { message: 'message must be at most 500 characters' })
  message?: string | null;
}

@ArgsType()
export class PaymentProfileRequestsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: "Only this customer's requests" })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;

  @Field(() => ProfileRequestStatus, { nullable: true })
  @IsOptional()
  @IsEnum(ProfileRequestStatus, { message: 'status must be PENDING, COMPLETED, CANCELLED or EXPIRED' })
  status?: ProfileRequestStatus | null;

  @Field(() => ProfileRequestPurpose, { nullable: true, description: 'REPLACE_CARD: the requests sent for expiring cards' })
  @IsOptional()
  @IsEnum(ProfileRequestPurpose, { message: 'purpose must be NEW or REPLACE_CARD' })
  purpose?: ProfileRequestPurpose | null;
}
