import { Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { newId } from '../ddd/index.js';
import { TenantScoped } from '../tenancy/index.js';

export enum DeliveryStatus {
  /** The handler ran and its transaction committed: the inbox entry that makes a redelivery a no-op. */
  PROCESSED = 'PROCESSED',
  /** Every retry failed; waits for an ADMIN to replay it. */
  DEAD = 'DEAD',
}

/** One event handed to one handler: the inbox (dedupe) and the dead-letter list in one table. */
@Entity({ tableName: 'outbox_delivery' })
@TenantScoped()
@Unique({ properties: ['messageId', 'handler'] })
@Index({ properties: ['organizationId', 'status'] })
export class OutboxDelivery {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Property({ type: 'uuid' })
  messageId!: string;

  @Property({ type: 'text' })
  handler!: string;

  @Property({ type: 'text' })
  eventType!: string;

  @Property({ type: 'uuid', nullable: true })
  organizationId: string | null = null;

  @Enum({ items: () => DeliveryStatus, nativeEnumName: 'outbox_delivery_status' })
  status!: DeliveryStatus;

  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
