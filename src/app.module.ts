import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { BullModule } from '@nestjs/bull';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { LoggerModule } from 'nestjs-pino';
import { AccessGuard } from '#libs/auth/index.js';
import type { Clock } from '#libs/ddd/index.js';
import { OutboxModule } from '#libs/outbox/index.js';
import type { AppConfig } from './config/index.js';
import { SettleGraphQLModule } from './graphql/graphql.module.js';
import { inputValidationPipe } from './graphql/validation.pipe.js';
import { CoreModule } from './infra/core.module.js';
import { ormConfig } from './infra/database/mikro-orm.config.js';
import { HealthController } from './infra/health.controller.js';
import { loggerParams } from './infra/logging.js';
import { PaymentGatewayModule } from './infra/payment-gateway/index.js';
import { AgreementsModule } from './modules/agreements/index.js';
import { CustomersModule } from './modules/customers/index.js';
import { IdentityModule } from './modules/identity/index.js';
import { IntegrationsModule } from './modules/integrations/index.js';
import { InvoicingModule } from './modules/invoicing/index.js';
import { NotificationsModule } from './modules/notifications/index.js';
import { PaymentsModule } from './modules/payments/index.js';
import { WalletModule } from './modules/wallet/index.js';
import { DeadLettersResolver } from './platform/dead-letters.resolver.js';

export interface AppModuleOptions {
  config: AppConfig;
  databaseUrl: string;
  redisUrl: string;
  clock?: Clock;
  /** Schedule the repeatable jobs: outbox relay, message dispatch (off in tests, which drain them themselves). */
  scheduleJobs?: boolean;
  onQuery?: (sql: string) => void;
  onShutdown?: () => Promise<void>;
}

/**
 * The composition root. The process role decides what runs here: `api` serves GraphQL and the hosted pages,
 * `worker` runs the queue processors, `all` does both. Every role answers /health and /ready.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const { config } = options;
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot({
          config,
          redisUrl: options.redisUrl,
          clock: options.clock,
          onShutdown: options.onShutdown,
        }),
        LoggerModule.forRoot(loggerParams(config.logLevel)),
        MikroOrmModule.forRoot({
          ...ormConfig(options.databaseUrl, { onQuery: options.onQuery }),
          registerRequestContext: true,
        }),
        BullModule.forRoot({ redis: options.redisUrl, prefix: config.queuePrefix }),
        OutboxModule.forRoot({
          ...config.outbox,
          worker: config.runsWorker,
          scheduleRelay: options.scheduleJobs ?? true,
        }),
        ...(config.runsApi ? [SettleGraphQLModule] : []),
        PaymentGatewayModule.forRoot({ gateway: config.paymentGateway.name, api: config.runsApi }),
        IdentityModule,
        CustomersModule.forRoot({ api: config.runsApi }),
        WalletModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
        InvoicingModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
        AgreementsModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
        PaymentsModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
        IntegrationsModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
        NotificationsModule.forRoot({
          api: config.runsApi,
          worker: config.runsWorker,
          schedule: options.scheduleJobs ?? true,
        }),
      ],
      controllers: [HealthController],
      providers: [
        { provide: APP_GUARD, useClass: AccessGuard },
        { provide: APP_PIPE, useFactory: inputValidationPipe },
        ...(config.runsApi ? [DeadLettersResolver] : []),
      ],
    };
  }
}
