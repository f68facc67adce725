import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type PostalAddress } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import type { Channel } from '../../notifications/index.js';
import { ConsentSource, PaymentMethod, PaymentMethodKind, PaymentMethodStatus, SavedVia } from '../domain/payment-method.entity.js';
import { ProfileRequestPurpose } from '../domain/payment-profile-request.entity.js';
import { WalletAccount } from '../domain/wallet-account.entity.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';
import { SavePaymentMethod } from './save-payment-method.use-case.js';
import { ProfileRequests } from './profile-requests.use-case.js';

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

/** A method another module collected (e.g. a one-off card a payment was taken with) to keep in the wallet. */
export interface SaveMethodCommand {
  customerId: string;
  /** The gateway token (pm_…). */
  token: string;
  billingAddress?: PostalAddress | null;
  /** The customer agreed, through the staff member, to future charges on it. */
  consentGiven: boolean;
  actorUserId: string | null;
}

/** The wallet's public queries for other modules. Pass a tenant-scoped EntityManager. */
@Injectable()
export class Wallet {
  constructor(
    private readonly clock: Clock,
    private readonly profileRequests: ProfileRequests,
    private readonly saver: SavePaymentMethod,
  ) {}

  /**
   * Saves a method a staff member collected (Payments' "save to wallet"), with the same checks as savePaymentMethod
   * (limit of ten, duplicates update the saved one, billing address); the customer is told (PAYMENT_METHOD_SAVED).
   * Call inside the caller's transaction.
   */
  async saveMethod(em: EntityManager, cmd: SaveMethodCommand): Promise<ChargeableMethod> {
    const { method } = await this.saver.execute(em, {
      customerId: cmd.customerId,
      token: cmd.token,
      billingAddress: cmd.billingAddress ?? null,
      consent: cmd.consentGiven ? { source: ConsentSource.STAFF_ON_CUSTOMER_INSTRUCTION } : null,
      via: SavedVia.STAFF,
      actorUserId: cmd.actorUserId,
    });
    const account = await em.findOne(WalletAccount, { customerId: method.customerId });
    return toChargeable(method, account?.gatewayCustomerId ?? null);
  }

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

  /**
   * `chargeable` for many methods with two queries (bulk billing): for each id, the method or the WalletError that
   * `chargeable` would throw (unknown ids: NOT_FOUND).
   */
  async chargeableMany(em: EntityManager, paymentMethodIds: readonly string[], options: ChargeableOptions): Promise<Map<string, ChargeableMethod | WalletError>> {
    const ids = [...new Set(paymentMethodIds)];
    const out = new Map<string, ChargeableMethod | WalletError>();
    if (!ids.length) return out;
    const methods = await em.find(PaymentMethod, { id: { $in: ids } });
    const accounts = new Map(
      (await em.find(WalletAccount, { customerId: { $in: [...new Set(methods.map((m) => m.customerId))] } })).map((a) => [a.customerId, a]),
    );
    const byId = new Map(methods.map((m) => [m.id, m]));
    const now = this.clock.now();
    for (const id of ids) {
      const method = byId.get(id);
      if (!method) out.set(id, WalletError.notFound(id));
      else if (method.status !== PaymentMethodStatus.ACTIVE) {
        out.set(id, new WalletError(WalletErrorReason.METHOD_REMOVED, `${method.label()} was removed from the wallet`, 'paymentMethodId'));
      } else if (method.isExpired(now)) {
        out.set(
          id,
          new WalletError(
            WalletErrorReason.CARD_EXPIRED,
            `${method.label()} expired at the end of ${method.expMonth}/${method.expYear}; update its expiry or use another method`,
            'paymentMethodId',
          ),
        );
      } else if (options.requireConsent && !method.consentGranted) {
        out.set(
          id,
          new WalletError(WalletErrorReason.CONSENT_REQUIRED, `The customer has not authorized charges to ${method.label()} for future purchases`, 'paymentMethodId'),
        );
      } else {
        const account = accounts.get(method.customerId);
        out.set(id, toChargeable(method, account?.gateway === method.gateway ? account.gatewayCustomerId : null));
      }
    }
    return out;
  }

  /**
   * Sends the customer a payment profile request (secure link, PAYMENT_PROFILE_REQUEST message) to update the method
   * a payment failed on, in the caller's transaction. An active card of theirs is to be replaced (REPLACE_CARD: the
   * new card takes its place and its default); otherwise they may add a card or bank account. Refusals (archived
   * customer, no email for EMAIL, ...) are WalletErrors thrown before anything is written.
   */
  async requestMethodUpdate(
    em: EntityManager,
    cmd: { customerId: string; channels: Channel[]; failedPaymentMethodId: string | null; note: string | null; requestedBy: string | null; dedupeKey?: string },
  ): Promise<{ id: string; expiresAt: Date; sentToEmail: string | null; sentToPhone: string | null }> {
    const failed = cmd.failedPaymentMethodId ? await em.findOne(PaymentMethod, { id: cmd.failedPaymentMethodId }) : null;
    const replace = failed?.customerId === cmd.customerId && failed.status === PaymentMethodStatus.ACTIVE && failed.kind === PaymentMethodKind.CARD;
    const request = await this.profileRequests.send(em, {
      customerId: cmd.customerId,
      channels: cmd.channels,
      note: cmd.note,
      requestedBy: cmd.requestedBy,
      purpose: replace ? ProfileRequestPurpose.REPLACE_CARD : ProfileRequestPurpose.NEW,
      replacesPaymentMethodId: replace ? failed.id : null,
      dedupeKey: cmd.dedupeKey,
    });
    return { id: request.id, expiresAt: request.expiresAt, sentToEmail: request.sentToEmail, sentToPhone: request.sentToPhone };
  }

  /** `defaultMethod` for many customers in one query: customer id -> the id of their default method (check with chargeableMany()). */
  async defaultMethodIds(em: EntityManager, customerIds: readonly string[]): Promise<Map<string, string>> {
    const ids = [...new Set(customerIds)];
    if (!ids.length) return new Map();
    const rows = await em.execute<{ id: string; customer_id: string }[]>(
      `select id, customer_id from payment_method where organization_id = ? and customer_id = any(?::uuid[]) and status = ? and is_default`,
      [currentTenant(em), `{${ids.join(',')}}`, PaymentMethodStatus.ACTIVE],
    );
    return new Map(rows.map((r) => [r.customer_id, r.id]));
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
