import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Principal } from '#libs/auth/index.js';
import { Clock, newId } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { hashLinkToken } from '../../../platform/hosted-pages.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { Channel, type MessageData, MessageKind, Notifications, SealedLinks } from '../../notifications/index.js';
import { PaymentMethod, PaymentMethodKind, PaymentMethodStatus } from '../domain/payment-method.entity.js';
import { PaymentProfileRequest, ProfileRequestPurpose, ProfileRequestStatus } from '../domain/payment-profile-request.entity.js';
import { WalletError, WalletErrorReason } from '../wallet.error.js';
import { WALLET_MANAGER_ROLES } from './save-payment-method.use-case.js';

/** The purpose under which profile request tokens are sealed (see SealedLinks). */
export const PROFILE_LINK_PURPOSE = 'profile-request';

/** SHA-256 (hex) of a link's token: the only form in which Settle keeps it (shared by every hosted page). */
export { hashLinkToken };

export interface SendProfileRequestCommand {
  customerId: string;
  channels: Channel[];
  /** Send to this address / number instead of the customer's own (validated; the customer's record is unchanged). */
  email?: string | null;
  phone?: string | null;
  /** What the customer may enter; both when absent. */
  kinds?: PaymentMethodKind[] | null;
  /** A note shown to the customer on the hosted page. */
  note?: string | null;
  /** The staff member sending it; null when Settle sends it (card-expiring notices). */
  requestedBy: string | null;
  purpose?: ProfileRequestPurpose;
  /** REPLACE_CARD: the card to replace (an active card of this customer). */
  replacesPaymentMethodId?: string | null;
  /** The message's dedupe key; by default one per request. */
  dedupeKey?: string;
}

/** Card-expiring notices carry the card and its end date. */
export interface ExpiringCardDetails {
  label: string;
  /** YYYY-MM-DD, the last day the card works. */
  expiresOn: string;
}

/**
 * Payment profile requests (seed 004): staff send a customer a single-use, expiring secure link by email and/or SMS;
 * the customer opens it, confirms their details and enters a card or bank account on the gateway's page.
 */
@Injectable()
export class ProfileRequests {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly sealed: SealedLinks,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates the request and queues its message, in the caller's transaction: a refusal (unknown customer, no email
   * for EMAIL, an invalid phone number, ...) throws before anything is written, and the row and the message commit
   * together. The token is never stored, nor written into the message row: the message holds a sealed marker that
   * the dispatcher turns into the token when it sends (SealedLinks).
   */
  async send(em: EntityManager, cmd: SendProfileRequestCommand, expiringCard?: ExpiringCardDetails): Promise<PaymentProfileRequest> {
    const customer = await this.customers.require(em, cmd.customerId);
    if (customer.status === CustomerStatus.ARCHIVED) {
      throw new WalletError(WalletErrorReason.CUSTOMER_ARCHIVED, `Customer ${customer.name} is archived; reactivate them first`, 'customerId');
    }
    const purpose = cmd.purpose ?? ProfileRequestPurpose.NEW;
    let kinds = [...new Set(cmd.kinds?.length ? cmd.kinds : [PaymentMethodKind.CARD, PaymentMethodKind.BANK_ACCOUNT])];
    if (purpose === ProfileRequestPurpose.REPLACE_CARD) {
      const old = cmd.replacesPaymentMethodId ? await em.findOne(PaymentMethod, { id: cmd.replacesPaymentMethodId }) : null;
      if (!old || old.customerId !== customer.id || old.status !== PaymentMethodStatus.ACTIVE || old.kind !== PaymentMethodKind.CARD) {
        throw new WalletError(WalletErrorReason.NOT_A_CARD, 'replacesPaymentMethodId: must be an active card of this customer', 'replacesPaymentMethodId');
      }
      kinds = [PaymentMethodKind.CARD];
    }

    const now = this.clock.now();
    const request = em.create(PaymentProfileRequest, {
      id: newId(),
      customerId: customer.id,
      channels: [...new Set(cmd.channels)],
      kinds,
      purpose,
      replacesPaymentMethodId: purpose === ProfileRequestPurpose.REPLACE_CARD ? cmd.replacesPaymentMethodId! : null,
      note: cmd.note?.trim() || null,
      expiresAt: new Date(now.getTime() + this.config.wallet.profileRequestTtlHours * 3_600_000),
      requestedBy: cmd.requestedBy,
      createdAt: now,
      updatedAt: now,
    } as PaymentProfileRequest);
    request.tokenHash = hashLinkToken(this.sealed.token(PROFILE_LINK_PURPOSE, request.id));

    const secureLink = `${this.config.http.publicUrl}/p/${this.sealed.marker(PROFILE_LINK_PURPOSE, request.id)}`;
    const data: MessageData = { secureLink, expiresAt: request.expiresAt };
    if (expiringCard) {
      data.paymentMethod = expiringCard.label;
      // Noon UTC of the last day: the same calendar day in every time zone the organization may use.
      data.endDate = new Date(`${expiringCard.expiresOn}T12:00:00Z`);
    }
    // Validates the channels and the contact details (naming `email` / `phone`) before anything is written.
    const { messages } = await this.notifications.notifyCustomer(em, {
      dedupeKey: cmd.dedupeKey ?? `payment-profile-request:${request.id}`,
      kind: expiringCard ? MessageKind.CARD_EXPIRING : MessageKind.PAYMENT_PROFILE_REQUEST,
      recipient: {
        customerId: customer.id,
        name: customer.name,
        email: cmd.email?.trim() ? cmd.email : customer.email,
        phone: cmd.phone?.trim() ? cmd.phone : customer.phone,
      },
      channels: cmd.channels,
      data,
    });
    request.sentToEmail = messages.find((m) => m.channel === Channel.EMAIL)?.recipient ?? null;
    request.sentToPhone = messages.find((m) => m.channel === Channel.SMS)?.recipient ?? null;
    em.persist(request);
    await em.flush();
    return request;
  }

  /** Cancels a pending request: its link stops working. The sender or an OWNER, ADMIN or PAYMENT_MANAGER may. */
  async cancel(em: EntityManager, id: string, principal: Principal): Promise<PaymentProfileRequest> {
    const request = await em.findOne(PaymentProfileRequest, { id });
    if (!request) throw notFound(id);
    if (request.requestedBy !== principal.userId && !WALLET_MANAGER_ROLES.includes(principal.role as (typeof WALLET_MANAGER_ROLES)[number])) {
      throw new WalletError(
        WalletErrorReason.NOT_THE_SENDER,
        'Only the staff member who sent this request, or an OWNER, ADMIN or PAYMENT_MANAGER, can cancel it',
      );
    }
    const now = this.clock.now();
    // Conditional: a customer completing the request at this moment and a cancel cannot both win.
    const changed = await em.nativeUpdate(
      PaymentProfileRequest,
      { id, status: ProfileRequestStatus.PENDING, expiresAt: { $gt: now } },
      { status: ProfileRequestStatus.CANCELLED, cancelledAt: now, cancelledBy: principal.userId, updatedAt: now },
    );
    if (changed === 0) {
      await em.refresh(request);
      throw new WalletError(
        WalletErrorReason.PROFILE_REQUEST_CLOSED,
        `This payment profile request is ${request.statusAt(now).toLowerCase()} and can no longer be cancelled`,
        'id',
      );
    }
    await em.refresh(request);
    return request;
  }
}

export function notFound(id: string): WalletError {
  return new WalletError(WalletErrorReason.NOT_FOUND, `Payment profile request ${id} was not found`);
}
