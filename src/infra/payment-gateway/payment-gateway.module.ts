import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { Clock } from '#libs/ddd/index.js';
import { AppConfig } from '../../config/index.js';
import { PaymentGateway } from './payment-gateway.js';
import { SandboxCheckout } from './sandbox/sandbox-checkout.service.js';
import { SandboxGatewayController } from './sandbox/sandbox-gateway.controller.js';
import { SandboxGateway } from './sandbox/sandbox-gateway.js';
import { SandboxStore } from './sandbox/sandbox-store.js';
import { StripeGateway } from './stripe-gateway.js';

export interface PaymentGatewayModuleOptions {
  /** PAYMENT_GATEWAY as resolved by the configuration. */
  gateway: 'stripe' | 'sandbox';
  /** Serve the sandbox's pages (process role api or all); the port itself is available to every role. */
  api: boolean;
}

/**
 * Provides the PaymentGateway port to every module (global): Stripe when configured, else the sandbox, whose
 * tokenization endpoint and hosted setup page are mounted under /sandbox-gateway only when it is the gateway.
 */
@Module({})
export class PaymentGatewayModule {
  static forRoot(options: PaymentGatewayModuleOptions): DynamicModule {
    if (options.gateway === 'stripe') {
      return {
        module: PaymentGatewayModule,
        global: true,
        providers: [
          {
            provide: PaymentGateway,
            inject: [AppConfig, Clock],
            useFactory: ({ paymentGateway }: AppConfig, clock: Clock) =>
              new StripeGateway({ ...paymentGateway.stripe!, now: () => clock.now() }),
          },
        ],
        exports: [PaymentGateway],
      };
    }
    return {
      module: PaymentGatewayModule,
      global: true,
      controllers: options.api ? [SandboxGatewayController] : [],
      providers: [
        SandboxStore,
        SandboxGateway,
        SandboxCheckout,
        {
          provide: PaymentGateway,
          inject: [SandboxGateway, AppConfig],
          useFactory: (sandbox: SandboxGateway, config: AppConfig) => {
            if (config.isProduction) {
              new Logger(PaymentGatewayModule.name).warn('PAYMENT_GATEWAY=sandbox in production: only Stripe test numbers are accepted and nothing is charged');
            }
            return sandbox;
          },
        },
      ],
      exports: [PaymentGateway],
    };
  }
}
