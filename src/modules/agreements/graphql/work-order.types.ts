import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { IsArray, IsEnum, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { type WorkOrder, WorkOrderStatus } from '../domain/work-order.entity.js';

@ObjectType('WorkOrder', { description: 'A scheduled service visit or a one-off job' })
export class WorkOrderView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field(() => ID, { nullable: true, description: 'Null for a one-off job' })
  agreementId!: string | null;

  @Field({ description: 'YYYY-MM-DD' })
  scheduledFor!: string;

  @Field()
  title!: string;

  @Field(() => WorkOrderStatus)
  status!: WorkOrderStatus;

  @Field(() => ID, { nullable: true, description: 'The invoice of the job (invoiceWorkOrder)' })
  invoiceId!: string | null;

  @Field(() => ID, { nullable: true })
  technicianUserId!: string | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  cancelledAt!: Date | null;

  @Field()
  createdAt!: Date;

  static from(w: WorkOrder): WorkOrderView {
    return Object.assign(new WorkOrderView(), {
      id: w.id,
      customerId: w.customerId,
      agreementId: w.agreementId,
      scheduledFor: w.scheduledFor,
      title: w.title,
      status: w.status,
      invoiceId: w.invoiceId,
      technicianUserId: w.technicianUserId,
      completedAt: w.completedAt,
      cancelledAt: w.cancelledAt,
      createdAt: w.createdAt,
    });
  }
}

export const WorkOrderConnection = ConnectionType(WorkOrderView, 'WorkOrder');

@InputType()
export class CreateWorkOrderInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId!: string;

  @Field(() => ID, { nullable: true, description: 'A visit of this agreement; none for a one-off job' })
  @IsOptional()
  @IsUUID('all', { message: 'agreementId must be a UUID' })
  agreementId?: string | null;

  @Field({ description: 'YYYY-MM-DD' })
  @IsString()
  scheduledFor!: string;

  @Field()
  @IsString()
  @MaxLength(200)
  title!: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'technicianUserId must be a UUID' })
  technicianUserId?: string | null;
}

@ArgsType()
export class WorkOrdersArgs extends PageArgs {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'agreementId must be a UUID' })
  agreementId?: string | null;

  @Field(() => [WorkOrderStatus], { nullable: true })
  @IsOptional()
  @IsArray()
  @IsEnum(WorkOrderStatus, { each: true })
  status?: WorkOrderStatus[] | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD: scheduled on or after' })
  @IsOptional()
  @IsString()
  from?: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD: scheduled on or before' })
  @IsOptional()
  @IsString()
  to?: string | null;
}

@ArgsType()
export class DispatchableWorkOrdersArgs extends PageArgs {
  @Field({ description: 'YYYY-MM-DD: scheduled on or after' })
  @IsString()
  from!: string;

  @Field({ description: 'YYYY-MM-DD: scheduled on or before' })
  @IsString()
  to!: string;

  @Field(() => ID, { nullable: true, description: "Only this technician's" })
  @IsOptional()
  @IsUUID('all', { message: 'technicianUserId must be a UUID' })
  technicianUserId?: string | null;
}
