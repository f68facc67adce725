import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { IsBoolean, IsEnum, IsInt, IsOptional } from 'class-validator';
import type { DunningPolicyValue } from '../application/dunning.js';
import { DunningTrigger, MAX_DUNNING_THRESHOLD } from '../domain/dunning-policy.entity.js';

@ObjectType('DunningPolicy', { description: "The organization's dunning policy: what happens when an agreement's charge fails" })
export class DunningPolicyView {
  @Field({ description: 'Suspend agreements (and their visits from today on) whose payment is overdue. Off by default' })
  suspend!: boolean;

  @Field(() => DunningTrigger, { description: 'When an overdue agreement is suspended (with suspend on)' })
  when!: DunningTrigger;

  @Field(() => Int, { nullable: true, description: 'N failed attempts (AFTER_FAILED_ATTEMPTS) or N days unpaid since the charge first failed or the due date, whichever came first (AFTER_DAYS_UNPAID); null for IMMEDIATELY' })
  threshold!: number | null;

  @Field({ description: 'Also email the office (OWNERs, ADMINs, PAYMENT_MANAGERs) about failed agreement charges and suspensions, not only in-app' })
  notifyOfficeByEmail!: boolean;

  @Field({ description: 'A suspended agreement becomes ACTIVE again by itself once its overdue invoices are paid' })
  autoReactivateWhenPaid!: boolean;

  @Field(() => ID, { nullable: true })
  updatedBy!: string | null;

  @Field(() => Date, { nullable: true, description: 'Null: never changed (the defaults)' })
  updatedAt!: Date | null;

  static from(v: DunningPolicyValue): DunningPolicyView {
    return Object.assign(new DunningPolicyView(), {
      suspend: v.suspend,
      when: v.trigger,
      threshold: v.threshold,
      notifyOfficeByEmail: v.notifyOfficeByEmail,
      autoReactivateWhenPaid: v.autoReactivateWhenPaid,
      updatedBy: v.updatedBy,
      updatedAt: v.updatedAt,
    });
  }
}

@InputType({ description: 'Only the fields given change' })
export class UpdateDunningPolicyInput {
  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  suspend?: boolean | null;

  @Field(() => DunningTrigger, { nullable: true, description: 'AFTER_FAILED_ATTEMPTS and AFTER_DAYS_UNPAID need a threshold with them' })
  @IsOptional()
  @IsEnum(DunningTrigger)
  when?: DunningTrigger | null;

  @Field(() => Int, { nullable: true, description: `1–${MAX_DUNNING_THRESHOLD}; only with AFTER_FAILED_ATTEMPTS or AFTER_DAYS_UNPAID` })
  @IsOptional()
  @IsInt()
  threshold?: number | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  notifyOfficeByEmail?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  autoReactivateWhenPaid?: boolean | null;
}
