import { ArgsType, Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { IsOptional, IsUUID } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { PaymentMethodType, PaymentPurpose } from '../domain/payment.entity.js';

@ObjectType('ProcessingPayment', {
  description: 'A bank debit (eCheck / ACH) the gateway accepted and the bank has not answered yet: its invoices are not paid until it succeeds',
})
export class ProcessingPaymentView {
  @Field(() => ID, { description: 'The payment' })
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => PaymentMethodType)
  methodType!: PaymentMethodType;

  @Field({ description: 'e.g. "STRIPE TEST BANK checking ending in 6789"' })
  methodLabel!: string;

  @Field(() => PaymentPurpose)
  purpose!: PaymentPurpose;

  @Field(() => [ID], { description: 'The invoices it pays once it succeeds' })
  invoiceIds!: string[];

  @Field(() => Int, { description: 'The attempt in flight (1 for the first)' })
  attempt!: number;

  @Field({ description: 'When the payment was taken' })
  createdAt!: Date;

  @Field({ description: 'When the current attempt was sent to the gateway' })
  submittedAt!: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the bank is expected to answer: exact in sandbox mode (SANDBOX_DEBIT_SETTLE_SECONDS after submission); at Stripe ' +
      'the latest usual date, 4 business days after submission (Stripe does not say in advance); null when unknown',
  })
  expectedSettleAt!: Date | null;
}

export const ProcessingPaymentConnection = ConnectionType(ProcessingPaymentView, 'ProcessingPayment');

@ArgsType()
export class ProcessingPaymentsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only this customer’s' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string | null;
}
