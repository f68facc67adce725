import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { GatewayMethodKind, SetupSession } from '../payment-gateway.js';
import { SandboxGateway } from './sandbox-gateway.js';
import { randomId, type SandboxObject, SandboxStore } from './sandbox-store.js';
import { checkBankAccount, checkCard, setupRefusal, type StripeLikeError } from './sandbox-test-numbers.js';

/** The hosted form's fields (names are stable: browser tests fill them by name). */
export interface CheckoutForm {
  kind?: string;
  number?: string;
  exp_month?: string;
  exp_year?: string;
  cvc?: string;
  name?: string;
  routing_number?: string;
  account_number?: string;
  account_holder_name?: string;
  account_type?: string;
  account_holder_type?: string;
}

/** What may be shown again after an error: never the card number, the CVC or the account number. */
export interface SafeValues {
  kind: GatewayMethodKind;
  exp_month: string;
  exp_year: string;
  name: string;
  routing_number: string;
  account_holder_name: string;
  account_type: string;
  account_holder_type: string;
}

export interface ClientInfo {
  ipAddress: string;
  userAgent: string;
}

export type CheckoutOutcome =
  | { type: 'redirect'; url: string }
  | { type: 'form'; status: number; session: SetupSession; kinds: GatewayMethodKind[]; cancelUrl: string; error: string | null; values: SafeValues }
  | { type: 'authenticate'; session: SetupSession; card: { brand: string; last4: string } }
  | { type: 'closed'; status: number; title: string; message: string; continueUrl: string | null };

/**
 * The sandbox's hosted setup page, as Stripe Checkout in setup mode: the customer enters a test card or bank account,
 * the sandbox verifies it (declines as Stripe's test numbers do), attaches it to the session's customer and sends the
 * customer to the success URL. A refusal stores nothing. Each session is worked on under a lock, so a double submit
 * saves one method.
 */
@Injectable()
export class SandboxCheckout {
  constructor(
    private readonly store: SandboxStore,
    private readonly gateway: SandboxGateway,
  ) {}

  async view(sessionId: string): Promise<CheckoutOutcome> {
    return this.store.transaction(async (em) => {
      const row = await this.store.find(em, 'checkout_session', sessionId);
      const closed = this.closed(row);
      if (closed) return closed;
      return this.form(row!, 200, null, defaults(row!.data.kinds));
    });
  }

  async submit(sessionId: string, form: CheckoutForm, client: ClientInfo): Promise<CheckoutOutcome> {
    return this.store.transaction(async (em) => {
      await this.store.lock(em, `checkout:${sessionId}`);
      const row = await this.store.find(em, 'checkout_session', sessionId);
      const closed = this.closed(row, 409);
      if (closed) return closed;
      const session = row!;
      const kinds = session.data.kinds;
      const values = safeValues(form, kinds);
      const refuse = (error: StripeLikeError | string, status = 400) =>
        typeof error === 'string' ? this.form(session, status, error, values) : this.form(session, error.status, error.message, values);

      const kind = (form.kind || (kinds.length === 1 ? kinds[0] : '')) as GatewayMethodKind;
      if (!kinds.includes(kind)) {
        return refuse(kinds.length === 1 ? `This link accepts ${kinds[0] === 'CARD' ? 'cards' : 'bank accounts'} only.` : 'Choose how to pay: card or bank account.');
      }

      let pm: SandboxObject<'payment_method'>;
      if (kind === 'CARD') {
        const checked = checkCard({ number: form.number ?? '', expMonth: form.exp_month ?? '', expYear: form.exp_year ?? '', cvc: form.cvc ?? '' }, this.store.clock.now(), { requireCvc: true });
        if ('status' in checked) return refuse(checked);
        const refusal = setupRefusal('card', checked.card.outcome);
        if (refusal && refusal !== 'requires_action') return refuse(refusal);
        pm = this.store.add(em, 'payment_method', randomId('pm_'), this.store.newCardMethod(checked.card, checked.expMonth, checked.expYear, values.name || null));
        if (refusal === 'requires_action') {
          // Stripe asks the customer to authenticate on the page; the method waits, unattached, for the answer.
          this.store.change(session, { pendingPaymentMethodId: pm.id });
          await em.flush();
          return { type: 'authenticate', session: this.gateway.toSetupSession(session), card: { brand: checked.card.brand, last4: pm.data.card!.last4 } };
        }
      } else {
        const holder = values.account_holder_name.trim();
        if (!holder) return refuse("Enter the account holder's name.");
        const checked = checkBankAccount({
          routingNumber: form.routing_number ?? '',
          accountNumber: form.account_number ?? '',
          accountType: form.account_type,
          accountHolderType: form.account_holder_type,
        });
        if ('status' in checked) return refuse(checked);
        const refusal = setupRefusal('bank', checked.account.outcome);
        if (refusal && refusal !== 'requires_action') return refuse(refusal);
        pm = this.store.add(em, 'payment_method', randomId('pm_'), this.store.newBankMethod(checked.account, checked.accountType, checked.accountHolderType, holder));
      }
      const mandate =
        kind === 'BANK_ACCOUNT'
          ? { type: 'online' as const, acceptedAt: this.store.clock.now().toISOString(), ipAddress: client.ipAddress, userAgent: client.userAgent }
          : null;
      return this.complete(em, session, pm, mandate);
    });
  }

