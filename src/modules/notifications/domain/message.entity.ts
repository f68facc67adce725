import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { Channel, MessageKind } from './message-kind.js';

export enum MessageStatus {
  /** Waiting to be sent (first time or after a failed attempt, see nextAttemptAt). */
  QUEUED = 'QUEUED',
  /** A worker has it (until leaseUntil). A worker that dies here leaves the lease to run out. */
  SENDING = 'SENDING',
  SENT = 'SENT',
  /** Every attempt failed; lastError holds the provider's reason. An ADMIN can resend it. */
  FAILED = 'FAILED',
}
registerEnumType(MessageStatus, { name: 'MessageStatus' });

/**
 * One email or SMS to one recipient, rendered when it was requested so that every attempt sends the same content.
 * The table is its own outbox: rows are written in the transaction of the business change, and the dispatcher sends
 * what is due. `dedupeKey` is unique per organization and channel: asking twice for the same message sends it once.
 */
@ObjectType('Message', { description: 'An email or SMS Settle sent, or is sending, on behalf of the organization' })
@Entity({ tableName: 'message' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'dedupeKey', 'channel'] })
@Index({ name: 'message_due_idx', expression: 'create index "message_due_idx" on "message" ("next_attempt_at") where "status" in (\'QUEUED\', \'SENDING\')' })
@Index({ properties: ['organizationId', 'customerId', 'createdAt'] })
export class Message extends TenantEntity {
  @Property({ type: 'text' })
  dedupeKey!: string;

  @Field(() => MessageKind)
  @Enum({ items: () => MessageKind, nativeEnumName: 'message_kind' })
  kind!: MessageKind;

  @Field(() => Channel)
  @Enum({ items: () => Channel, nativeEnumName: 'message_channel' })
  channel!: Channel;

  /** An email address or an E.164 phone number. */
  @Field()
  @Property({ type: 'text' })
  recipient!: string;

  @Field()
  @Property({ type: 'text' })
  recipientName!: string;

  /** Display name of the sender (the organization) at the time of the request. */
  @Property({ type: 'text' })
  senderName!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  customerId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  userId: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  subject: string | null = null;

  @Field()
  @Property({ type: 'text' })
  text!: string;

  @Property({ type: 'text', nullable: true })
  html: string | null = null;

  @Field(() => MessageStatus)
  @Enum({ items: () => MessageStatus, nativeEnumName: 'message_status' })
  status: MessageStatus = MessageStatus.QUEUED;

  @Field()
  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  leaseUntil: Date | null = null;

  @Field(() => String, { nullable: true, description: "The provider's reason for the last failure" })
  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'text', nullable: true })
  providerMessageId: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  sentAt: Date | null = null;
}
