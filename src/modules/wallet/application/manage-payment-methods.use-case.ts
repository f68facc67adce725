import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { GatewayError, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { ConsentAction, ConsentRecord } from '../domain/consent-record.entity.js';
import { ConsentSource, PaymentMethod, PaymentMethodKind, PaymentMethodStatus, SavedVia } from '../domain/payment-method.entity.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';
import { WalletEvents } from '../wallet.events.js';
import { gatewayFailure } from './gateway-failure.js';
import { SavePaymentMethod } from './save-payment-method.use-case.js';
import { WalletAccounts } from './wallet-accounts.js';

/**
 * Changes to saved methods after they are saved: default, removal, consent, a renewed card's expiry, replacing a
 * card. Each runs in the caller's transaction with the customer's wallet locked.
 */
@Injectable()
export class ManagePaymentMethods {
  private readonly logger = new Logger(ManagePaymentMethods.name);

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly accounts: WalletAccounts,
    private readonly customers: CustomerDirectory,
    private readonly saver: SavePaymentMethod,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  /** The method, locked for change: throws NOT_FOUND for another organization's id (the tenant filter hides it). */
  async load(em: EntityManager, id: string): Promise<PaymentMethod> {
    const found = await em.findOne(PaymentMethod, { id });
    if (!found) throw WalletError.notFound(id);
    await this.accounts.lock(em, found.customerId);
    await em.refresh(found);
    return found;
  }

  async setDefault(em: EntityManager, id: string): Promise<PaymentMethod> {
    const method = this.active(await this.load(em, id));
    if (method.isDefault) return method;
    const current = await em.findOne(PaymentMethod, { customerId: method.customerId, status: PaymentMethodStatus.ACTIVE, isDefault: true });
    if (current) {
      current.isDefault = false;
      await em.flush();
    }
    method.isDefault = true;
    await em.flush();
    return method;
  }

  /** Removes a method from the wallet and detaches it at the gateway. Past payments keep pointing at the row. */
  async remove(em: EntityManager, id: string, actorUserId: string | null): Promise<PaymentMethod> {
    const method = this.active(await this.load(em, id));
    method.status = PaymentMethodStatus.REMOVED;
    method.removedAt = this.clock.now();
    method.removedBy = actorUserId;
    const wasDefault = method.isDefault;
    method.isDefault = false;
    await em.flush();
    if (wasDefault) {
      // The most recently saved remaining method becomes the default, so "charge the default" keeps working.
      const next = await em.findOne(
        PaymentMethod,
        { customerId: method.customerId, status: PaymentMethodStatus.ACTIVE },
        { orderBy: { createdAt: 'desc', id: 'desc' } },
      );
      if (next) next.isDefault = true;
    }
    await this.accounts.refreshSummary(em, method.customerId);
    this.outbox.record(
      em,
      domainEvent(WalletEvents.PaymentMethodRemoved, currentTenant(em) ?? null, {
        paymentMethodId: method.id,
        customerId: method.customerId,
        kind: method.kind,
      }),
    );
    await em.flush();
    try {
      await this.gateway.detachPaymentMethod(method.gatewayPaymentMethodId);
    } catch (error) {
      // Detaching is idempotent at the gateway; an outage here must not keep a removed method chargeable by us.
      if (error instanceof GatewayError && error.retryable) throw gatewayFailure(error, 'id');
      this.logger.warn(`Detach of ${method.gatewayPaymentMethodId} failed: ${(error as Error).message}`);
    }
    return method;
  }

  async grantConsent(em: EntityManager, id: string, actorUserId: string, note: string | null): Promise<PaymentMethod> {
    const method = this.active(await this.load(em, id));
    if (method.consentGranted) {
      throw new WalletError(WalletErrorReason.ALREADY_IN_STATE, `${method.label()} already has the customer's consent to be charged`);
    }
    const customer = await this.customers.require(em, method.customerId);
    this.saver.grantConsent(em, method, { source: ConsentSource.STAFF_ON_CUSTOMER_INSTRUCTION, note }, actorUserId, customer);
    await this.accounts.refreshSummary(em, method.customerId);
    this.event(em, WalletEvents.PaymentMethodConsentGranted, method);
    await em.flush();
    return method;
  }

  /** From now on the method cannot be charged without the customer present (Payments refuses it). */
  async revokeConsent(em: EntityManager, id: string, actorUserId: string, reason: string | null): Promise<PaymentMethod> {
    const method = this.active(await this.load(em, id));
    if (!method.consentGranted) {
      throw new WalletError(WalletErrorReason.ALREADY_IN_STATE, `${method.label()} has no consent to revoke`);
    }
    method.consentGranted = false;
    method.consentRevokedAt = this.clock.now();
    em.persist(
      em.create(ConsentRecord, {
        paymentMethodId: method.id,
        customerId: method.customerId,
        action: ConsentAction.REVOKED,
        recordedBy: actorUserId,
        note: reason?.trim() || null,
        createdAt: this.clock.now(),
      } as ConsentRecord),
    );
    await this.accounts.refreshSummary(em, method.customerId);
    this.event(em, WalletEvents.PaymentMethodConsentRevoked, method);
    await em.flush();
    return method;
  }

  /** A renewed card (same number, new expiry): allowed only where the customer consented to future charges. */
  async updateCardExpiry(em: EntityManager, id: string, expMonth: number, expYear: number): Promise<PaymentMethod> {
    const method = this.active(await this.load(em, id));
    if (method.kind !== PaymentMethodKind.CARD) {
      throw new WalletError(WalletErrorReason.NOT_A_CARD, `${method.label()} is a bank account; only cards have an expiry`, 'id');
    }
    this.requireConsent(method, 'update its expiry');
    const now = this.clock.now();
    const thisMonth = now.getUTCFullYear() * 12 + now.getUTCMonth();
    const given = expYear * 12 + (expMonth - 1);
    if (given < thisMonth) {
      throw new WalletError(WalletErrorReason.EXPIRY_INVALID, `expYear: ${expMonth}/${expYear} is in the past`, 'expYear');
    }
    if (given > thisMonth + 12 * 20) {
      throw new WalletError(WalletErrorReason.EXPIRY_INVALID, `expYear: ${expYear} is more than 20 years away`, 'expYear');
    }
    let updated;
    try {
      updated = await this.gateway.updateCardExpiry(method.gatewayPaymentMethodId, expMonth, expYear);
    } catch (error) {
      throw error instanceof GatewayError ? gatewayFailure(error, 'id') : error;
    }
    method.expMonth = updated.card?.expMonth ?? expMonth;
    method.expYear = updated.card?.expYear ?? expYear;
    method.expiryNoticeFor = null;
    await this.accounts.refreshSummary(em, method.customerId);
    await em.flush();
    return method;
  }

  /**
   * A new card in place of an old one (lost, expired, reissued with a new number): the new card is saved with the
   * consent carried over, takes over as default if the old one was, and the old one is removed.
   */
  async replaceCard(em: EntityManager, id: string, token: string, actorUserId: string | null, via: SavedVia): Promise<PaymentMethod> {
    const old = this.active(await this.load(em, id));
    if (old.kind !== PaymentMethodKind.CARD) {
      throw new WalletError(WalletErrorReason.NOT_A_CARD, `${old.label()} is a bank account; save a new account instead`, 'id');
    }
    this.requireConsent(old, 'replace it');
    const { method } = await this.saver.execute(em, {
      customerId: old.customerId,
      token,
      billingAddress: old.billingAddress,
      makeDefault: old.isDefault,
      consent: { source: old.consentSource ?? ConsentSource.STAFF_ON_CUSTOMER_INSTRUCTION, note: `Replaces ${old.label()}` },
      via,
      actorUserId,
    });
    if (method.id !== old.id) await this.remove(em, old.id, actorUserId);
    return method;
  }

  private active(method: PaymentMethod): PaymentMethod {
    if (method.status !== PaymentMethodStatus.ACTIVE) {
      throw new WalletError(WalletErrorReason.METHOD_REMOVED, `${method.label()} was removed from the wallet`);
    }
    return method;
  }

  private requireConsent(method: PaymentMethod, what: string): void {
    if (!method.consentGranted) {
      throw new WalletError(
        WalletErrorReason.CONSENT_REQUIRED,
        `The customer has not authorized the organization to use ${method.label()}, so staff cannot ${what}; send them a payment profile request instead`,
      );
    }
  }

  private event(em: EntityManager, type: string, method: PaymentMethod): void {
    this.outbox.record(
      em,
      domainEvent(type, currentTenant(em) ?? null, { paymentMethodId: method.id, customerId: method.customerId, kind: method.kind }),
    );
  }
}
