// Public contract of the wallet module: the only file other modules may import.
export { WalletModule, type WalletModuleOptions } from './wallet.module.js';
export { Wallet, type ChargeableMethod, type SaveMethodCommand } from './application/wallet.facade.js';
export { WalletHostedSetup, type StartHostedSetupCommand, type CompleteHostedSetupCommand, type HostedSetupResult } from './application/hosted-setup.facade.js';
export { WalletEvents, type PaymentMethodEventPayload } from './wallet.events.js';
export { WalletError, WalletErrorReason } from './wallet.error.js';
export { PaymentMethodKind, PaymentMethodStatus, ConsentSource, MAX_METHODS_PER_KIND } from './domain/payment-method.entity.js';
