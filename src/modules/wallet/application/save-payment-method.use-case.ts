import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { Clock, domainEvent, type PostalAddress } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import {
  GatewayError,
  type GatewayPaymentMethod,
  type MandateAcceptance,
  PaymentGateway,
} from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory, type CustomerSnapshot, CustomerStatus } from '../../customers/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { ConsentAction, ConsentRecord } from '../domain/consent-record.entity.js';
import {
  ConsentSource,
  MAX_METHODS_PER_KIND,
  PaymentMethod,
  PaymentMethodKind,
  PaymentMethodStatus,
  SavedVia,
} from '../domain/payment-method.entity.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';
import { WalletEvents } from '../wallet.events.js';
import { gatewayFailure } from './gateway-failure.js';
import { WalletAccounts } from './wallet-accounts.js';

/** What the customer agrees to when consent is recorded (shown on the hosted page; kept with each grant). */
export const CONSENT_WORDING =
  'I authorize {Organization Name} to save this payment method and charge it for future purchases I agree to, ' +
  'such as subscriptions, installments and service agreements, until I revoke this authorization.';

export interface ConsentInput {
  /** Who recorded it and how. */
  source: ConsentSource;
  /** The staff member's note (e.g. "by phone, 12 May"); the hosted page stores the wording agreed to. */
  note?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
}

export interface SavePaymentMethodCommand {
  customerId: string;
  /** A gateway token: from Stripe.js / Checkout, the sandbox's pages, or a test token such as pm_card_visa. */
  token: string;
  /** Defaults to the customer's billing address; one of the two is required. */
  billingAddress?: PostalAddress | null;
  makeDefault?: boolean;
  /** Consent to charge for future agreed purchases; null or absent: saved without it. */
  consent?: ConsentInput | null;
  via: SavedVia;
  /** The staff member saving it; null on a hosted page. */
  actorUserId: string | null;
  /**
   * The gateway already verified and attached the method (a completed setup session on a hosted page): the wallet
   * only records it. Otherwise the wallet confirms it for off-session use first.
   */
  alreadyAttached?: boolean;
}

export interface SavePaymentMethodResult {
  method: PaymentMethod;
  /** True when the same card or account was already saved and was updated instead of added. */
  updatedExisting: boolean;
}

/**
 * Saves a card or bank account to a customer's wallet. Order matters: everything that can refuse without side effects
 * (customer, billing address, the limit of ten, a duplicate) is checked before the gateway is asked to verify and
 * attach the method, so a refusal changes nothing anywhere.
 */
@Injectable()
export class SavePaymentMethod {
  private readonly logger = new Logger(SavePaymentMethod.name);

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly accounts: WalletAccounts,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  /** Call inside a transaction (the caller's em): the lock is held until it commits. */
  async execute(em: EntityManager, cmd: SavePaymentMethodCommand): Promise<SavePaymentMethodResult> {
    await this.accounts.lock(em, cmd.customerId);
    const customer = await this.customers.require(em, cmd.customerId);
    if (customer.status === CustomerStatus.ARCHIVED) {
      await this.release(cmd);
      throw new WalletError(WalletErrorReason.CUSTOMER_ARCHIVED, `Customer ${customer.name} is archived; reactivate them first`);
    }
    const billingAddress = cmd.billingAddress ?? customer.billingAddress;
    if (!billingAddress) {
      await this.release(cmd);
      throw new WalletError(
        WalletErrorReason.BILLING_ADDRESS_REQUIRED,
        'billingAddress: a billing address is required before a payment method is saved (on the customer or in this request)',
        'billingAddress',
      );
    }

    const described = await this.describe(cmd.token);
    const kind = described.kind === 'CARD' ? PaymentMethodKind.CARD : PaymentMethodKind.BANK_ACCOUNT;
    const fingerprint = (described.card ?? described.bankAccount)!.fingerprint;
    const duplicate = await em.findOne(PaymentMethod, {
      customerId: customer.id,
      kind,
      fingerprint,
      status: PaymentMethodStatus.ACTIVE,
    });
    if (!duplicate) {
      const count = await em.count(PaymentMethod, { customerId: customer.id, kind, status: PaymentMethodStatus.ACTIVE });
      if (count >= MAX_METHODS_PER_KIND) {
        await this.release(cmd);
        const what = kind === PaymentMethodKind.CARD ? 'cards' : 'bank accounts';
        throw new WalletError(
          WalletErrorReason.LIMIT_REACHED,
          `${customer.name} already has ${MAX_METHODS_PER_KIND} saved ${what}, the most a wallet holds; remove one first`,
          'token',
          { limit: MAX_METHODS_PER_KIND, kind },
        );
      }
    }

    const saved = cmd.alreadyAttached ? described : await this.attach(em, customer, cmd, billingAddress, described);
    const now = this.clock.now();
    let method: PaymentMethod;
    if (duplicate) {
      // Same card or account again (same fingerprint): refresh the saved one instead of adding a twin. The newer
      // token replaces the older, which is detached so only one stays chargeable at the gateway.
      const previousToken = duplicate.gatewayPaymentMethodId;
      method = duplicate;
      this.copyDetails(method, saved, billingAddress);
      if (previousToken !== saved.id) await this.detachQuietly(previousToken);
    } else {
      method = em.create(PaymentMethod, {
        customerId: customer.id,
        kind,
        gateway: this.gateway.name,
        savedVia: cmd.via,
        savedBy: cmd.actorUserId,
      } as PaymentMethod);
      this.copyDetails(method, saved, billingAddress);
      em.persist(method);
    }
    method.expiryNoticeFor = null;

    if (cmd.consent) this.grantConsent(em, method, cmd.consent, cmd.actorUserId, customer);

    const currentDefault = await em.findOne(PaymentMethod, { customerId: customer.id, status: PaymentMethodStatus.ACTIVE, isDefault: true });
    if (!currentDefault || (cmd.makeDefault && currentDefault !== method)) {
      if (currentDefault && currentDefault !== method) {
        currentDefault.isDefault = false;
        await em.flush(); // the partial unique index allows one default at a time
      }
      method.isDefault = true;
    }
    await this.accounts.refreshSummary(em, customer.id);

    this.outbox.record(
      em,
      domainEvent(WalletEvents.PaymentMethodSaved, currentTenant(em) ?? null, {
        paymentMethodId: method.id,
        customerId: customer.id,
        kind,
        consentGranted: method.consentGranted,
        updatedExisting: duplicate !== null,
        via: cmd.via,
      }),
    );
    // Seed 002: when staff save a method on a customer's behalf, the customer is told.
    if (cmd.via === SavedVia.STAFF) await this.tellCustomer(em, customer, method, now);
    await em.flush();
    return { method, updatedExisting: duplicate !== null };
  }

