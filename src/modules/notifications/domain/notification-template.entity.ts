import { Entity, Enum, Property, Unique } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { Channel, MessageKind } from './message-kind.js';

/** An organization's own wording of one message on one channel; without one, the default template is used. */
@Entity({ tableName: 'notification_template' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'kind', 'channel'] })
export class NotificationTemplate extends TenantEntity {
  @Enum({ items: () => MessageKind, nativeEnumName: 'message_kind' })
  kind!: MessageKind;

  @Enum({ items: () => Channel, nativeEnumName: 'message_channel' })
  channel!: Channel;

  /** Email only. */
  @Property({ type: 'text', nullable: true })
  subject: string | null = null;

  @Property({ type: 'text' })
  body!: string;
}
