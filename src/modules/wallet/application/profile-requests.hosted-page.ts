import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { ApplicationError, Clock, ErrorCode, type FieldProblem, type PostalAddress } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { type GatewayMethodKind, PaymentGateway, type SetupSession } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory, type CustomerSnapshot, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory, type OrganizationProfile } from '../../identity/index.js';
import { Notifications } from '../../notifications/index.js';
import { ConsentSource, PaymentMethod, PaymentMethodKind, PaymentMethodStatus, SavedVia } from '../domain/payment-method.entity.js';
import { PaymentProfileRequest, ProfileRequestPurpose, ProfileRequestStatus } from '../domain/payment-profile-request.entity.js';
import { WalletError } from '../wallet.error.js';
import { ManagePaymentMethods } from './manage-payment-methods.use-case.js';
import type { ClientInfo } from '../../../platform/hosted-link-controller.js';
import { findById, findByLinkToken, findReturnedSession, hostedFailureKind, UNKNOWN_LINK } from '../../../platform/hosted-link-lookup.js';
import type { LinkSender } from '../../../platform/hosted-pages.js';
import { CONSENT_WORDING, SavePaymentMethod } from './save-payment-method.use-case.js';
import { WalletAccounts } from './wallet-accounts.js';

/** The fields of the hosted form, as the browser posts them. */
export const FORM_FIELDS = ['name', 'email', 'phone', 'line1', 'line2', 'city', 'region', 'postalCode', 'country', 'kind'] as const;
export type FormField = (typeof FORM_FIELDS)[number];
export type FormValues = Record<FormField, string>;

export type { ClientInfo };

/** Who to ask for a new link: the organization, and the staff member who sent it when they are still active. */
export type OrganizationContact = LinkSender;

/** What the hosted page shows. The controller turns each into HTML with its HTTP status. */
export type HostedPage =
  | { type: 'form'; status: number; organization: OrganizationContact; customerName: string; kinds: PaymentMethodKind[];
      purpose: ProfileRequestPurpose; replacing: string | null; note: string | null; expiresAt: Date; timeZone: string;
      locale: string; consentText: string; values: FormValues; consentChecked: boolean; errors: Partial<Record<FormField | 'consent', string>> }
  | { type: 'redirect'; url: string }
  | { type: 'closed'; status: 410; reason: 'COMPLETED' | 'CANCELLED' | 'EXPIRED'; organization: OrganizationContact; at: Date | null;
      methodLabel: string | null; timeZone: string; locale: string }
  | { type: 'unknown'; status: 404 }
  | { type: 'left'; status: 200; organization: OrganizationContact | null }
  | { type: 'done'; status: 200; organization: OrganizationContact; methodLabel: string; replaced: string | null }
  | { type: 'refused'; status: number; organization: OrganizationContact; message: string; retry: boolean }
  | { type: 'unavailable'; status: 503 };

class FormInvalid extends Error {
  constructor(readonly errors: Partial<Record<FormField | 'consent', string>>) {
    super('form invalid');
  }
}

interface Resolved {
  em: EntityManager;
  request: PaymentProfileRequest;
  org: OrganizationProfile;
  contact: OrganizationContact;
}

/**
 * The customer's side of a payment profile request: the page behind the secure link, the form's submission, and the
 * return from the gateway's page. Nobody is signed in: the token's hash finds the request across organizations,
 * and from then on everything runs on an EntityManager scoped to the request's organization.
 *
 * Nothing in the link or the return URL is stored in clear: the gateway is told to come back to
 * `/p/session/complete?session={SESSION_ID}` (the session, checked with the gateway, names the request), so the
 * token does not end up in the gateway's records either.
 */
