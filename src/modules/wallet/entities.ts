import { ConsentRecord } from './domain/consent-record.entity.js';
import { PaymentMethod } from './domain/payment-method.entity.js';
import { PaymentProfileRequest } from './domain/payment-profile-request.entity.js';
import { WalletAccount } from './domain/wallet-account.entity.js';

export const WALLET_ENTITIES = [WalletAccount, PaymentMethod, ConsentRecord, PaymentProfileRequest];
