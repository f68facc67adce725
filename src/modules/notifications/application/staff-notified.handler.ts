import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { EventHandler, type EventConsumer } from '#libs/outbox/index.js';
import { InAppNotification } from '../domain/in-app-notification.entity.js';
import { NotificationPubSub } from '../infrastructure/notification-pubsub.js';
import { NotificationEvents, type StaffNotifiedPayload } from './notifications.facade.js';

/**
 * Pushes committed in-app notifications to the clients subscribed to `notificationReceived`, in every API process.
 * Runs after the commit that created them (outbox), so a rolled-back change pushes nothing. A retried delivery may
 * push a notification twice; clients key them by id.
 */
@Injectable()
@EventHandler(NotificationEvents.StaffNotified, { name: 'notifications.push-staff-notified' })
export class StaffNotifiedHandler implements EventConsumer {
  constructor(private readonly pubsub: NotificationPubSub) {}

  async handle(event: DeliveredEvent, em: EntityManager): Promise<void> {
    const { notificationIds } = event.payload as unknown as StaffNotifiedPayload;
    if (!notificationIds?.length) return;
    // `em` is scoped to the event's organization: ids of another organization find nothing.
    const notifications = await em.find(
      InAppNotification,
      { id: { $in: notificationIds } },
      { orderBy: { createdAt: 'asc', id: 'asc' } },
    );
    for (const n of notifications) {
      await this.pubsub.publish({
        id: n.id,
        organizationId: n.organizationId,
        userId: n.userId,
        title: n.title,
        body: n.body,
        link: n.link,
        createdAt: n.createdAt,
      });
    }
  }
}