  grantConsent(em: EntityManager, method: PaymentMethod, consent: ConsentInput, actorUserId: string | null, customer: CustomerSnapshot): void {
    const now = this.clock.now();
    method.consentGranted = true;
    method.consentGrantedAt = now;
    method.consentSource = consent.source;
    method.consentRecordedBy = actorUserId;
    method.consentRevokedAt = null;
    em.persist(
      em.create(ConsentRecord, {
        paymentMethodId: method.id,
        customerId: customer.id,
        action: ConsentAction.GRANTED,
        source: consent.source,
        recordedBy: actorUserId,
        note: consent.note?.trim() || null,
        ipAddress: consent.ipAddress ?? null,
        userAgent: consent.userAgent ?? null,
        createdAt: now,
      } as ConsentRecord),
    );
  }

  private async describe(token: string): Promise<GatewayPaymentMethod> {
    const trimmed = token.trim();
    if (!trimmed) throw new WalletError(WalletErrorReason.TOKEN_INVALID, 'token: must not be empty', 'token');
    try {
      return await this.gateway.describePaymentMethod(trimmed);
    } catch (error) {
      throw error instanceof GatewayError ? gatewayFailure(error) : error;
    }
  }

  private async attach(
    em: EntityManager,
    customer: CustomerSnapshot,
    cmd: SavePaymentMethodCommand,
    billingAddress: PostalAddress,
    described: GatewayPaymentMethod,
  ): Promise<GatewayPaymentMethod> {
    const gatewayCustomerId = await this.accounts.gatewayCustomerId(em, customer);
    const acceptedAt = this.clock.now();
    const mandate: MandateAcceptance =
      cmd.consent?.ipAddress && cmd.consent.userAgent
        ? { type: 'online', acceptedAt, ipAddress: cmd.consent.ipAddress, userAgent: cmd.consent.userAgent }
        : { type: 'offline', acceptedAt };
    try {
      return await this.gateway.savePaymentMethod({
        gatewayCustomerId,
        paymentMethodId: described.id,
        billingAddress,
        mandate,
        idempotencyKey: `wallet-save:${currentTenant(em) ?? ''}:${customer.id}:${described.id}`,
      });
    } catch (error) {
      throw error instanceof GatewayError ? gatewayFailure(error) : error;
    }
  }

  private copyDetails(method: PaymentMethod, pm: GatewayPaymentMethod, billingAddress: PostalAddress): void {
    method.gateway = this.gateway.name;
    method.gatewayPaymentMethodId = pm.id;
    method.billingAddress = pm.billingAddress ?? billingAddress;
    method.status = PaymentMethodStatus.ACTIVE;
    if (pm.card) {
      method.fingerprint = pm.card.fingerprint;
      method.brand = pm.card.brand;
      method.last4 = pm.card.last4;
      method.expMonth = pm.card.expMonth;
      method.expYear = pm.card.expYear;
      method.funding = pm.card.funding;
    } else if (pm.bankAccount) {
      method.fingerprint = pm.bankAccount.fingerprint;
      method.last4 = pm.bankAccount.last4;
      method.bankName = pm.bankAccount.bankName;
      method.accountType = pm.bankAccount.accountType;
    }
  }

  /** A method the gateway already attached (hosted page) is detached again when the wallet refuses it. */
  private async release(cmd: SavePaymentMethodCommand): Promise<void> {
    if (cmd.alreadyAttached) await this.detachQuietly(cmd.token);
  }

  private async detachQuietly(paymentMethodId: string): Promise<void> {
    try {
      await this.gateway.detachPaymentMethod(paymentMethodId);
    } catch (error) {
      this.logger.warn(`Could not detach ${paymentMethodId} at the gateway: ${(error as Error).message}`);
    }
  }

  private async tellCustomer(em: EntityManager, customer: CustomerSnapshot, method: PaymentMethod, now: Date): Promise<void> {
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (channels.length === 0) return; // nowhere to write to; the wallet shows who saved it
    await this.notifications.notifyCustomer(em, {
      dedupeKey: `payment-method-saved:${method.id}:${method.gatewayPaymentMethodId}`,
      kind: MessageKind.PAYMENT_METHOD_SAVED,
      recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
      channels,
      data: { customerName: customer.name, paymentMethod: method.label(), date: now },
    });
  }
}

export const WALLET_MANAGER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;
