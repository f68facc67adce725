// Public contract of the notifications module: the only file other modules may import.
export { NotificationsModule } from './notifications.module.js';
