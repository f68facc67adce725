import { Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Length, MaxLength, ValidateNested } from 'class-validator';
import { MoneyInput, MoneyType } from '../../../graphql/scalars.js';
import { type Refund, RefundStatus } from '../domain/refund.entity.js';
import { MAX_REFUND_REASON } from '../application/refunds.use-case.js';

@ObjectType('Refund', { description: 'Money given back from a payment' })
export class RefundView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  paymentId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => RefundStatus, { description: 'PENDING until the gateway confirms it; FAILED when it refused (nothing was returned)' })
  status!: RefundStatus;

  @Field()
  reason!: string;

  @Field({ description: 'The invoices it was taken back from owe it again (else a REFUND credit note keeps them settled)' })
  reopenInvoices!: boolean;

  @Field(() => String, { nullable: true, description: "The gateway's refund id (re_…)" })
  gatewayRefundId!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the gateway refused it, in words' })
  failureMessage!: string | null;

  @Field(() => ID, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  succeededAt!: Date | null;

  static from(r: Refund, locale = 'en-US'): RefundView {
    return Object.assign(new RefundView(), {
      id: r.id,
      paymentId: r.paymentId,
      amount: MoneyType.from(r.money(), locale),
      status: r.status,
      reason: r.reason,
      reopenInvoices: r.reopenInvoices,
      gatewayRefundId: r.gatewayRefundId,
      failureMessage: r.status === RefundStatus.FAILED ? r.failureMessage : null,
      createdBy: r.createdBy,
      createdAt: r.createdAt,
      succeededAt: r.succeededAt,
    });
  }
}

@InputType()
export class RefundPaymentInput {
  @Field(() => ID, { description: "Another organization's payment, or no payment, answers NOT_FOUND" })
  @IsString()
  paymentId!: string;

  @Field(() => MoneyInput, { nullable: true, description: 'Omitted: all that is left of the payment' })
  @IsOptional()
  @ValidateNested()
  @Type(() => MoneyInput)
  amount?: MoneyInput | null;

  @Field({ description: 'Why; the customer reads it in the refund email' })
  @IsString()
  @Length(1, MAX_REFUND_REASON)
  reason!: string;

  @Field(() => Boolean, { nullable: true, description: 'The invoices it is taken back from owe it again (default false: a REFUND credit note keeps them settled)' })
  @IsOptional()
  @IsBoolean()
  reopenInvoices?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Your own key: the same key again answers the same refund' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  idempotencyKey?: string | null;
}