@Injectable()
export class ProfileRequestPages {
  private readonly logger = new Logger(ProfileRequestPages.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: IdentityDirectory,
    private readonly customers: CustomerDirectory,
    private readonly accounts: WalletAccounts,
    private readonly gateway: PaymentGateway,
    private readonly saver: SavePaymentMethod,
    private readonly manage: ManagePaymentMethods,
    private readonly notifications: Notifications,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** GET /p/:token — the form, prefilled with the customer's details, or why the link no longer works. */
  async open(token: string): Promise<HostedPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    const closed = await this.closedPage(found);
    if (closed) return closed;
    const customer = await this.customers.require(found.em, found.request.customerId);
    if (customer.status === CustomerStatus.ARCHIVED) return archived(found.contact);
    return this.form(found, customer, valuesOf(customer, found.request), false, {}, 200);
  }

  /**
   * POST /p/:token — validates everything first (the form comes back with each problem named and the values kept;
   * nothing is changed), then in one transaction saves the contact details and the consent and creates the gateway's
   * setup session, and sends the browser there.
   */
  async submit(token: string, posted: Record<string, unknown>, client: ClientInfo): Promise<HostedPage> {
    const found = await this.resolve(token);
    if ('type' in found) return found;
    const closed = await this.closedPage(found);
    if (closed) return closed;
    const { request, em } = found;
    if ((await this.customers.require(em, request.customerId)).status === CustomerStatus.ARCHIVED) return archived(found.contact);
    const values = readForm(posted);
    const consentChecked = posted.consent === 'yes';
    const errors = this.check(values, consentChecked, request.kinds);
    const kinds: GatewayMethodKind[] = request.kinds.length > 1 ? [values.kind as GatewayMethodKind] : [request.kinds[0]!];

    try {
      const session = await em.transactional(async (tx) => {
        // Serializes with a second tab and with completion: the link must still be open when this commits.
        const locked = await tx.findOneOrFail(PaymentProfileRequest, { id: request.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (locked.statusAt(this.clock.now()) !== ProfileRequestStatus.PENDING) throw new LinkClosed();
        let customer: CustomerSnapshot | null = null;
        try {
          customer = await this.customers.updateContact(tx, request.customerId, {
            name: values.name,
            email: values.email || null,
            phone: values.phone || null,
            billingAddress: addressOf(values),
          });
        } catch (error) {
          if (!(error instanceof ApplicationError) || error.fields.length === 0) throw error;
          for (const problem of error.fields) {
            const field = formFieldOf(problem);
            errors[field] ??= problem.message;
          }
        }
        if (Object.keys(errors).length > 0 || !customer) throw new FormInvalid(errors);

        const now = this.clock.now();
        locked.consentGiven = true;
        locked.consentGivenAt = now;
        locked.consentIpAddress = client.ipAddress.slice(0, 100);
        locked.consentUserAgent = client.userAgent.slice(0, 500);
        const gatewayCustomerId = await this.accounts.gatewayCustomerId(tx, customer);
        const base = this.config.http.publicUrl;
        const created = await this.gateway.createSetupSession({
          gatewayCustomerId,
          kinds,
          successUrl: `${base}/p/session/complete?session={SESSION_ID}`,
          cancelUrl: `${base}/p/session/left?request=${request.id}`,
          reference: request.id,
          // One session per submission: a customer who comes back and submits again gets a fresh page.
          idempotencyKey: `profile-request:${request.id}:${kinds.join('+')}:${now.getTime()}`,
        });
        locked.gatewaySessionId = created.id;
        await tx.flush();
        return created;
      });
      if (!session.url) throw new Error(`The gateway returned setup session ${session.id} without a URL`);
      return { type: 'redirect', url: session.url };
    } catch (error) {
      if (error instanceof FormInvalid) {
        return this.form(found, await this.customers.require(em, request.customerId), values, consentChecked, error.errors, 400);
      }
      if (error instanceof LinkClosed) return (await this.closedPage(await this.reload(found))) ?? { type: 'unknown', status: 404 };
      return this.failure(error, found.contact);
    }
  }

  /** GET /p/session/left?request=… — the customer left the gateway's page without saving anything. */
  async left(requestId: string): Promise<HostedPage> {
    const found = await findById(this.orm, PaymentProfileRequest, requestId);
    if (!found) return { type: 'left', status: 200, organization: null };
    const { em, row: request } = found;
    const org = await this.directory.organization(em, request.organizationId);
    return { type: 'left', status: 200, organization: org ? await this.contactOf(em, org, request) : null };
  }

  /**
   * GET /p/session/complete?session=… — the gateway sent the customer back. The session is read from the gateway
   * (never trusted from the URL), must be complete and name this request. Then, in ONE transaction: the request is
   * marked COMPLETED by a conditional update (a second tab or a double submit finds it no longer PENDING and changes
   * nothing), the method is saved to the wallet with the customer's consent, a replaced card is removed, and staff
   * are told. A wallet refusal rolls all of it back: the link still works for another try.
   */
  async complete(sessionId: string): Promise<HostedPage> {
    const back = await findReturnedSession(this.orm, PaymentProfileRequest, sessionId, (id) => this.gateway.getSetupSession(id));
    if (back.kind === 'unknown') return UNKNOWN_LINK;
    if (back.kind === 'failed') return this.failure(back.error, null);
    const { session, em, row: request } = back;
    const org = await this.directory.organization(em, request.organizationId);
    if (!org) return { type: 'unknown', status: 404 };
    const found: Resolved = { em, request, org, contact: await this.contactOf(em, org, request) };

    const closed = await this.closedPage(found);
    if (closed) {
      await this.releaseOrphan(session, request);
      return closed;
    }
    if (session.status === 'open' && session.url) return { type: 'redirect', url: session.url };
    if (session.status !== 'complete' || !session.paymentMethodId) {
      return {
        type: 'refused',
        status: 409,
        organization: found.contact,
        message: 'The secure payment page timed out before a payment method was saved.',
        retry: true,
      };
    }
    const paymentMethodId = session.paymentMethodId;

    try {
      const outcome = await em.transactional(async (tx) => {
        const now = this.clock.now();
        // Single use: only the first completion finds it PENDING and unexpired.
        const won = await tx.nativeUpdate(
          PaymentProfileRequest,
          { id: request.id, status: ProfileRequestStatus.PENDING, expiresAt: { $gt: now } },
          { status: ProfileRequestStatus.COMPLETED, completedAt: now, gatewaySessionId: session.id, updatedAt: now },
        );
        if (won === 0) throw new LinkClosed();

        const old =
          request.purpose === ProfileRequestPurpose.REPLACE_CARD && request.replacesPaymentMethodId
            ? await tx.findOne(PaymentMethod, { id: request.replacesPaymentMethodId, status: PaymentMethodStatus.ACTIVE })
            : null;
        const { method } = await this.saver.execute(tx, {
          customerId: request.customerId,
          token: paymentMethodId,
          billingAddress: null,
          makeDefault: old?.isDefault ?? false,
          consent: request.consentGiven
            ? {
                source: ConsentSource.HOSTED_PAGE,
                note: consentText(org.name),
                ipAddress: request.consentIpAddress,
                userAgent: request.consentUserAgent,
              }
            : null,
          via: SavedVia.HOSTED_PAGE,
          actorUserId: null,
          alreadyAttached: true,
        });
        let replaced: string | null = null;
        if (old && old.id !== method.id) {
          replaced = old.label();
          await this.manage.remove(tx, old.id, null);
        }
        await tx.nativeUpdate(PaymentProfileRequest, { id: request.id }, { paymentMethodId: method.id });

        const customer = await this.customers.require(tx, request.customerId);
        const label = method.label();
        await this.notifications.notifyStaff(tx, {
          dedupeKey: `payment-profile-request-completed:${request.id}`,
          userIds: request.requestedBy ? [request.requestedBy] : [],
          roles: [Role.PAYMENT_MANAGER, Role.ADMIN],
          title: `${customer.name} saved a payment method`,
          body:
            `${customer.name} saved ${label} through a payment profile request` +
            (replaced ? `, replacing ${replaced}.` : '.') +
            (request.consentGiven ? ' They authorized future charges.' : ''),
          link: `/customers/${customer.id}`,
        });
        return { label, replaced };
      });
      return { type: 'done', status: 200, organization: found.contact, methodLabel: outcome.label, replaced: outcome.replaced };
    } catch (error) {
      if (error instanceof LinkClosed) {
        await this.reload(found);
        await this.releaseOrphan(session, request);
        return (await this.closedPage(found)) ?? { type: 'unknown', status: 404 };
      }
      if (error instanceof WalletError && error.code !== ErrorCode.SERVICE_UNAVAILABLE) {
        // SavePaymentMethod detached the method at the gateway; the request is still open for another try.
        return { type: 'refused', status: 409, organization: found.contact, message: error.message, retry: true };
      }
      return this.failure(error, found.contact);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** The request behind a token, on an EntityManager scoped to its organization; or the 404 page. */
  private async resolve(token: string): Promise<Resolved | typeof UNKNOWN_LINK> {
    const found = await findByLinkToken(this.orm, PaymentProfileRequest, token);
    if (!found) return UNKNOWN_LINK;
    const { em, row: request } = found;
    const org = await this.directory.organization(em, request.organizationId);
    if (!org) return UNKNOWN_LINK;
    return { em, request, org, contact: await this.contactOf(em, org, request) };
  }

  private async reload(found: Resolved): Promise<Resolved> {
    await found.em.refresh(found.request);
    return found;
  }

  private async closedPage({ em, request, org, contact }: Resolved): Promise<HostedPage | null> {
    const status = request.statusAt(this.clock.now());
    if (status === ProfileRequestStatus.PENDING) return null;
    const method = request.paymentMethodId ? await em.findOne(PaymentMethod, { id: request.paymentMethodId }) : null;
    return {
      type: 'closed',
      status: 410,
      reason: status,
      organization: contact,
      at: status === ProfileRequestStatus.COMPLETED ? request.completedAt : status === ProfileRequestStatus.CANCELLED ? request.cancelledAt : request.expiresAt,
      methodLabel: method?.label() ?? null,
      timeZone: org.timeZone,
      locale: org.locale,
    };
  }

  private async form(
    { em, request, org, contact }: Resolved,
    customer: CustomerSnapshot,
    values: FormValues,
    consentChecked: boolean,
    errors: Partial<Record<FormField | 'consent', string>>,
    status: number,
  ): Promise<HostedPage> {
    const replacing = request.replacesPaymentMethodId ? await em.findOne(PaymentMethod, { id: request.replacesPaymentMethodId }) : null;
    return {
      type: 'form',
      status,
      organization: contact,
      customerName: customer.name,
      kinds: request.kinds,
      purpose: request.purpose,
      replacing: replacing?.label() ?? null,
      note: request.note,
      expiresAt: request.expiresAt,
      timeZone: org.timeZone,
      locale: org.locale,
      consentText: consentText(org.name),
      values,
      consentChecked,
      errors,
    };
  }

  private check(values: FormValues, consent: boolean, kinds: PaymentMethodKind[]): Partial<Record<FormField | 'consent', string>> {
    const errors: Partial<Record<FormField | 'consent', string>> = {};
    if (!values.name) errors.name = 'Enter your name';
    if (!values.line1) errors.line1 = 'Enter the street address of your billing address';
    if (!values.city) errors.city = 'Enter the city';
    if (!values.postalCode) errors.postalCode = 'Enter the postal or ZIP code';
    if (!/^[A-Za-z]{2}$/.test(values.country)) errors.country = 'Enter the two-letter country code, e.g. US or CA';
    if (kinds.length > 1 && !kinds.includes(values.kind as PaymentMethodKind)) errors.kind = 'Choose a card or a bank account';
    if (!consent) {
      errors.consent =
        'Tick the box to continue: without your authorization we cannot keep this payment method on file or charge it later';
    }
    return errors;
  }

  /** A completed session whose method was not saved (the link was used or closed meanwhile): detach it again. */
  private async releaseOrphan(session: SetupSession, request: PaymentProfileRequest): Promise<void> {
    if (session.reference !== request.id || session.status !== 'complete' || !session.paymentMethodId) return;
    try {
      const saved = await this.orm.em.fork().count(PaymentMethod, { gatewayPaymentMethodId: session.paymentMethodId }, { filters: { tenant: false } });
      if (saved === 0) await this.gateway.detachPaymentMethod(session.paymentMethodId);
    } catch (error) {
      this.logger.warn(`Could not detach ${session.paymentMethodId} after a second completion: ${(error as Error).message}`);
    }
  }

  private async contactOf(em: EntityManager, org: OrganizationProfile, request: PaymentProfileRequest): Promise<OrganizationContact> {
    const sender = request.requestedBy ? (await this.directory.staffByIds(em, [request.requestedBy]))[0] : undefined;
    return { name: org.name, contactName: sender?.name ?? null, contactEmail: sender?.email ?? null };
  }

  private failure(error: unknown, organization: OrganizationContact | null): HostedPage {
    const kind = hostedFailureKind(error);
    if (kind === 'refused' && organization) return { type: 'refused', status: 409, organization, message: (error as Error).message, retry: false };
    if (kind !== 'unavailable') this.logger.error(`Hosted payment profile page failed: ${(error as Error).stack ?? String(error)}`);
    return { type: 'unavailable', status: 503 };
  }
}

class LinkClosed extends Error {}

/** The organization archived the customer after sending the link: nothing may be saved for them now. */
function archived(organization: OrganizationContact): HostedPage {
  return { type: 'refused', status: 410, organization, message: 'This link can no longer be used.', retry: false };
}

/** The consent wording the customer sees and agrees to, with the organization's name. */
export function consentText(organizationName: string): string {
  return CONSENT_WORDING.replaceAll('{Organization Name}', organizationName);
}

function valuesOf(customer: CustomerSnapshot, request: PaymentProfileRequest): FormValues {
  const a = customer.billingAddress;
  return {
    name: customer.name,
    email: customer.email ?? '',
    phone: customer.phone ?? '',
    line1: a?.line1 ?? '',
    line2: a?.line2 ?? '',
    city: a?.city ?? '',
    region: a?.region ?? '',
    postalCode: a?.postalCode ?? '',
    country: a?.country ?? '',
    kind: request.kinds.length === 1 ? request.kinds[0]! : '',
  };
}

function readForm(posted: Record<string, unknown>): FormValues {
  const get = (field: FormField, max: number) => {
    const value = posted[field];
    return typeof value === 'string' ? value.trim().slice(0, max) : '';
  };
  return {
    name: get('name', 200),
    email: get('email', 320),
    phone: get('phone', 40),
    line1: get('line1', 200),
    line2: get('line2', 200),
    city: get('city', 100),
    region: get('region', 100),
    postalCode: get('postalCode', 20),
    country: get('country', 60).toUpperCase(),
    kind: get('kind', 20),
  };
}

function addressOf(v: FormValues): PostalAddress {
  return { line1: v.line1, line2: v.line2 || null, city: v.city, region: v.region || null, postalCode: v.postalCode, country: v.country };
}

/** `billingAddress.postalCode` → `postalCode`: the form's fields are flat. */
function formFieldOf(problem: FieldProblem): FormField {
  const last = problem.field.split('.').pop() ?? problem.field;
  return (FORM_FIELDS as readonly string[]).includes(last) ? (last as FormField) : 'name';
}
