import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsDate, IsEnum, IsOptional, IsUUID, ValidateNested } from 'class-validator';
import { PageArgs } from '../../../graphql/pagination.js';
import { PaymentPurpose } from '../domain/payment.entity.js';

@InputType({ description: 'Narrows the Payment Action Center' })
export class PaymentActionCenterFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be an id' })
  customerId?: string | null;

  @Field(() => PaymentPurpose, { nullable: true })
  @IsOptional()
  @IsEnum(PaymentPurpose)
  purpose?: PaymentPurpose | null;

  @Field(() => Date, { nullable: true, description: 'Failed at or after' })
  @IsOptional()
  @IsDate()
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Failed before' })
  @IsOptional()
  @IsDate()
  to?: Date | null;
}

@ArgsType()
export class PaymentActionCenterArgs extends PageArgs {
  @Field(() => PaymentActionCenterFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PaymentActionCenterFilter)
  filter?: PaymentActionCenterFilter | null;
}
