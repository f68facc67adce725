import { InAppNotification } from './domain/in-app-notification.entity.js';
import { Message } from './domain/message.entity.js';
import { NotificationTemplate } from './domain/notification-template.entity.js';

export const NOTIFICATIONS_ENTITIES = [Message, InAppNotification, NotificationTemplate];
