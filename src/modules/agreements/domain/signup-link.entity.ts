import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** Stored states; EXPIRED is derived (a PENDING link past its expiry). */
export enum SignupLinkStatus {
  PENDING = 'PENDING',
  USED = 'USED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(SignupLinkStatus, { name: 'AgreementSignupLinkStatus' });

/**
 * The single-use, expiring sign-up link of a sent agreement. Its token is never stored: only its SHA-256, which is how
 * the hosted page finds it; the email holds a sealed marker until the dispatcher sends it (SealedLinks).
 */
@Entity({ tableName: 'agreement_signup_link' })
@TenantScoped()
@Index({ properties: ['agreementId'] })
export class AgreementSignupLink extends TenantEntity {
  @Property({ type: 'uuid' })
  agreementId!: string;

  /** Unique across organizations: the hosted page looks it up before any tenant is known. */
  @Property({ type: 'text' })
  @Unique()
  tokenHash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Enum({ items: [SignupLinkStatus.PENDING, SignupLinkStatus.USED, SignupLinkStatus.CANCELLED], nativeEnumName: 'agreement_signup_link_status' })
  status: SignupLinkStatus = SignupLinkStatus.PENDING;

  @Property({ type: 'uuid', nullable: true })
  sentBy: string | null = null;

  @Property({ type: 'text', nullable: true })
  sentToEmail: string | null = null;

  /** The customer ticked the acceptance box: when, from where, and the agreement version they saw. */
  @Property({ type: 'timestamptz', nullable: true })
  acceptedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  acceptedIpAddress: string | null = null;

  @Property({ type: 'text', nullable: true })
  acceptedUserAgent: string | null = null;

  @Property({ type: 'int', nullable: true })
  acceptedVersion: number | null = null;

  @Property({ type: 'text', nullable: true })
  gatewaySessionId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  statusAt(now: Date): SignupLinkStatus {
    if (this.status === SignupLinkStatus.PENDING && this.expiresAt.getTime() <= now.getTime()) return SignupLinkStatus.EXPIRED;
    return this.status;
  }
}
