import path from 'node:path';
import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bull';
import { AppConfig } from '../../config/index.js';
import { IdentityModule } from '../identity/index.js';
import { MessageDispatcher } from './application/message-dispatcher.js';
import { Notifications } from './application/notifications.facade.js';
import { SealedLinks } from './application/sealed-links.js';
import { StaffNotifiedHandler } from './application/staff-notified.handler.js';
import { TemplateService } from './application/template.service.js';
import { UserJoinedHandler } from './application/user-joined.handler.js';
import { InAppNotificationsResolver } from './graphql/in-app.resolver.js';
import { MessagesResolver } from './graphql/messages.resolver.js';
import { TemplatesResolver } from './graphql/templates.resolver.js';
import { DispatchProcessor, DispatchSchedule, NOTIFICATIONS_QUEUE } from './infrastructure/dispatch.processor.js';
import { EmailSender } from './infrastructure/email-sender.js';
import { FileEmailSender, SmtpEmailSender } from './infrastructure/nodemailer-email-sender.js';
import { NotificationPubSub } from './infrastructure/notification-pubsub.js';
import { SmsSender } from './infrastructure/sms-sender.js';
import { LocalSmsSender, TwilioSmsSender } from './infrastructure/sms-senders.js';

export interface NotificationsModuleOptions {
  /** Serve the GraphQL resolvers (process role api or all). */
  api: boolean;
  /** Run the dispatcher (process role worker or all). */
  worker: boolean;
  /** Schedule the dispatcher every NOTIFY_POLL_MS. Tests turn it off and dispatch themselves. */
  schedule: boolean;
}

/** Email, SMS and in-app messages from templates, sent after commit with retries. */
@Module({})
export class NotificationsModule {
  static forRoot(options: NotificationsModuleOptions): DynamicModule {
    return {
      module: NotificationsModule,
      // Global: every module that sends messages injects the Notifications facade without re-importing forRoot.
      global: true,
      imports: [IdentityModule, BullModule.registerQueue({ name: NOTIFICATIONS_QUEUE })],
      providers: [
        TemplateService,
        Notifications,
        MessageDispatcher,
        SealedLinks,
        NotificationPubSub,
        StaffNotifiedHandler,
        UserJoinedHandler,
        {
          provide: EmailSender,
          inject: [AppConfig],
          useFactory: (config: AppConfig) =>
            config.notifications.smtpUrl
              ? new SmtpEmailSender(config.notifications.smtpUrl)
              : new FileEmailSender(path.resolve(config.dataDir, 'mail')),
        },
        {
          provide: SmsSender,
          inject: [AppConfig],
          useFactory: ({ notifications: { sms }, dataDir }: AppConfig) =>
            sms.provider === 'twilio'
              ? new TwilioSmsSender({ accountSid: sms.accountSid!, authToken: sms.authToken!, fromNumber: sms.fromNumber!, apiUrl: sms.apiUrl })
              : new LocalSmsSender(path.resolve(dataDir, 'sms')),
        },
        ...(options.api ? [InAppNotificationsResolver, MessagesResolver, TemplatesResolver] : []),
        ...(options.worker ? [DispatchProcessor] : []),
        ...(options.worker && options.schedule ? [DispatchSchedule] : []),
      ],
      exports: [Notifications, MessageDispatcher, SealedLinks],
    };
  }
}
