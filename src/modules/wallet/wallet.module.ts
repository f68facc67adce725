import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bull';
import { CustomersModule } from '../customers/index.js';
import { IdentityModule } from '../identity/index.js';
import { CardExpiryNotices } from './application/card-expiry-notices.js';
import { ManagePaymentMethods } from './application/manage-payment-methods.use-case.js';
import { ProfileRequestPages } from './application/profile-requests.hosted-page.js';
import { ProfileLinkRateLimiter } from './application/profile-requests.rate-limiter.js';
import { ProfileRequests } from './application/profile-requests.use-case.js';
import { SavePaymentMethod } from './application/save-payment-method.use-case.js';
import { WalletAccounts } from './application/wallet-accounts.js';
import { Wallet } from './application/wallet.facade.js';
import { WalletHostedSetup } from './application/hosted-setup.facade.js';
import { CustomerWalletResolver } from './graphql/customer-wallet.resolver.js';
import { PaymentMethodsResolver } from './graphql/payment-methods.resolver.js';
import { ProfileRequestsResolver } from './graphql/profile-requests.resolver.js';
import { CARD_EXPIRY_QUEUE, CardExpiryProcessor, CardExpirySchedule } from './infrastructure/card-expiry.processor.js';
import { ProfileRequestController } from './web/profile-request.controller.js';

export interface WalletModuleOptions {
  /** Serve GraphQL and the hosted pages (process role api or all). */
  api: boolean;
  /** Run the queue processors (process role worker or all). */
  worker: boolean;
  /** Schedule the repeatable jobs (tests run them themselves). */
  schedule: boolean;
}

/**
 * Saved cards and bank accounts, consent to charge, and payment profile requests (secure links). Imported as is
 * (`imports: [WalletModule]`, as Invoicing does) it provides the Wallet facade; the composition root uses forRoot,
 * which adds the resolvers, hosted pages and processors of the process role.
 */
@Module({
  imports: [CustomersModule, IdentityModule],
  providers: [WalletAccounts, SavePaymentMethod, ManagePaymentMethods, Wallet, ProfileRequests, CardExpiryNotices, WalletHostedSetup],
  exports: [Wallet, WalletHostedSetup],
})
export class WalletModule {
  static forRoot(options: WalletModuleOptions): DynamicModule {
    return {
      module: WalletModule,
      imports: options.worker ? [BullModule.registerQueue({ name: CARD_EXPIRY_QUEUE })] : [],
      controllers: options.api ? [ProfileRequestController] : [],
      providers: [
        ...(options.api ? [PaymentMethodsResolver, CustomerWalletResolver, ProfileRequestsResolver, ProfileRequestPages, ProfileLinkRateLimiter] : []),
        ...(options.worker ? [CardExpiryProcessor] : []),
        ...(options.worker && options.schedule ? [CardExpirySchedule] : []),
      ],
    };
  }
}
