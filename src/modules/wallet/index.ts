// Public contract of the wallet module: the only file other modules may import.
export { WalletModule } from './wallet.module.js';
