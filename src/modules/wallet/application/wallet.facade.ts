import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { PaymentMethod, PaymentMethodKind, PaymentMethodStatus } from '../domain/payment-method.entity.js';
import { WalletAccount } from '../domain/wallet-account.entity.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';

/** What another module (Payments, Invoicing, Agreements) needs to charge a saved method. No card data. */
export interface ChargeableMethod {
  id: string;
  customerId: string;
  kind: PaymentMethodKind;
  gateway: string;
  gatewayPaymentMethodId: string;
  gatewayCustomerId: string | null;
  /** "Visa ending in 4242", for receipts and messages. */
  label: string;
  brand: string | null;
  last4: string;
  consentGranted: boolean;
}

export interface ChargeableOptions {
  /**
   * Charges the customer did not initiate right now (installments, agreements, mass charges) need their consent to
   * future charges. A charge the customer asked for at the counter does not.
   */
  requireConsent: boolean;
}

/** The wallet's public queries for other modules. Pass a tenant-scoped EntityManager. */
@Injectable()
export class Wallet {
  constructor(private readonly clock: Clock) {}

  /** A method that may be charged now, or a WalletError saying why not (removed, expired, no consent). */
  async chargeable(em: EntityManager, paymentMethodId: string, options: ChargeableOptions): Promise<ChargeableMethod> {
    const method = await em.findOne(PaymentMethod, { id: paymentMethodId });
    if (!method) throw WalletError.notFound(paymentMethodId);
    if (method.status !== PaymentMethodStatus.ACTIVE) {
      throw new WalletError(WalletErrorReason.METHOD_REMOVED, `${method.label()} was removed from the wallet`, 'paymentMethodId');
    }
    if (method.isExpired(this.clock.now())) {
      throw new WalletError(
        WalletErrorReason.CARD_EXPIRED,
        `${method.label()} expired at the end of ${method.expMonth}/${method.expYear}; update its expiry or use another method`,
        'paymentMethodId',
      );
    }
    if (options.requireConsent && !method.consentGranted) {
      throw new WalletError(
        WalletErrorReason.CONSENT_REQUIRED,
        `The customer has not authorized charges to ${method.label()} for future purchases`,
        'paymentMethodId',
      );
    }
    const account = await em.findOne(WalletAccount, { customerId: method.customerId });
    return toChargeable(method, account?.gateway === method.gateway ? account.gatewayCustomerId : null);
  }

  /** The customer's default method, if any (it may lack consent or be expired: check with chargeable()). */
  async defaultMethod(em: EntityManager, customerId: string): Promise<ChargeableMethod | null> {
    const method = await em.findOne(PaymentMethod, { customerId, status: PaymentMethodStatus.ACTIVE, isDefault: true });
    if (!method) return null;
    const account = await em.findOne(WalletAccount, { customerId });
    return toChargeable(method, account?.gatewayCustomerId ?? null);
  }
}

function toChargeable(method: PaymentMethod, gatewayCustomerId: string | null): ChargeableMethod {
  return {
    id: method.id,
    customerId: method.customerId,
    kind: method.kind,
    gateway: method.gateway,
    gatewayPaymentMethodId: method.gatewayPaymentMethodId,
    gatewayCustomerId,
    label: method.label(),
    brand: method.brand,
    last4: method.last4,
    consentGranted: method.consentGranted,
  };
}
