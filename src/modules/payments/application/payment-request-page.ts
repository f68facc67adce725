import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, ErrorCode } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import type { SetupSession } from '../../../infra/payment-gateway/index.js';
import type { ClientInfo } from '../../../platform/hosted-link-controller.js';
import { findById, findByLinkToken, findReturnedSession, hostedFailureKind, UNKNOWN_LINK } from '../../../platform/hosted-link-lookup.js';
import type { LinkSender } from '../../../platform/hosted-pages.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { installmentAttemptKey, Invoicing, InvoicingError, type InstallmentPreview } from '../../invoicing/index.js';
import { SealedLinks } from '../../notifications/index.js';
import { WalletError, WalletHostedSetup } from '../../wallet/index.js';
import { PaymentSettings } from '../domain/mass-charge.entity.js';
import { Payment, PaymentPurpose } from '../domain/payment.entity.js';
import {
  IN_FLIGHT_ATTEMPT_STATUSES,
  PAY_IN_INSTALLMENTS_COUNT,
  PAY_IN_INSTALLMENTS_INTERVAL,
  PaymentRequest,
  PaymentRequestAttempt,
  PaymentRequestAttemptStatus,
  PaymentRequestPayMode,
  PaymentRequestStatus,
} from '../domain/payment-request.entity.js';
import { Payments } from './payments.facade.js';
import type { PaymentSummary } from './payments.contract.js';
import { type AttemptOutcome, payLinkChargeKey, PaymentRequestPayments } from './payment-request-payments.js';
import { PAY_LINK_PURPOSE } from './payment-requests.use-case.js';

export interface PayOrganization extends LinkSender {
  locale: string;
  timeZone: string;
}

/** What the customer is asked to pay (formatted for the page). */
export interface PayDetails {
  customerName: string;
  amount: string;
  reference: string | null;
  description: string;
  expiresAt: Date;
}

export type { ClientInfo };

/** "Pay in 4" as offered on the page: the parts (the first due today) and the authorization the customer accepts. */
export interface InstallmentsOffer {
  parts: { sequence: number; dueOn: string; when: string; amount: string }[];
  acceptanceText: string;
}

/** Paying from a US bank account: the debit authorization (mandate) the customer accepts. */
export interface BankOffer {
  acceptanceText: string;
}

export interface PayReceipt {
  amount: string;
  paidAt: Date;
  methodLabel: string;
  paymentId: string;
  attempts: number;
  /** Where Invoicing emails the receipt (null: the customer has no email). */
  emailedTo: string | null;
  /** Paid in 4: what was paid today and the rest of the plan. */
  installments: { paidToday: string; parts: { sequence: number; when: string; amount: string; status: string }[] } | null;
}

/** What the pay page shows; the controller turns each into HTML with its HTTP status. */
export type PayPage =
  | {
      type: 'form';
      status: number;
      organization: PayOrganization;
      details: PayDetails;
      lastFailure: string | null;
      error: string | null;
      installments: InstallmentsOffer | null;
      bank: BankOffer | null;
    }
  | { type: 'redirect'; url: string }
  | { type: 'paid'; status: 200; organization: PayOrganization; details: PayDetails; receipt: PayReceipt }
  | { type: 'processing'; status: 200; organization: PayOrganization; details: PayDetails; bank: boolean }
  | { type: 'closed'; status: 410; reason: 'EXPIRED' | 'CANCELLED'; organization: PayOrganization; at: Date | null }
  | { type: 'unknown'; status: 404 }
  | { type: 'left'; status: 200; organization: PayOrganization | null }
  | { type: 'refused'; status: number; organization: PayOrganization; message: string }
  | { type: 'unavailable'; status: 503 };

interface Resolved {
  em: EntityManager;
  request: PaymentRequest;
  organization: PayOrganization;
}

class LinkClosed extends Error {}
/** Refused before anything was kept: the page shows the message with the form again. */
class Refused extends Error {}

