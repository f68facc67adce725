import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MANAGERS } from '#libs/auth/index.js';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { IdentityDirectory, IdentityEvents, type UserJoinedPayload } from '../../identity/index.js';
import { Notifications } from './notifications.facade.js';

/** Tells the organization's OWNERs and ADMINs (in-app) that someone accepted an invitation. */
@Injectable()
@EventHandler(IdentityEvents.UserJoined, { name: 'notifications.user-joined' })
export class UserJoinedHandler implements EventConsumer {
  constructor(
    private readonly notifications: Notifications,
    private readonly directory: IdentityDirectory,
  ) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { userId, email, role } = event.payload as unknown as UserJoinedPayload;
    // The one who joined is not told about themselves (an invited ADMIN is one of the managers).
    const recipients = (await this.directory.staffWithRoles(em, MANAGERS)).filter((u) => u.id !== userId);
    if (recipients.length === 0) return;
    await this.notifications.notifyStaff(em, {
      dedupeKey: `user-joined:${userId}`,
      userIds: recipients.map((u) => u.id),
      title: `${email} joined`,
      body: `${email} accepted the invitation and joined your organization as ${role}.`,
    });
  }
}
