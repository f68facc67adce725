import { Injectable } from '@nestjs/common';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { ApplicationError, Clock, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import type { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import { hashLinkToken } from '../../../platform/hosted-pages.js';
import { CustomerDirectory, type CustomerSnapshot, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Invoicing, InvoiceStatus } from '../../invoicing/index.js';
import { Channel, MessageKind, Notifications, SealedLinks } from '../../notifications/index.js';
import { PaymentSettings } from '../domain/mass-charge.entity.js';
import {
  IN_FLIGHT_ATTEMPT_STATUSES,
  PaymentRequest,
  PaymentRequestAttempt,
  PaymentRequestReferenceType,
  PaymentRequestStatus,
} from '../domain/payment-request.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import { recordRequestCancelled, recordRequestSent } from './payment-request-events.js';

/** The purpose under which pay-link tokens are sealed (SealedLinks): the token is HMAC(key, "payment-request:<id>"). */
export const PAY_LINK_PURPOSE = 'payment-request';
export const DEFAULT_PAYMENT_REQUEST_TTL_HOURS = 24;
export const MAX_PAYMENT_REQUEST_TTL_HOURS = 720;
const HOUR_MS = 3_600_000;

/** Who may cancel anyone's request (the creator may always cancel their own). */
export const PAYMENT_REQUEST_MANAGER_ROLES: readonly Role[] = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER];

export interface CreatePaymentRequestCommand {
  customerId: string;
  amount: Money;
  description: string;
  /** Invoice number, contract number or opportunity id; the invoice's number when `invoiceId` is given. */
  reference?: string | null;
  referenceType?: PaymentRequestReferenceType | null;
  /** The invoice it pays: a successful payment is allocated to it. */
  invoiceId?: string | null;
  channels: Channel[];
}

/**
 * Staff's side of payment requests (seed 003): create and send, re-send or re-create, cancel, consolidate, mark read.
 * Everything runs in the caller's transaction on a tenant-scoped EntityManager; bad input is refused before anything
 * is written (no request, no message).
 */
@Injectable()
export class PaymentRequests {
  constructor(
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly customers: CustomerDirectory,
    private readonly identity: IdentityDirectory,
    private readonly invoicing: Invoicing,
    private readonly notifications: Notifications,
    private readonly sealed: SealedLinks,
    private readonly outbox: Outbox,
  ) {}

  async create(em: EntityManager, cmd: CreatePaymentRequestCommand, actorUserId: string, recreatedFromId: string | null = null): Promise<PaymentRequest> {
    const organizationId = tenantOf(em);
    const org = await this.identity.organization(em, organizationId);
    if (!org) throw ApplicationError.notFound('Organization', organizationId);
    const problems: FieldProblem[] = [];
    if (cmd.amount.currency !== org.currency) problems.push({ field: 'amount.currency', message: `must be the organization's currency, ${org.currency}` });
    else if (!cmd.amount.isPositive()) problems.push({ field: 'amount', message: 'must be more than zero' });
    const description = cmd.description?.trim() ?? '';
    if (!description) problems.push({ field: 'description', message: 'must not be empty: say what the payment is for' });
    const channels = [...new Set(cmd.channels)];
    if (channels.length === 0) problems.push({ field: 'channels', message: 'must name EMAIL, SMS or both' });

    const customer = await this.customers.get(em, cmd.customerId);
    if (!customer) throw new PaymentsError(PaymentsErrorReason.CUSTOMER_NOT_FOUND, `Customer ${cmd.customerId} was not found`, 'customerId');
    if (customer.status === CustomerStatus.ARCHIVED) problems.push({ field: 'customerId', message: `${customer.name} is archived; reactivate them first` });
    problems.push(...contactProblems(customer, channels));

    let reference = cmd.reference?.trim() || null;
    let referenceType = cmd.referenceType ?? PaymentRequestReferenceType.OTHER;
    let invoiceId: string | null = null;
    if (cmd.invoiceId) {
      const invoice = await this.invoicing.invoice(em, cmd.invoiceId);
      if (!invoice || invoice.customerId !== customer.id) {
        problems.push({ field: 'invoiceId', message: invoice ? `${invoice.number ?? 'this invoice'} belongs to another customer` : 'no such invoice' });
      } else if (invoice.status !== InvoiceStatus.OPEN && invoice.status !== InvoiceStatus.PARTIALLY_PAID) {
        problems.push({ field: 'invoiceId', message: `${invoice.number ?? 'this invoice'} is ${invoice.status.toLowerCase().replace('_', ' ')}: nothing to pay on it` });
      } else if (cmd.amount.currency === invoice.amountDue.currency && cmd.amount.greaterThan(invoice.amountDue)) {
        problems.push({ field: 'amount', message: `is more than ${invoice.number} owes (${invoice.amountDue.format(org.locale)})` });
      } else {
        invoiceId = invoice.id;
        reference = invoice.number;
        referenceType = PaymentRequestReferenceType.INVOICE;
      }
    } else if (referenceType === PaymentRequestReferenceType.INVOICE) {
      problems.push({ field: 'invoiceId', message: 'name the invoice to link the request to it (or choose another reference type)' });
    }
    if (reference && reference.length > 120) problems.push({ field: 'reference', message: 'must be at most 120 characters' });
    if (problems.length) throw PaymentsError.invalid(problems);

    const now = this.clock.now();
    const request = em.create(PaymentRequest, {
      organizationId,
      customerId: customer.id,
      amount: cmd.amount.amount,
      currency: cmd.amount.currency,
      description,
      reference,
      referenceType,
      invoiceId,
      channels,
      expiresAt: new Date(now.getTime() + (await this.ttlHours(em)) * HOUR_MS),
      createdBy: actorUserId,
      recreatedFromId,
      createdAt: now,
      updatedAt: now,
    } as PaymentRequest);
    request.tokenHash = hashLinkToken(this.sealed.token(PAY_LINK_PURPOSE, request.id));
    await this.send(em, request, customer);
    await em.flush();
    return request;
  }

  /**
   * Sends the link again. An OPEN request gets the same link (its expiry unchanged) in a new message; an EXPIRED or
   * CANCELLED one is re-created: a new request with the same details, a new link and a fresh expiry (answered).
   * A paid one is CONFLICT.
   */
  async resend(em: EntityManager, id: string, actorUserId: string): Promise<PaymentRequest> {
    const request = await this.require(em, id, true);
    const status = request.statusAt(this.clock.now());
    if (status === PaymentRequestStatus.OPEN) {
      const customer = await this.customers.require(em, request.customerId);
      const problems = contactProblems(customer, request.channels as Channel[]);
      if (problems.length) throw PaymentsError.invalid(problems);
      request.sendCount += 1;
      await this.send(em, request, customer);
      await em.flush();
      return request;
    }
    if (status === PaymentRequestStatus.EXPIRED || status === PaymentRequestStatus.CANCELLED) {
      if (await this.inFlight(em, request.id)) throw closed('A payment on this link is still being processed; wait for its outcome');
      return this.create(
        em,
        {
          customerId: request.customerId,
          amount: request.money(),
          description: request.description,
          reference: request.reference,
          referenceType: request.referenceType,
          invoiceId: request.invoiceId,
          channels: request.channels as Channel[],
        },
        actorUserId,
        request.id,
      );
    }
    throw closed('This request was paid: there is nothing to send again');
  }

  /** OPEN → CANCELLED, by its creator or an OWNER, ADMIN or PAYMENT_MANAGER; the link then shows that it was cancelled. */
  async cancel(em: EntityManager, id: string, actor: { userId: string; role: Role }): Promise<PaymentRequest> {
    const request = await this.require(em, id, true);
    if (request.createdBy !== actor.userId && !PAYMENT_REQUEST_MANAGER_ROLES.includes(actor.role)) {
      throw new PaymentsError(PaymentsErrorReason.NOT_THE_CREATOR, 'Only the staff member who sent this request, or an owner, admin or payment manager, can cancel it');
    }
    const now = this.clock.now();
    const status = request.statusAt(now);
    if (status !== PaymentRequestStatus.OPEN) throw closed(`Only an open request can be cancelled; this one is ${status.toLowerCase()}`);
    // The pay page claims attempts under the same row lock: a charge already under way finishes first.
    if (await this.inFlight(em, request.id)) throw closed('The customer is paying right now; wait for the outcome before cancelling');
    request.status = PaymentRequestStatus.CANCELLED;
    request.cancelledAt = now;
    request.cancelledBy = actor.userId;
    recordRequestCancelled(this.outbox, em, request);
    await em.flush();
    return request;
  }

  /**
   * COMPLETED → CONSOLIDATED (the accountant posted it in the books), with who and when. Idempotent: consolidating a
   * consolidated request changes nothing. The resolver lets only PAYMENT_MANAGER call it.
   */
  async consolidate(em: EntityManager, id: string, actorUserId: string): Promise<PaymentRequest> {
    const request = await this.require(em, id, true);
    if (request.status === PaymentRequestStatus.CONSOLIDATED) return request;
    if (request.status !== PaymentRequestStatus.COMPLETED) {
      throw new PaymentsError(
        PaymentsErrorReason.PAYMENT_REQUEST_NOT_PAID,
        `Only a completed (paid) request can be consolidated; this one is ${request.statusAt(this.clock.now()).toLowerCase()}`,
      );
    }
    request.status = PaymentRequestStatus.CONSOLIDATED;
    request.consolidatedAt = this.clock.now();
    request.consolidatedBy = actorUserId;
    await em.flush();
    return request;
  }

  /** The creator marks the "paid" notice read (idempotent); anyone else is FORBIDDEN / NOT_THE_CREATOR. */
  async markRead(em: EntityManager, id: string, actorUserId: string): Promise<PaymentRequest> {
    const request = await this.require(em, id, true);
    if (request.createdBy !== actorUserId) {
      throw new PaymentsError(PaymentsErrorReason.NOT_THE_CREATOR, 'Only the staff member who sent this request can mark it read');
    }
    if (!request.readAt) {
      request.readAt = this.clock.now();
      await em.flush();
    }
    return request;
  }

  async require(em: EntityManager, id: string, lock = false): Promise<PaymentRequest> {
    const request = isUuid(id) ? await em.findOne(PaymentRequest, { id }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) : null;
    if (!request) throw notFound(id);
    return request;
  }

  /** The organization's pay-link lifetime (hours). */
  async ttlHours(em: EntityManager): Promise<number> {
    const row = await em.findOne(PaymentSettings, { organizationId: tenantOf(em) });
    return row?.paymentRequestTtlHours ?? DEFAULT_PAYMENT_REQUEST_TTL_HOURS;
  }

  /** Whether the organization's pay pages offer "Pay in 4" (off by default). */
  async installmentsEnabled(em: EntityManager): Promise<boolean> {
    const row = await em.findOne(PaymentSettings, { organizationId: tenantOf(em) });
    return row?.paymentRequestInstallments ?? false;
  }

  /** Applies to requests created from now on (links already sent keep their expiry). */
  async setTtlHours(em: EntityManager, hours: number, actorUserId: string): Promise<number> {
    await this.updateSettings(em, { ttlHours: hours }, actorUserId);
    return hours;
  }

  /**
   * The payment request settings: the link lifetime (applies to requests sent afterwards) and "Pay in 4" on the pay
   * page (applies to every open link from now on). Only the fields given change; everything is checked first.
   */
  async updateSettings(
    em: EntityManager,
    patch: { ttlHours?: number | null; installmentsEnabled?: boolean | null },
    actorUserId: string,
  ): Promise<{ ttlHours: number; installmentsEnabled: boolean }> {
    const hours = patch.ttlHours;
    if (hours !== undefined && hours !== null && (!Number.isInteger(hours) || hours < 1 || hours > MAX_PAYMENT_REQUEST_TTL_HOURS)) {
      throw PaymentsError.invalid([{ field: 'input.ttlHours', message: `must be a whole number of hours from 1 to ${MAX_PAYMENT_REQUEST_TTL_HOURS}` }]);
    }
    const organizationId = tenantOf(em);
    let row = await em.findOne(PaymentSettings, { organizationId });
    if (!row) row = em.create(PaymentSettings, { organizationId } as PaymentSettings);
    if (hours !== undefined && hours !== null) row.paymentRequestTtlHours = hours;
    if (patch.installmentsEnabled !== undefined && patch.installmentsEnabled !== null) row.paymentRequestInstallments = patch.installmentsEnabled;
    row.updatedBy = actorUserId;
    row.updatedAt = this.clock.now();
    await em.flush();
    return { ttlHours: row.paymentRequestTtlHours, installmentsEnabled: row.paymentRequestInstallments };
  }

  private async inFlight(em: EntityManager, requestId: string): Promise<boolean> {
    return (await em.count(PaymentRequestAttempt, { requestId, status: { $in: [...IN_FLIGHT_ATTEMPT_STATUSES] } })) > 0;
  }

  /** The PAYMENT_REQUEST message with the pay link; the stored message holds a sealed marker, never the token. */
  private async send(em: EntityManager, request: PaymentRequest, customer: CustomerSnapshot): Promise<void> {
    const { messages } = await this.notifications.notifyCustomer(em, {
      dedupeKey: `payment-request:${request.id}:${request.sendCount}`,
      kind: MessageKind.PAYMENT_REQUEST,
      recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
      channels: request.channels as Channel[],
      data: {
        amount: request.money(),
        description: request.description,
        ...(request.reference ? { reference: request.reference } : {}),
        secureLink: `${this.config.http.publicUrl}/pay/${this.sealed.marker(PAY_LINK_PURPOSE, request.id)}`,
        expiresAt: request.expiresAt,
      },
    });
    request.sentToEmail = messages.find((m) => m.channel === Channel.EMAIL)?.recipient ?? request.sentToEmail;
    request.sentToPhone = messages.find((m) => m.channel === Channel.SMS)?.recipient ?? request.sentToPhone;
    recordRequestSent(this.outbox, em, request);
  }
}

/** The email / phone the channels need, checked before anything is written (Notifications would refuse it too). */
function contactProblems(customer: CustomerSnapshot, channels: readonly Channel[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (channels.includes(Channel.EMAIL) && !customer.email?.trim()) {
    problems.push({ field: 'email', message: `${customer.name} has no email address: add one to the customer's record or choose SMS` });
  }
  if (channels.includes(Channel.SMS) && !customer.phone?.trim()) {
    problems.push({ field: 'phone', message: `${customer.name} has no phone number: add one to the customer's record or choose email` });
  }
  return problems;
}

export function notFound(id?: string): PaymentsError {
  return new PaymentsError(PaymentsErrorReason.PAYMENT_REQUEST_NOT_FOUND, id ? `Payment request ${id} was not found` : 'Payment request was not found');
}

function closed(message: string): PaymentsError {
  return new PaymentsError(PaymentsErrorReason.PAYMENT_REQUEST_CLOSED, message);
}

function tenantOf(em: EntityManager): string {
  const id = currentTenant(em);
  if (!id) throw new Error('Payment requests need a tenant-scoped EntityManager');
  return id;
}
