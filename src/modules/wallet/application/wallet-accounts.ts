import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { currentTenant } from '#libs/tenancy/index.js';
import { GatewayError, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory, type CustomerSnapshot, type PaymentSummary } from '../../customers/index.js';
import { PaymentMethod, PaymentMethodKind, PaymentMethodStatus } from '../domain/payment-method.entity.js';
import { WalletAccount } from '../domain/wallet-account.entity.js';
import { gatewayFailure } from './gateway-failure.js';

/** The plumbing every wallet change shares: the per-customer lock, the gateway customer, the customer's summary. */
@Injectable()
export class WalletAccounts {
  constructor(
    private readonly gateway: PaymentGateway,
    private readonly customers: CustomerDirectory,
  ) {}

  /**
   * Serializes changes to one customer's wallet until the transaction ends. Without it, two people saving the
   * 10th and 11th card at the same moment would both count nine and both save. An advisory lock works before the
   * wallet row exists, which a row lock would not.
   */
  async lock(em: EntityManager, customerId: string): Promise<void> {
    await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`wallet:${customerId}`]);
  }

  /** The customer's id at the gateway, created on first use (idempotently: a retry never makes a second one). */
  async gatewayCustomerId(em: EntityManager, customer: CustomerSnapshot): Promise<string> {
    const existing = await em.findOne(WalletAccount, { customerId: customer.id });
    if (existing && existing.gateway === this.gateway.name) return existing.gatewayCustomerId;
    const organizationId = currentTenant(em);
    if (!organizationId) throw new Error('WalletAccounts.gatewayCustomerId needs an EntityManager scoped to an organization');
    let created: { id: string };
    try {
      created = await this.gateway.createCustomer({
        organizationId,
        customerId: customer.id,
        name: customer.name,
        email: customer.email,
        phone: customer.phone,
        address: customer.billingAddress,
        idempotencyKey: `wallet-customer:${organizationId}:${customer.id}:${this.gateway.name}`,
      });
    } catch (error) {
      throw error instanceof GatewayError ? gatewayFailure(error, 'customerId') : error;
    }
    // A switch of gateway (sandbox to Stripe) starts a new gateway customer; methods saved at the old one stay listed.
    const account = existing ?? em.create(WalletAccount, { customerId: customer.id } as WalletAccount);
    account.gateway = this.gateway.name;
    account.gatewayCustomerId = created.id;
    em.persist(account);
    return created.id;
  }

  /** Recomputes the customer's payment summary (the Customers filters) from the active methods, in this transaction. */
  async refreshSummary(em: EntityManager, customerId: string): Promise<void> {
    await em.flush();
    const methods = await em.find(PaymentMethod, { customerId, status: PaymentMethodStatus.ACTIVE });
    const cardExpiries = methods
      .filter((m) => m.kind === PaymentMethodKind.CARD)
      .map((m) => m.expiresOn())
      .filter((d): d is string => d !== null)
      .sort();
    const summary: PaymentSummary = {
      hasCard: methods.some((m) => m.kind === PaymentMethodKind.CARD),
      hasBankAccount: methods.some((m) => m.kind === PaymentMethodKind.BANK_ACCOUNT),
      hasConsent: methods.some((m) => m.consentGranted),
      cardExpiresOn: cardExpiries[0] ?? null,
    };
    await this.customers.recordPaymentSummary(em, customerId, summary);
  }
}