/** A YYYY-MM-DD date as the customer reads it ("January 5, 2027"). */
function dayWords(isoDate: string, locale: string): string {
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${isoDate}T12:00:00Z`));
  } catch {
    return isoDate;
  }
}

/** The authorization a customer accepts to pay in 4 (kept with the consent the wallet records for the saved card). */
export function installmentsAcceptanceText(orgName: string, total: Money, preview: InstallmentPreview, locale: string): string {
  const parts = preview.parts.map((p, i) => `${p.amount.format(locale)} ${i === 0 ? `today (${dayWords(p.dueOn, locale)})` : `on ${dayWords(p.dueOn, locale)}`}`);
  const list = `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
  return (
    `I authorize ${orgName} to save the card I enter next and to charge it ${preview.parts.length} times for this payment of ` +
    `${total.format(locale)}: ${list}. If a charge fails, ${orgName} may try it again. I can ask ${orgName} to stop future charges.`
  );
}

/** The debit authorization (mandate) a customer accepts to pay from a bank account (kept with the wallet's consent). */
export function bankAcceptanceText(orgName: string, amount: Money, locale: string): string {
  return (
    `I authorize ${orgName} to save the US bank account I enter next and to debit ${amount.format(locale)} from it once, for this ` +
    'payment. A bank payment takes a few days to confirm; if the bank returns it, nothing is taken and I can pay again.'
  );
}

/**
 * The customer's side of a payment request (`/pay/<token>`). Nobody is signed in: the token's hash finds the request
 * across organizations, and from then on everything runs on an EntityManager scoped to its organization.
 *
 * The card is entered on the gateway's own hosted page — Stripe Checkout (setup mode) at Stripe, the sandbox's test
 * form in sandbox mode — reached through the wallet's WalletHostedSetup, so no card number ever touches Settle's pages.
 * Back from it (`/pay/session/complete?session=…`, the token is in neither URL given to the gateway), the card the
 * session collected is charged once as a one-off method through `Payments.charge` (purpose PAYMENT_REQUEST, on-session,
 * key `payment-request:<id>:session:<session>`) and then detached again: it is not kept in the wallet. Each try is an
 * attempt with its own Payment; a declined card leaves the link open for another try.
 */
@Injectable()
export class PayPages {
  private readonly logger = new Logger(PayPages.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly directory: IdentityDirectory,
    private readonly customers: CustomerDirectory,
    private readonly invoicing: Invoicing,
    private readonly hostedSetup: WalletHostedSetup,
    private readonly payments: Payments,
    private readonly follow: PaymentRequestPayments,
    private readonly sealed: SealedLinks,
  ) {}

