import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM } from '@mikro-orm/postgresql';
import { Clock, ErrorCode } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import type { ClientInfo } from '../../../platform/hosted-link-controller.js';
import { findById, findByLinkToken, findReturnedSession, hostedFailureKind, UNKNOWN_LINK } from '../../../platform/hosted-link-lookup.js';
import type { LinkSender } from '../../../platform/hosted-pages.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';
import { WalletError, WalletHostedSetup } from '../../wallet/index.js';
import { ServiceAgreement } from '../domain/agreement.entity.js';
import { type PricedLines, priceLines } from '../domain/agreement-lines.js';
import { AgreementStatus } from '../domain/agreement-status.js';
import { describeBillingDay, type BillingFrequency } from '../domain/billing-schedule.js';
import { AgreementSignupLink, SignupLinkStatus } from '../domain/signup-link.entity.js';
import { AgreementLifecycle } from './agreement-lifecycle.js';

export type { ClientInfo };

export interface SignupOrganization extends LinkSender {
  locale: string;
  timeZone: string;
}

export interface SignupQuote {
  name: string;
  customerName: string;
  priced: PricedLines;
  frequency: BillingFrequency;
  billingDay: string;
  startDate: string;
  endDate: string | null;
  terms: string;
  version: number;
  expiresAt: Date;
  acceptanceText: string;
}

/** What the sign-up page shows; the controller turns each into HTML with its HTTP status. */
export type SignupPage =
  | { type: 'form'; status: number; organization: SignupOrganization; quote: SignupQuote; accepted: boolean; error: string | null }
  | { type: 'redirect'; url: string }
  | { type: 'closed'; status: 410; reason: 'USED' | 'CANCELLED' | 'EXPIRED'; organization: SignupOrganization; at: Date | null }
  | { type: 'unknown'; status: 404 }
  | { type: 'left'; status: 200; organization: SignupOrganization | null }
  | { type: 'done'; status: 200; organization: SignupOrganization; agreementName: string; methodLabel: string }
  | { type: 'refused'; status: number; organization: SignupOrganization; message: string; retry: boolean }
  | { type: 'unavailable'; status: 503 };

const FREQUENCY_WORDS: Record<BillingFrequency, string> = {
  MONTHLY: 'every month',
  QUARTERLY: 'every 3 months',
  SEMI_ANNUAL: 'every 6 months',
  ANNUAL: 'every year',
};

export function frequencyWords(f: BillingFrequency): string {
  return FREQUENCY_WORDS[f];
}

/** The wording the customer ticks: acceptance of the terms and consent to automatic charges (kept with the consent). */
export function acceptanceText(orgName: string, agreement: ServiceAgreement, locale: string): string {
  const total = priceLines(agreement.lines, agreement.currency).total.format(locale);
  return (
    `I have read and accept the terms of the agreement "${agreement.name}" (version ${agreement.version}), and I authorize ${orgName} ` +
    `to save the payment method I add next and to charge it ${total} ${FREQUENCY_WORDS[agreement.frequency]} under this agreement, ` +
    'until it ends or I revoke this authorization.'
  );
}

interface Resolved {
  em: EntityManager;
  link: AgreementSignupLink;
  agreement: ServiceAgreement;
  org: OrganizationProfile;
  contact: SignupOrganization;
}

class LinkClosed extends Error {}

/**
 * The customer's side of an agreement's sign-up link (`/a/<token>`): the quote and its terms, the acceptance box, the
 * gateway's setup page, and the return from it. Nobody is signed in: the token's hash finds the link across
 * organizations, and from then on everything runs on an EntityManager scoped to the link's organization. The token is
 * not in either URL given to the gateway: it comes back to `/a/session/complete?session=…`, and the session (read
 * from the gateway) names the link.
 */
@Injectable()
export class AgreementSignupPages {
  private readonly logger = new Logger(AgreementSignupPages.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: IdentityDirectory,
    private readonly customers: CustomerDirectory,
    private readonly hostedSetup: WalletHostedSetup,
    private readonly lifecycle: AgreementLifecycle,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** GET /a/:token */
  async open(token: string): Promise<SignupPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    return (await this.closedPage(found)) ?? (await this.form(found, false, null, 200));
  }

