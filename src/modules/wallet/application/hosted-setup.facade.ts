import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { GatewayError, type GatewayMethodKind, PaymentGateway, type SetupSession } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { ConsentSource, PaymentMethod, SavedVia } from '../domain/payment-method.entity.js';
import { gatewayFailure } from './gateway-failure.js';
import { SavePaymentMethod } from './save-payment-method.use-case.js';
import { WalletAccounts } from './wallet-accounts.js';

export interface StartHostedSetupCommand {
  customerId: string;
  /** What the customer may enter on the gateway's page; both when absent. */
  kinds?: GatewayMethodKind[];
  /** Where the gateway sends the customer back; `{SESSION_ID}` is replaced by the session's id. */
  successUrl: string;
  cancelUrl: string;
  /** The caller's reference (e.g. a sign-up link's id), kept in the session and read back on return. */
  reference: string;
  idempotencyKey: string;
}

export interface CompleteHostedSetupCommand {
  customerId: string;
  /** The completed session (read from the gateway by the caller: never trusted from a URL). */
  session: SetupSession;
  /** The wording the customer agreed to on the hosted page (kept with the consent record). */
  consentNote: string;
  ipAddress: string | null;
  userAgent: string | null;
}

export interface HostedSetupResult {
  paymentMethodId: string;
  /** "Visa ending in 4242". */
  label: string;
}

/**
 * The wallet's hosted-page path for other modules' pages (the agreement sign-up page): send the customer to the
 * gateway's setup page (Stripe Checkout in setup mode / the sandbox's form), and on return save the method to the
 * customer's wallet with their consent to future charges — the same path as a payment profile request
 * (SavePaymentMethod, via HOSTED_PAGE, consent HOSTED_PAGE).
 */
@Injectable()
export class WalletHostedSetup {
  private readonly logger = new Logger(WalletHostedSetup.name);

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly accounts: WalletAccounts,
    private readonly customers: CustomerDirectory,
    private readonly saver: SavePaymentMethod,
  ) {}

  /** Creates the gateway's setup session (and the gateway customer on first use) in the caller's transaction. */
  async startSession(em: EntityManager, cmd: StartHostedSetupCommand): Promise<{ id: string; url: string }> {
    const customer = await this.customers.require(em, cmd.customerId);
    const gatewayCustomerId = await this.accounts.gatewayCustomerId(em, customer);
    let session: SetupSession;
    try {
      session = await this.gateway.createSetupSession({
        gatewayCustomerId,
        kinds: cmd.kinds?.length ? cmd.kinds : ['CARD', 'BANK_ACCOUNT'],
        successUrl: cmd.successUrl,
        cancelUrl: cmd.cancelUrl,
        reference: cmd.reference,
        idempotencyKey: cmd.idempotencyKey,
      });
    } catch (error) {
      throw error instanceof GatewayError ? gatewayFailure(error) : error;
    }
    if (!session.url) throw new Error(`The gateway returned setup session ${session.id} without a URL`);
    return { id: session.id, url: session.url };
  }

  /** Reads a session back from the gateway (GatewayError NOT_FOUND when it does not exist). */
  async readSession(sessionId: string): Promise<SetupSession> {
    return this.gateway.getSetupSession(sessionId);
  }

  /**
   * Saves the method of a completed session to the wallet with the customer's consent, in the caller's transaction.
   * A wallet refusal (a WalletError: ten cards already, an archived customer) detaches the method at the gateway.
   */
  async completeSession(em: EntityManager, cmd: CompleteHostedSetupCommand): Promise<HostedSetupResult> {
    if (cmd.session.status !== 'complete' || !cmd.session.paymentMethodId) {
      throw new Error(`Setup session ${cmd.session.id} is not complete`);
    }
    const { method } = await this.saver.execute(em, {
      customerId: cmd.customerId,
      token: cmd.session.paymentMethodId,
      billingAddress: null,
      makeDefault: false,
      consent: { source: ConsentSource.HOSTED_PAGE, note: cmd.consentNote, ipAddress: cmd.ipAddress, userAgent: cmd.userAgent },
      via: SavedVia.HOSTED_PAGE,
      actorUserId: null,
      alreadyAttached: true,
    });
    return { paymentMethodId: method.id, label: method.label() };
  }

  /** A completed session whose method was not saved (the link was used meanwhile): detach it at the gateway again. */
  async releaseUnsaved(em: EntityManager, session: SetupSession): Promise<void> {
    if (session.status !== 'complete' || !session.paymentMethodId) return;
    try {
      const saved = await em.count(PaymentMethod, { gatewayPaymentMethodId: session.paymentMethodId }, { filters: { tenant: false } });
      if (saved === 0) await this.gateway.detachPaymentMethod(session.paymentMethodId);
    } catch (error) {
      this.logger.warn(`Could not detach ${session.paymentMethodId}: ${(error as Error).message}`);
    }
  }
}