  /** The answer to the 3-D Secure step: `succeed` saves the waiting card, otherwise it is thrown away. */
  async authenticate(sessionId: string, succeed: boolean): Promise<CheckoutOutcome> {
    return this.store.transaction(async (em) => {
      await this.store.lock(em, `checkout:${sessionId}`);
      const row = await this.store.find(em, 'checkout_session', sessionId);
      const closed = this.closed(row, 409);
      if (closed) return closed;
      const session = row!;
      const pending = session.data.pendingPaymentMethodId ? await this.store.find(em, 'payment_method', session.data.pendingPaymentMethodId) : null;
      if (!pending) return this.form(session, 409, 'There is no card waiting for authentication; enter it again.', defaults(session.data.kinds));
      this.store.change(session, { pendingPaymentMethodId: null });
      if (!succeed) {
        em.remove(pending);
        await em.flush();
        return this.form(
          session,
          402,
          'Authentication failed, so the card was not saved (setup_intent_authentication_failure). Try again or use another card.',
          { ...defaults(session.data.kinds), name: pending.data.billingName ?? '' },
        );
      }
      return this.complete(em, session, pending, null);
    });
  }

  private async complete(
    em: EntityManager,
    session: SandboxObject<'checkout_session'>,
    pm: SandboxObject<'payment_method'>,
    mandate: Parameters<SandboxGateway['attach']>[4],
  ): Promise<CheckoutOutcome> {
    const setupIntentId = this.gateway.attach(em, pm, session.data.customerId, null, mandate, session.id);
    this.store.change(session, { completedAt: this.store.clock.now().toISOString(), paymentMethodId: pm.id, setupIntentId, pendingPaymentMethodId: null });
    await em.flush();
    return { type: 'redirect', url: session.data.successUrl.replaceAll('{SESSION_ID}', session.id) };
  }

  private form(session: SandboxObject<'checkout_session'>, status: number, error: string | null, values: SafeValues): CheckoutOutcome {
    return { type: 'form', status, session: this.gateway.toSetupSession(session), kinds: session.data.kinds, cancelUrl: session.data.cancelUrl, error, values };
  }

  private closed(row: SandboxObject<'checkout_session'> | null, completeStatus = 200): CheckoutOutcome | null {
    if (!row) {
      return { type: 'closed', status: 404, title: 'Link not found', message: 'This setup link does not exist. Ask the business for a new link.', continueUrl: null };
    }
    const session = this.gateway.toSetupSession(row);
    if (session.status === 'complete') {
      return {
        type: 'closed',
        status: completeStatus,
        title: 'Payment method saved',
        message: 'This setup link has already been used: the payment method was saved.',
        continueUrl: row.data.successUrl.replaceAll('{SESSION_ID}', row.id),
      };
    }
    if (session.status === 'expired') {
      return {
        type: 'closed',
        status: 410,
        title: 'Link expired',
        message: 'This setup link has expired (links work for 24 hours). Ask the business for a new link.',
        continueUrl: null,
      };
    }
    return null;
  }
}

function defaults(kinds: GatewayMethodKind[]): SafeValues {
  return {
    kind: kinds[0] ?? 'CARD',
    exp_month: '',
    exp_year: '',
    name: '',
    routing_number: '',
    account_holder_name: '',
    account_type: 'checking',
    account_holder_type: 'individual',
  };
}

function safeValues(form: CheckoutForm, kinds: GatewayMethodKind[]): SafeValues {
  const text = (v: unknown, max = 100) => (typeof v === 'string' ? v.slice(0, max) : '');
  const kind = form.kind === 'BANK_ACCOUNT' || form.kind === 'CARD' ? form.kind : defaults(kinds).kind;
  return {
    kind: kinds.includes(kind) ? kind : defaults(kinds).kind,
    exp_month: text(form.exp_month, 2),
    exp_year: text(form.exp_year, 4),
    name: text(form.name),
    routing_number: text(form.routing_number, 9),
    account_holder_name: text(form.account_holder_name),
    account_type: form.account_type === 'savings' ? 'savings' : 'checking',
    account_holder_type: form.account_holder_type === 'company' ? 'company' : 'individual',
  };
}
