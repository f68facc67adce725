import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '#libs/auth/index.js';
import { Clock, domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';
import { InAppNotification } from '../domain/in-app-notification.entity.js';
import { Channel, KIND_SPECS, MessageKind } from '../domain/message-kind.js';
import { Message } from '../domain/message.entity.js';
import { normalizeEmail, normalizePhone } from '../infrastructure/contacts.js';
import { NotificationError, NotificationErrorReason } from '../notification.error.js';
import type { MessageData } from './message-data.js';
import { TemplateService } from './template.service.js';

export interface CustomerRecipient {
  customerId?: string | null;
  name: string;
  email?: string | null;
  phone?: string | null;
  /** The customer said no to marketing notices (renewal notices). Transactional messages ignore it. */
  marketingOptOut?: boolean;
}

export interface NotifyCustomerCommand {
  /** Unique per organization for this message, e.g. `receipt:<paymentId>`: asking again sends nothing new. */
  dedupeKey: string;
  kind: MessageKind;
  recipient: CustomerRecipient;
  channels: Channel[];
  data: MessageData;
}

export interface NotifyCustomerResult {
  messages: Message[];
  /** Channels not used, e.g. because of a marketing opt-out. */
  skipped: { channel: Channel; reason: 'OPTED_OUT' }[];
}

export interface NotifyStaffCommand {
  dedupeKey: string;
  /** Recipients: these users, and/or every active user with one of these roles. */
  userIds?: string[];
  roles?: readonly Role[];
  title: string;
  body: string;
  link?: string;
  /** Also send it by email. */
  email?: boolean;
}

export const NotificationEvents = { StaffNotified: 'StaffNotified' } as const;
export interface StaffNotifiedPayload {
  notificationIds: string[];
}

/**
 * The one way to send. Call it with the EntityManager of the business change: messages are rows written in that
 * transaction, so they exist exactly when the change does, and the dispatcher sends them after commit, with retries.
 * Everything is validated before anything is written: a customer without the email or phone a channel needs gets
 * a clear error and no channel is sent.
 */
@Injectable()
export class Notifications {
  constructor(
    private readonly templates: TemplateService,
    private readonly directory: IdentityDirectory,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async notifyCustomer(em: EntityManager, cmd: NotifyCustomerCommand): Promise<NotifyCustomerResult> {
    const channels = [...new Set(cmd.channels)];
    if (channels.length === 0) {
      throw new NotificationError(NotificationErrorReason.NO_CHANNEL, 'Choose at least one channel: EMAIL or SMS', 'channels');
    }
    const addresses = new Map<Channel, string>();
    for (const channel of channels) addresses.set(channel, this.addressFor(channel, cmd.recipient));

    if (KIND_SPECS[cmd.kind].marketing && cmd.recipient.marketingOptOut) {
      return { messages: [], skipped: channels.map((channel) => ({ channel, reason: 'OPTED_OUT' as const })) };
    }
    const org = await this.organization(em);
    const messages: Message[] = [];
    for (const channel of channels) {
      const existing = await em.findOne(Message, { dedupeKey: cmd.dedupeKey, channel });
      if (existing) {
        messages.push(existing);
        continue;
      }
      const rendered = await this.templates.render(em, org, cmd.kind, channel, {
        customerName: cmd.recipient.name,
        ...cmd.data,
      });
      messages.push(
        this.queue(em, {
          dedupeKey: cmd.dedupeKey,
          kind: cmd.kind,
          channel,
          recipient: addresses.get(channel)!,
          recipientName: cmd.recipient.name,
          customerId: cmd.recipient.customerId ?? null,
          senderName: org.name,
          ...rendered,
        }),
      );
    }
    return { messages, skipped: [] };
  }

  async notifyStaff(em: EntityManager, cmd: NotifyStaffCommand): Promise<InAppNotification[]> {
    const byRole = cmd.roles?.length ? await this.directory.staffWithRoles(em, cmd.roles) : [];
    const recipients = new Map(byRole.map((u) => [u.id, u]));
    if (cmd.userIds?.length) {
      for (const u of await this.directory.staffByIds(em, cmd.userIds)) recipients.set(u.id, u);
    }
    const created: InAppNotification[] = [];
    // One query for who already has it, and one rendering of the email for everyone (it has no per-user placeholder).
    const already = new Set(
      (await em.find(InAppNotification, { userId: { $in: [...recipients.keys()] }, dedupeKey: cmd.dedupeKey })).map((n) => n.userId),
    );
    const org = cmd.email ? await this.organization(em) : undefined;
    const rendered = org
      ? await this.templates.render(em, org, MessageKind.STAFF_ALERT, Channel.EMAIL, { title: cmd.title, body: cmd.body })
      : undefined;
    for (const user of recipients.values()) {
      if (already.has(user.id)) continue;
      const n = new InAppNotification();
      n.userId = user.id;
      n.dedupeKey = cmd.dedupeKey;
      n.title = cmd.title;
      n.body = cmd.body;
      n.link = cmd.link ?? null;
      em.persist(n);
      created.push(n);
      if (org && rendered) {
        this.queue(em, {
          dedupeKey: `${cmd.dedupeKey}:${user.id}`,
          kind: MessageKind.STAFF_ALERT,
          channel: Channel.EMAIL,
          recipient: user.email,
          recipientName: user.name,
          customerId: null,
          userId: user.id,
          senderName: org.name,
          ...rendered,
        });
      }
    }
    if (created.length) {
      // Pushed to subscribed clients after commit, by the outbox consumer.
      this.outbox.record(
        em,
        domainEvent<StaffNotifiedPayload>(NotificationEvents.StaffNotified, currentTenant(em) ?? null, {
          notificationIds: created.map((n) => n.id),
        }),
      );
    }
    return created;
  }

  private addressFor(channel: Channel, recipient: CustomerRecipient): string {
    if (channel === Channel.EMAIL) {
      if (!recipient.email?.trim()) {
        throw new NotificationError(
          NotificationErrorReason.MISSING_EMAIL,
          `${recipient.name} has no email address: add one to the customer's record or choose SMS`,
          'email',
        );
      }
      return normalizeEmail(recipient.email);
    }
    if (!recipient.phone?.trim()) {
      throw new NotificationError(
        NotificationErrorReason.MISSING_PHONE,
        `${recipient.name} has no phone number: add one to the customer's record or choose email`,
        'phone',
      );
    }
    return normalizePhone(recipient.phone, this.config.notifications.defaultPhoneCountry);
  }

  private async organization(em: EntityManager): Promise<OrganizationProfile> {
    const id = currentTenant(em);
    const org = id ? await this.directory.organization(em, id) : null;
    if (!org) throw new Error('Notifications need an EntityManager scoped to an organization');
    return org;
  }

  private queue(
    em: EntityManager,
    fields: Pick<Message, 'dedupeKey' | 'kind' | 'channel' | 'recipient' | 'recipientName' | 'customerId' | 'senderName' | 'subject' | 'text' | 'html'> &
      Partial<Pick<Message, 'userId'>>,
  ): Message {
    const m = Object.assign(new Message(), fields);
    m.nextAttemptAt = this.clock.now();
    em.persist(m);
    return m;
  }
}
