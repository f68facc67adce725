import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum WorkOrderStatus {
  SCHEDULED = 'SCHEDULED',
  /** Its agreement is suspended: technicians are not sent (the dispatch query never returns it). */
  SUSPENDED = 'SUSPENDED',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(WorkOrderStatus, { name: 'WorkOrderStatus' });

/**
 * A scheduled service visit: generated from an agreement's schedule (one per period, unique per agreement and date,
 * so generating twice creates nothing new) or added by staff; a one-off job has no agreement.
 */
@Entity({ tableName: 'work_order' })
@TenantScoped()
@Unique({ properties: ['agreementId', 'scheduledFor'] })
@Index({ properties: ['organizationId', 'scheduledFor', 'status'] })
@Index({ properties: ['organizationId', 'customerId'] })
export class WorkOrder extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** Null for a one-off job. */
  @Property({ type: 'uuid', nullable: true })
  agreementId: string | null = null;

  @Property({ type: 'date' })
  scheduledFor!: string;

  @Property({ type: 'text' })
  title!: string;

  @Enum({ items: () => WorkOrderStatus, nativeEnumName: 'work_order_status' })
  status: WorkOrderStatus = WorkOrderStatus.SCHEDULED;

  /** The invoice of the job (invoiceWorkOrder); a technician collects payments against it. */
  @Property({ type: 'uuid', nullable: true })
  invoiceId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  technicianUserId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;
}
