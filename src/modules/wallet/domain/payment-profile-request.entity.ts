import { ArrayType } from '@mikro-orm/core';
import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import { PaymentMethodKind } from './payment-method.entity.js';

export enum ProfileRequestPurpose {
  /** Add a card or bank account to the wallet. */
  NEW = 'NEW',
  /** A card is expiring or expired: the new card replaces it (the old one is removed once the new one is saved). */
  REPLACE_CARD = 'REPLACE_CARD',
}
registerEnumType(ProfileRequestPurpose, { name: 'ProfileRequestPurpose' });

/** Stored states. EXPIRED is not stored: a PENDING request past its expiresAt is expired (see statusAt). */
export enum ProfileRequestStatus {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(ProfileRequestStatus, {
  name: 'ProfileRequestStatus',
  description: 'PENDING until the customer uses the link, it is cancelled, or it expires (EXPIRED is derived from the clock)',
});

/**
 * A payment profile request (seed 004): a single-use, expiring link sent to a customer, who opens it, confirms their
 * contact details and billing address, consents, and enters a card or bank account on the gateway's page. The link's
 * token is never stored: only its SHA-256 (tokenHash), which is how the hosted page finds the request.
 */
@Entity({ tableName: 'payment_profile_request' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
@Index({ properties: ['organizationId', 'customerId', 'createdAt'] })
export class PaymentProfileRequest extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  /** SHA-256 (hex) of the link's token. Unique across organizations: the hosted page looks it up before any tenant is known. */
  @Property({ type: 'text' })
  @Unique()
  tokenHash!: string;

  /** EMAIL and/or SMS (the notifications module's channel names). */
  @Property({ type: ArrayType, columnType: 'text[]' })
  channels!: string[];

  /** The address and number the link was sent to, as normalized by Notifications. */
  @Property({ type: 'text', nullable: true })
  sentToEmail: string | null = null;

  @Property({ type: 'text', nullable: true })
  sentToPhone: string | null = null;

  /** What the customer may enter: CARD, BANK_ACCOUNT or both. */
  @Property({ type: ArrayType, columnType: 'text[]' })
  kinds!: PaymentMethodKind[];

  @Enum({ items: () => ProfileRequestPurpose, nativeEnumName: 'profile_request_purpose' })
  purpose: ProfileRequestPurpose = ProfileRequestPurpose.NEW;

  /** REPLACE_CARD: the card the new one replaces. */
  @Property({ type: 'uuid', nullable: true })
  replacesPaymentMethodId: string | null = null;

  /** A note from staff, shown to the customer at the top of the hosted page. */
  @Property({ type: 'text', nullable: true })
  note: string | null = null;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  /** PENDING, COMPLETED or CANCELLED (never EXPIRED: that is derived). */
  @Enum({ items: [ProfileRequestStatus.PENDING, ProfileRequestStatus.COMPLETED, ProfileRequestStatus.CANCELLED], nativeEnumName: 'profile_request_status' })
  status: ProfileRequestStatus = ProfileRequestStatus.PENDING;

  /** The staff member who sent it; null when Settle sent it (a card-expiring notice). */
  @Property({ type: 'uuid', nullable: true })
  requestedBy: string | null = null;

  /** The gateway's setup session the customer was last sent to. */
  @Property({ type: 'text', nullable: true })
  gatewaySessionId: string | null = null;

  /** The customer ticked the consent box on the hosted page: when, from where. */
  @Property({ type: 'boolean' })
  consentGiven: boolean = false;

  @Property({ type: 'timestamptz', nullable: true })
  consentGivenAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  consentIpAddress: string | null = null;

  @Property({ type: 'text', nullable: true })
  consentUserAgent: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  paymentMethodId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  cancelledBy: string | null = null;

  /** The status as of `now`: a PENDING request past its expiry is EXPIRED. */
  statusAt(now: Date): ProfileRequestStatus {
    if (this.status === ProfileRequestStatus.PENDING && this.expiresAt.getTime() <= now.getTime()) return ProfileRequestStatus.EXPIRED;
    return this.status;
  }
}
