import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { IsArray, IsBoolean, IsOptional } from 'class-validator';
import type { PaymentSettingsValue } from '../application/payment-settings.js';

@ObjectType('PaymentSettings', { description: "The organization's payment settings: the automatic retry schedule of failed payments" })
export class PaymentSettingsView {
  @Field(() => [Int], {
    description:
      'Days after a payment first failed on which it is retried automatically (default 1, 3, 7): attempt n failed → ' +
      "the n-th day, at the first failure's time of day in the organization's time zone",
  })
  retryScheduleDays!: number[];

  @Field({ description: 'Failed off-session payments on a saved method are retried on the schedule' })
  autoRetry!: boolean;

  @Field(() => ID, { nullable: true })
  updatedBy!: string | null;

  @Field(() => Date, { nullable: true, description: 'Null: never changed (the defaults)' })
  updatedAt!: Date | null;

  static from(v: PaymentSettingsValue): PaymentSettingsView {
    return Object.assign(new PaymentSettingsView(), {
      retryScheduleDays: v.retryScheduleDays,
      autoRetry: v.autoRetry,
      updatedBy: v.updatedBy,
      updatedAt: v.updatedAt,
    });
  }
}

@InputType()
export class UpdatePaymentSettingsInput {
  @Field(() => [Int], { nullable: true, description: 'Strictly increasing days from 1 to 60, at most 10 ([] : no automatic retries)' })
  @IsOptional()
  @IsArray()
  retryScheduleDays?: number[] | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  autoRetry?: boolean | null;
}
