// Public contract of the notifications module: the only file other modules may import.
export { NotificationsModule, type NotificationsModuleOptions } from './notifications.module.js';
export {
  Notifications,
  NotificationEvents,
  type CustomerRecipient,
  type NotifyCustomerCommand,
  type NotifyCustomerResult,
  type NotifyStaffCommand,
  type StaffNotifiedPayload,
} from './application/notifications.facade.js';
export type { MessageData } from './application/message-data.js';
export { MessageDispatcher } from './application/message-dispatcher.js';
export { SealedLinks } from './application/sealed-links.js';
export { MessageKind, Channel, Placeholder, KIND_SPECS } from './domain/message-kind.js';
export { MessageStatus } from './domain/message.entity.js';
export { NotificationError, NotificationErrorReason } from './notification.error.js';
export { normalizeEmail, normalizePhone } from './infrastructure/contacts.js';