  /** GET /pay/:token — whatever the request's state is, as of now. */
  async open(token: string): Promise<PayPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    return this.statePage(found, null, 200);
  }

  /**
   * POST /pay/:token — "Pay": the customer is sent to the gateway's page. `method` chooses how: CARD (in full, the
   * default), BANK_ACCOUNT (in full from a US bank account) or INSTALLMENTS (pay in 4, where the organization enabled
   * it). The last two save the method to the wallet, so the customer must tick the authorization (`accept=yes`); it
   * is recorded now (wording, when, from where) with the gateway session it is for.
   */
  async submit(token: string, posted: Record<string, unknown> = {}, client: ClientInfo = { ipAddress: 'unknown', userAgent: 'unknown' }): Promise<PayPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    const { em, request } = found;
    const state = await this.statePage(found, null, 200);
    if (state.type !== 'form') return state;
    const mode =
      posted.method === PaymentRequestPayMode.BANK_ACCOUNT || posted.method === PaymentRequestPayMode.INSTALLMENTS ? posted.method : PaymentRequestPayMode.CARD;
    let consent: string | null = null;
    if (mode === PaymentRequestPayMode.INSTALLMENTS) {
      if (!state.installments) return this.statePage(found, 'Paying in 4 installments is not available for this payment.', 400);
      consent = state.installments.acceptanceText;
    } else if (mode === PaymentRequestPayMode.BANK_ACCOUNT) {
      if (!state.bank) return this.statePage(found, 'Paying from a bank account is not available for this payment.', 400);
      consent = state.bank.acceptanceText;
    }
    if (consent && posted.accept !== 'yes') {
      return this.statePage(
        found,
        mode === PaymentRequestPayMode.INSTALLMENTS
          ? 'Tick the box to authorize the 4 charges: the installments cannot be set up without it.'
          : 'Tick the box to authorize the debit: the bank payment cannot be made without it.',
        400,
      );
    }
    try {
      const url = await em.transactional(async (tx) => {
        const locked = await this.lock(tx, request.id);
        const now = this.clock.now();
        if (!locked.isPayable(now) || (await this.inFlight(tx, locked.id))) throw new LinkClosed();
        const base = this.config.http.publicUrl;
        const session = await this.hostedSetup.startSession(tx, {
          customerId: locked.customerId,
          kinds: [mode === PaymentRequestPayMode.BANK_ACCOUNT ? 'BANK_ACCOUNT' : 'CARD'],
          successUrl: `${base}/pay/session/complete?session={SESSION_ID}`,
          cancelUrl: `${base}/pay/session/left?request=${locked.id}`,
          reference: locked.id,
          // A new session after each attempt (a declined card) or choice, the same one for a double click.
          idempotencyKey: `payment-request:${locked.id}:setup:${mode}:${locked.attemptCount + 1}:${now.getTime()}`,
        });
        // The latest choice is the one a return from the gateway may complete (an older tab's session is refused).
        locked.checkoutSessionId = session.id;
        locked.checkoutMode = mode;
        locked.checkoutConsentText = consent;
        locked.checkoutAcceptedAt = consent ? now : null;
        locked.checkoutIpAddress = consent ? client.ipAddress.slice(0, 100) : null;
        locked.checkoutUserAgent = consent ? client.userAgent.slice(0, 500) : null;
        await tx.flush();
        return session.url;
      });
      return { type: 'redirect', url };
    } catch (error) {
      if (error instanceof LinkClosed) return this.statePage(await this.reload(found), null, 200);
      return this.failure(error, found.organization);
    }
  }

  /** GET /pay/session/left?request=… — the customer left the gateway's page without entering a card. */
  async left(requestId: string): Promise<PayPage> {
    const found = await findById(this.orm, PaymentRequest, requestId);
    return { type: 'left', status: 200, organization: found ? await this.organizationOf(found.em, found.row) : null };
  }

  /**
   * GET /pay/session/complete?session=… — back from the gateway with a card. The session is read from the gateway
   * (never trusted from the URL) and names the request. The request must be payable NOW (an expired or cancelled
   * link takes no money, whatever the customer did on the gateway's page), with no other charge in flight; the
   * attempt is claimed under the request's row lock and committed, then charged, then its outcome applied. The
   * answer is a redirect to the link itself, which shows the outcome (receipt, or the reason and another try).
   */
  async complete(sessionId: string): Promise<PayPage> {
    const returned = await findReturnedSession(this.orm, PaymentRequest, sessionId, (id) => this.hostedSetup.readSession(id));
    if (returned.kind === 'unknown') return UNKNOWN_LINK;
    if (returned.kind === 'failed') return this.failure(returned.error, null);
    const { session, em, row: request } = returned;
    const back: PayPage = { type: 'redirect', url: this.linkOf(request) };
    const organization = await this.organizationOf(em, request);

    // This session was charged already (a reload, a second tab): show the outcome, charge nothing.
    if (await em.findOne(PaymentRequestAttempt, { gatewaySessionId: session.id })) return back;
    if (session.status === 'open' && session.url) return { type: 'redirect', url: session.url };
    if (session.status !== 'complete' || !session.paymentMethodId) {
      return { type: 'left', status: 200, organization };
    }

    // Only the customer's latest choice on the link (the session it recorded) is completed; an older tab's is refused.
    const mode = request.checkoutSessionId === session.id ? (request.checkoutMode ?? PaymentRequestPayMode.CARD) : null;
    if (!mode) {
      await this.hostedSetup.releaseUnsaved(em, session);
      return back;
    }

    let claimed: { attempt: PaymentRequestAttempt; savedMethodId: string | null };
    try {
      claimed = await em.transactional(async (tx) => {
        const locked = await this.lock(tx, request.id);
        const now = this.clock.now();
        if (!locked.isPayable(now) || locked.checkoutSessionId !== session.id || (await this.inFlight(tx, locked.id))) throw new LinkClosed();
        locked.attemptCount += 1;
        const attempt = tx.create(PaymentRequestAttempt, {
          organizationId: locked.organizationId,
          requestId: locked.id,
          number: locked.attemptCount,
          gatewaySessionId: session.id,
          status: PaymentRequestAttemptStatus.PENDING,
          mode,
          startedAt: now,
        } as PaymentRequestAttempt);
        await tx.flush();
        if (mode === PaymentRequestPayMode.CARD) return { attempt, savedMethodId: null };
        const savedMethodId = await this.saveWithConsent(tx, locked, attempt, session, organization);
        await tx.flush();
        return { attempt, savedMethodId };
      });
    } catch (error) {
      if (error instanceof LinkClosed || error instanceof UniqueConstraintViolationException) {
        if (error instanceof LinkClosed) await this.hostedSetup.releaseUnsaved(em, session);
        return back;
      }
      const refusal = refusalMessage(error);
      if (refusal === null) throw error;
      // Nothing was kept (the transaction rolled back): the method is detached again and the form says why.
      await this.hostedSetup.releaseUnsaved(em, session);
      await em.refresh(request);
      return this.statePage({ em, request, organization }, refusal, 409);
    }
    const { attempt, savedMethodId } = claimed;

    let outcome: AttemptOutcome | null;
    try {
      outcome =
        mode === PaymentRequestPayMode.INSTALLMENTS
          ? await this.chargeFirstInstallment(request.organizationId, attempt.installmentId!)
          : await this.charge(em, request, attempt, savedMethodId ? { paymentMethodId: savedMethodId } : { token: session.paymentMethodId });
    } catch (error) {
      // The outcome is not known (a crash between the gateway's answer and recording it): the attempt stays PENDING,
      // the link says the payment is being confirmed, and the payments janitor's answer completes it (its event).
      this.logger.error(`Pay link attempt ${attempt.id}: the charge's outcome is not known yet: ${(error as Error).message}`);
      return back;
    }
    if (outcome) {
      const applying = this.orm.em.fork();
      scopeToTenant(applying, request.organizationId);
      await applying.transactional((tx) => this.follow.follow(tx, attempt.id, outcome));
    }
    // A card paid in full was only for this payment: it is not kept at the gateway (nor in the wallet).
    if (mode === PaymentRequestPayMode.CARD) await this.hostedSetup.releaseUnsaved(em, session);
    return back;
  }

  /**
   * Bank account or pay in 4 (in the claim's transaction): the method is saved to the customer's wallet with the
   * authorization they accepted on the page (the wallet records the consent, and the mandate for a bank account).
   * Pay in 4 then needs an invoice — the request's own, or one created and issued for it — and an Invoicing plan of
   * 4 equal monthly parts over it on the saved card, the first due today; the page charges that one at once.
   */
  private async saveWithConsent(
    tx: EntityManager,
    request: PaymentRequest,
    attempt: PaymentRequestAttempt,
    session: SetupSession,
    org: PayOrganization,
  ): Promise<string> {
    let schedule: InstallmentsOffer | null = null;
    if (attempt.mode === PaymentRequestPayMode.INSTALLMENTS) {
      // The dates the customer agreed to must still be the plan's (a new day may have begun on the gateway's page).
      schedule = await this.installmentsOffer(tx, request, org);
      if (!schedule || schedule.acceptanceText !== request.checkoutConsentText) {
        throw new Refused('The payment dates changed while you were on the secure payment page. Nothing was charged: please check the new dates and try again.');
      }
    }
    const saved = await this.hostedSetup.completeSession(tx, {
      customerId: request.customerId,
      session,
      consentNote: request.checkoutConsentText ?? '',
      ipAddress: request.checkoutIpAddress,
      userAgent: request.checkoutUserAgent,
    });
    attempt.methodLabel = saved.label;
    if (!schedule) return saved.paymentMethodId;

    if (!request.invoiceId) {
      const invoice = await this.invoicing.issueInvoice(
        tx,
        {
          customerId: request.customerId,
          lines: [{ description: [request.reference, request.description].filter(Boolean).join(' — ').slice(0, 500), quantity: '1', unitPrice: request.amount }],
          dueDate: schedule.parts.at(-1)!.dueOn,
          memo: `Payment request paid in ${PAY_IN_INSTALLMENTS_COUNT} installments on the pay link`,
        },
        request.createdBy,
      );
      if (invoice.total.amount !== request.amount) throw new Error(`Invoice ${invoice.id} for payment request ${request.id} is not its amount`);
      request.invoiceId = invoice.id;
    }
    const plan = await this.invoicing.createInstallmentPlan(
      tx,
      {
        invoiceId: request.invoiceId,
        paymentMethodId: saved.paymentMethodId,
        count: PAY_IN_INSTALLMENTS_COUNT,
        firstDueOn: schedule.parts[0]!.dueOn,
        interval: PAY_IN_INSTALLMENTS_INTERVAL,
      },
      request.createdBy,
    );
    request.installmentPlanId = plan.id;
    attempt.installmentId = plan.installments[0]!.id;
    return saved.paymentMethodId;
  }

  /**
   * Pay in 4: the plan's first installment is charged now through Invoicing's installment job path (claimed first,
   * so the daily job never charges it again; key `installment:<id>:attempt:1`), and the attempt follows its payment.
   * Null when the outcome is not known yet (the attempt stays PENDING; the payment's events complete it).
   */
  private async chargeFirstInstallment(organizationId: string, installmentId: string): Promise<AttemptOutcome | null> {
    const result = await this.invoicing.chargeInstallmentNow(organizationId, installmentId);
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    const payment = await em.findOne(Payment, { idempotencyKey: installmentAttemptKey(installmentId, 1) });
    if (payment) return { paymentId: payment.id, status: payment.status, methodLabel: payment.methodLabel, failureMessage: payment.failureMessage };
    if (result === 'failed') {
      return { paymentId: null, status: null, methodLabel: null, failureMessage: 'The card could not be charged. Nothing was charged; you can try again with another card.' };
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** One charge of the request's amount (allocated to its invoice, as far as the invoice still owes it). */
  private async charge(
    em: EntityManager,
    request: PaymentRequest,
    attempt: PaymentRequestAttempt,
    method: { token: string } | { paymentMethodId: string },
  ): Promise<AttemptOutcome> {
    const amount = request.money();
    const allocations: { invoiceId: string; amount: Money }[] = [];
    if (request.invoiceId) {
      const invoice = await this.invoicing.invoice(em, request.invoiceId);
      if (invoice && invoice.amountDue.isPositive()) {
        allocations.push({ invoiceId: invoice.id, amount: invoice.amountDue.greaterThan(amount) ? amount : invoice.amountDue });
      }
    }
    let summary: PaymentSummary;
    try {
      summary = await this.payments.charge(request.organizationId, {
        customerId: request.customerId,
        method,
        amount,
        purpose: PaymentPurpose.PAYMENT_REQUEST,
        purposeRefId: request.id,
        allocations,
        description: [request.reference, request.description].filter(Boolean).join(' — ').slice(0, 500),
        idempotencyKey: payLinkChargeKey(request.id, attempt.gatewaySessionId),
        offSession: false,
        createdBy: request.createdBy,
      });
    } catch (error) {
      if (!(error instanceof ApplicationError)) throw error;
      // Refused before any charge (the card could not be read, the gateway did not answer): nothing was taken.
      const message =
        error.code === ErrorCode.SERVICE_UNAVAILABLE
          ? 'The payment processor did not answer. Nothing was charged; please try again in a moment.'
          : error.fields[0]?.message ?? error.message;
      return { paymentId: null, status: null, methodLabel: null, failureMessage: message };
    }
    return { paymentId: summary.id, status: summary.status, methodLabel: summary.methodLabel, failureMessage: summary.failureMessage };
  }

  private async statePage(found: Resolved, error: string | null, status: number): Promise<PayPage> {
    const { em, request, organization } = found;
    const now = this.clock.now();
    const details = await this.detailsOf(em, request, organization);
    const state = request.statusAt(now);
    if (state === PaymentRequestStatus.COMPLETED || state === PaymentRequestStatus.CONSOLIDATED) {
      const customer = await this.customers.get(em, request.customerId);
      const plan = request.installmentPlanId ? await this.invoicing.installmentPlan(em, request.installmentPlanId) : null;
      const first = plan?.installments[0];
      return {
        type: 'paid',
        status: 200,
        organization,
        details,
        receipt: {
          amount: details.amount,
          paidAt: request.completedAt ?? now,
          methodLabel: request.methodLabel ?? 'Card',
          paymentId: request.paymentId ?? '',
          attempts: request.attemptCount,
          emailedTo: customer?.email ?? null,
          installments:
            plan && first
              ? {
                  paidToday: first.amount.format(organization.locale),
                  parts: plan.installments.map((i) => ({
                    sequence: i.sequence,
                    when: dayWords(i.dueOn, organization.locale),
                    amount: i.amount.format(organization.locale),
                    status: i.status,
                  })),
                }
              : null,
        },
      };
    }
    const inFlight = await em.findOne(PaymentRequestAttempt, { requestId: request.id, status: { $in: [...IN_FLIGHT_ATTEMPT_STATUSES] } });
    if (inFlight) {
      return { type: 'processing', status: 200, organization, details, bank: inFlight.mode === PaymentRequestPayMode.BANK_ACCOUNT };
    }
    if (state === PaymentRequestStatus.CANCELLED) return { type: 'closed', status: 410, reason: 'CANCELLED', organization, at: request.cancelledAt };
    if (state === PaymentRequestStatus.EXPIRED) return { type: 'closed', status: 410, reason: 'EXPIRED', organization, at: request.expiresAt };
    const customer = await this.customers.get(em, request.customerId);
    if (!customer || customer.status === CustomerStatus.ARCHIVED) {
      return { type: 'refused', status: 410, organization, message: 'This link can no longer be used.' };
    }
    return {
      type: 'form',
      status,
      organization,
      details,
      lastFailure: request.lastFailureMessage,
      error,
      installments: await this.installmentsOffer(em, request, organization),
      bank: request.currency === 'USD' ? { acceptanceText: bankAcceptanceText(organization.name, request.money(), organization.locale) } : null,
    };
  }

  /**
   * "Pay in 4", where the organization enabled it: 4 equal monthly parts of the amount, the first due today. Only
   * when the plan would be for exactly the amount requested: a request without an invoice (one is created for it),
   * or one whose invoice owes exactly that amount; and not while the request already has a plan.
   */
  private async installmentsOffer(em: EntityManager, request: PaymentRequest, org: PayOrganization): Promise<InstallmentsOffer | null> {
    const settings = await em.findOne(PaymentSettings, { organizationId: request.organizationId });
    if (!settings?.paymentRequestInstallments || request.installmentPlanId) return null;
    const amount = request.money();
    if (amount.amount < BigInt(PAY_IN_INSTALLMENTS_COUNT)) return null;
    if (request.invoiceId) {
      const invoice = await this.invoicing.invoice(em, request.invoiceId);
      if (!invoice || invoice.amountDue.currency !== amount.currency || invoice.amountDue.amount !== amount.amount) return null;
    }
    const preview = await this.invoicing.installmentPreview(em, amount, PAY_IN_INSTALLMENTS_COUNT, PAY_IN_INSTALLMENTS_INTERVAL);
    return {
      parts: preview.parts.map((p) => ({ sequence: p.sequence, dueOn: p.dueOn, when: dayWords(p.dueOn, org.locale), amount: p.amount.format(org.locale) })),
      acceptanceText: installmentsAcceptanceText(org.name, amount, preview, org.locale),
    };
  }

  private async resolve(token: string): Promise<Resolved | typeof UNKNOWN_LINK> {
    const found = await findByLinkToken(this.orm, PaymentRequest, token);
    if (!found) return UNKNOWN_LINK;
    return { em: found.em, request: found.row, organization: await this.organizationOf(found.em, found.row) };
  }

  private async reload(found: Resolved): Promise<Resolved> {
    await found.em.refresh(found.request);
    return found;
  }

  private lock(tx: EntityManager, id: string): Promise<PaymentRequest> {
    return tx.findOneOrFail(PaymentRequest, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  }

  private async inFlight(em: EntityManager, requestId: string): Promise<boolean> {
    return (await em.count(PaymentRequestAttempt, { requestId, status: { $in: [...IN_FLIGHT_ATTEMPT_STATUSES] } })) > 0;
  }

  /** The link itself (the token is computed from the request id, never stored). */
  private linkOf(request: PaymentRequest): string {
    return `${this.config.http.publicUrl}/pay/${this.sealed.token(PAY_LINK_PURPOSE, request.id)}`;
  }

  private async detailsOf(em: EntityManager, request: PaymentRequest, org: PayOrganization): Promise<PayDetails> {
    const customer = await this.customers.get(em, request.customerId);
    return {
      customerName: customer?.name ?? '',
      amount: request.money().format(org.locale),
      reference: request.reference,
      description: request.description,
      expiresAt: request.expiresAt,
    };
  }

  private async organizationOf(em: EntityManager, request: PaymentRequest): Promise<PayOrganization> {
    const org = await this.directory.organization(em, request.organizationId);
    const sender = (await this.directory.staffByIds(em, [request.createdBy]))[0];
    return {
      name: org?.name ?? 'Secure payment',
      contactName: sender?.name ?? null,
      contactEmail: sender?.email ?? null,
      locale: org?.locale ?? 'en-US',
      timeZone: org?.timeZone ?? 'UTC',
    };
  }

  private failure(error: unknown, organization: PayOrganization | null): PayPage {
    const kind = hostedFailureKind(error);
    if (kind === 'refused' && organization) return { type: 'refused', status: 409, organization, message: (error as Error).message };
    if (kind !== 'unavailable') this.logger.error(`Pay page failed: ${(error as Error).stack ?? String(error)}`);
    return { type: 'unavailable', status: 503 };
  }
}

/** What the customer is told when the claim was refused before anything was kept; null: not a refusal (a bug, an outage). */
function refusalMessage(error: unknown): string | null {
  if (error instanceof Refused) return error.message;
  if ((error instanceof WalletError || error instanceof InvoicingError) && error.code !== ErrorCode.SERVICE_UNAVAILABLE) {
    return error.fields[0]?.message ?? error.message;
  }
  return null;
}