  /** POST /a/:token — the box must be ticked; then the acceptance is recorded and the customer sent to the gateway. */
  async submit(token: string, posted: Record<string, unknown>, client: ClientInfo): Promise<SignupPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    const closed = await this.closedPage(found);
    if (closed) return closed;
    const { em, link, agreement } = found;
    const accepted = posted.accept === 'yes';
    if (!accepted) {
      return this.form(found, false, 'Tick the box to accept the terms and authorize automatic payments: the agreement cannot start without it', 400);
    }
    if (String(posted.version ?? '') !== String(agreement.version)) {
      return this.form(found, false, 'This agreement was changed since you opened the page: please read it again', 409);
    }
    try {
      const url = await em.transactional(async (tx) => {
        // Serializes with a second tab and with completion: the link must still be open when this commits.
        const locked = await tx.findOneOrFail(AgreementSignupLink, { id: link.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
        if (locked.statusAt(this.clock.now()) !== SignupLinkStatus.PENDING) throw new LinkClosed();
        const now = this.clock.now();
        locked.acceptedAt = now;
        locked.acceptedIpAddress = client.ipAddress.slice(0, 100);
        locked.acceptedUserAgent = client.userAgent.slice(0, 500);
        locked.acceptedVersion = agreement.version;
        const base = this.config.http.publicUrl;
        const session = await this.hostedSetup.startSession(tx, {
          customerId: agreement.customerId,
          successUrl: `${base}/a/session/complete?session={SESSION_ID}`,
          cancelUrl: `${base}/a/session/left?link=${link.id}`,
          reference: link.id,
          idempotencyKey: `agreement-signup:${link.id}:${now.getTime()}`,
        });
        locked.gatewaySessionId = session.id;
        await tx.flush();
        return session.url;
      });
      return { type: 'redirect', url };
    } catch (error) {
      if (error instanceof LinkClosed) return (await this.closedPage(await this.reload(found))) ?? { type: 'unknown', status: 404 };
      return this.failure(error, found.contact);
    }
  }

  /** GET /a/session/left?link=… — the customer left the gateway's page without saving anything. */
  async left(linkId: string): Promise<SignupPage> {
    const found = await findById(this.orm, AgreementSignupLink, linkId);
    if (!found) return { type: 'left', status: 200, organization: null };
    const { em, row: link } = found;
    const org = await this.directory.organization(em, link.organizationId);
    return { type: 'left', status: 200, organization: org ? await this.contactOf(em, org, link) : null };
  }

  /**
   * GET /a/session/complete?session=… — back from the gateway. The session is read from the gateway, must be complete
   * and name the link. In ONE transaction: the link becomes USED by a conditional update (a second tab finds it used
   * and changes nothing), the method is saved to the customer's wallet with consent (the wallet's hosted-page path),
   * the agreement is SIGNED with that method, and the office is notified in-app. A wallet refusal rolls it all back.
   */
  async complete(sessionId: string): Promise<SignupPage> {
    const back = await findReturnedSession(this.orm, AgreementSignupLink, sessionId, (id) => this.hostedSetup.readSession(id));
    if (back.kind === 'unknown') return UNKNOWN_LINK;
    if (back.kind === 'failed') return this.failure(back.error, null);
    const { session, em, row: link } = back;
    const found = await this.scoped(em, link);
    if (!found) return UNKNOWN_LINK;

    const closed = await this.closedPage(found);
    if (closed) {
      await this.hostedSetup.releaseUnsaved(em, session);
      return closed;
    }
    if (session.status === 'open' && session.url) return { type: 'redirect', url: session.url };
    if (session.status !== 'complete' || !session.paymentMethodId || !link.acceptedAt) {
      return { type: 'refused', status: 409, organization: found.contact, message: 'The secure payment page timed out before a payment method was saved.', retry: true };
    }

    try {
      const outcome = await em.transactional(async (tx) => {
        const now = this.clock.now();
        const won = await tx.nativeUpdate(
          AgreementSignupLink,
          { id: link.id, status: SignupLinkStatus.PENDING, expiresAt: { $gt: now } },
          { status: SignupLinkStatus.USED, usedAt: now, gatewaySessionId: session.id, updatedAt: now },
        );
        if (won === 0) throw new LinkClosed();
        const agreement = await this.lifecycle.lock(tx, link.agreementId);
        if (agreement.status !== AgreementStatus.SENT || agreement.version !== link.acceptedVersion) throw new LinkClosed();
        const saved = await this.hostedSetup.completeSession(tx, {
          customerId: agreement.customerId,
          session,
          consentNote: acceptanceText(found.org.name, agreement, found.org.locale),
          ipAddress: link.acceptedIpAddress,
          userAgent: link.acceptedUserAgent,
        });
        await this.lifecycle.sign(tx, agreement, {
          paymentMethodId: saved.paymentMethodId,
          ipAddress: link.acceptedIpAddress,
          userAgent: link.acceptedUserAgent,
          version: link.acceptedVersion!,
        });
        const customer = await this.customers.require(tx, agreement.customerId);
        await this.lifecycle.notifySigned(tx, agreement, customer.name, saved.label);
        return { label: saved.label, name: agreement.name };
      });
      return { type: 'done', status: 200, organization: found.contact, agreementName: outcome.name, methodLabel: outcome.label };
    } catch (error) {
      if (error instanceof LinkClosed) {
        await this.reload(found);
        await this.hostedSetup.releaseUnsaved(em, session);
        return (await this.closedPage(found)) ?? { type: 'unknown', status: 404 };
      }
      if (error instanceof WalletError && error.code !== ErrorCode.SERVICE_UNAVAILABLE) {
        return { type: 'refused', status: 409, organization: found.contact, message: error.message, retry: true };
      }
      return this.failure(error, found.contact);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async resolve(token: string): Promise<Resolved | typeof UNKNOWN_LINK> {
    const found = await findByLinkToken(this.orm, AgreementSignupLink, token);
    return (found && (await this.scoped(found.em, found.row))) ?? UNKNOWN_LINK;
  }

  /** The link's agreement and organization (`em` is scoped to the link's organization already); null when gone. */
  private async scoped(em: EntityManager, link: AgreementSignupLink): Promise<Resolved | null> {
    const org = await this.directory.organization(em, link.organizationId);
    const agreement = await em.findOne(ServiceAgreement, { id: link.agreementId });
    if (!org || !agreement) return null;
    return { em, link, agreement, org, contact: await this.contactOf(em, org, link) };
  }

  private async reload(found: Resolved): Promise<Resolved> {
    await found.em.refresh(found.link);
    await found.em.refresh(found.agreement);
    return found;
  }

  private async closedPage({ link, agreement, contact, em }: Resolved): Promise<SignupPage | null> {
    const status = link.statusAt(this.clock.now());
    if (status === SignupLinkStatus.USED) return { type: 'closed', status: 410, reason: 'USED', organization: contact, at: link.usedAt };
    if (status === SignupLinkStatus.EXPIRED) return { type: 'closed', status: 410, reason: 'EXPIRED', organization: contact, at: link.expiresAt };
    if (status === SignupLinkStatus.CANCELLED || agreement.status !== AgreementStatus.SENT) {
      return { type: 'closed', status: 410, reason: 'CANCELLED', organization: contact, at: link.cancelledAt ?? agreement.closedAt };
    }
    const customer = await this.customers.get(em, agreement.customerId);
    if (!customer || customer.status === CustomerStatus.ARCHIVED) {
      return { type: 'refused', status: 410, organization: contact, message: 'This link can no longer be used.', retry: false };
    }
    return null;
  }

  private async form({ em, agreement, link, org, contact }: Resolved, accepted: boolean, error: string | null, status: number): Promise<SignupPage> {
    const customer = await this.customers.require(em, agreement.customerId);
    return {
      type: 'form',
      status,
      organization: contact,
      accepted,
      error,
      quote: {
        name: agreement.name,
        customerName: customer.name,
        priced: priceLines(agreement.lines, agreement.currency),
        frequency: agreement.frequency,
        billingDay: describeBillingDay(agreement.billingDay),
        startDate: agreement.startDate,
        endDate: agreement.endDate,
        terms: agreement.terms,
        version: agreement.version,
        expiresAt: link.expiresAt,
        acceptanceText: acceptanceText(org.name, agreement, org.locale),
      },
    };
  }

  private async contactOf(em: EntityManager, org: OrganizationProfile, link: AgreementSignupLink): Promise<SignupOrganization> {
    const sender = link.sentBy ? (await this.directory.staffByIds(em, [link.sentBy]))[0] : undefined;
    return { name: org.name, contactName: sender?.name ?? null, contactEmail: sender?.email ?? null, locale: org.locale, timeZone: org.timeZone };
  }

  private failure(error: unknown, organization: SignupOrganization | null): SignupPage {
    const kind = hostedFailureKind(error);
    if (kind === 'refused' && organization) return { type: 'refused', status: 409, organization, message: (error as Error).message, retry: false };
    if (kind !== 'unavailable') this.logger.error(`Agreement sign-up page failed: ${(error as Error).stack ?? String(error)}`);
    return { type: 'unavailable', status: 503 };
  }
}
