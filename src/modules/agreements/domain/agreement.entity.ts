import { Check, Entity, Enum, Index, Property } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';
import type { AgreementLine } from './agreement-lines.js';
import { AgreementStatus } from './agreement-status.js';
import { BillingFrequency, type BillingSchedule } from './billing-schedule.js';

/**
 * A service agreement (seed 001): priced services billed every period from the start date (on the billing day) until
 * the end date, or until closed when open-ended, charged to a saved method the customer consented to. Its status moves
 * only through AgreementLifecycle, which records an AgreementTransition for each change.
 */
@Entity({ tableName: 'service_agreement' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
@Index({ properties: ['organizationId', 'customerId'] })
@Index({ properties: ['organizationId', 'status', 'endDate'] })
@Check({ name: 'service_agreement_billing_day_check', expression: '"billing_day" is null or ("billing_day" >= 1 and "billing_day" <= 28)' })
export class ServiceAgreement extends TenantEntity implements BillingSchedule {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Property({ type: 'text' })
  name!: string;

  /** The terms the customer accepts on the sign-up page. */
  @Property({ type: 'text' })
  terms!: string;

  /** The priced services of one period (Invoicing's line shape). */
  @Property({ type: 'jsonb' })
  lines!: AgreementLine[];

  /** The organization's currency when the quote was made: the unit of the lines' prices. */
  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Enum({ items: () => BillingFrequency, nativeEnumName: 'billing_frequency' })
  frequency!: BillingFrequency;

  /** 1–28; null: the last day of the month. The start date falls on it. */
  @Property({ type: 'smallint', nullable: true })
  billingDay: number | null = null;

  @Property({ type: 'date' })
  startDate!: string;

  /** Inclusive; null: open-ended (bills until closed). */
  @Property({ type: 'date', nullable: true })
  endDate: string | null = null;

  /** The saved method that pays it (with the customer's consent to future charges). */
  @Property({ type: 'uuid', nullable: true })
  paymentMethodId: string | null = null;

  @Enum({ items: () => AgreementStatus, nativeEnumName: 'agreement_status' })
  status: AgreementStatus = AgreementStatus.QUOTE;

  /** The end of the last billed period (the billing run moves it); null: nothing billed yet. */
  @Property({ type: 'date', nullable: true })
  billedThrough: string | null = null;

  /** Goes up with every change of what the customer agrees to or of the status; the acceptance records the one seen. */
  @Property({ type: 'int' })
  version: number = 1;

  /** The agreement this one renews (a renewal quote copies it). */
  @Property({ type: 'uuid', nullable: true })
  renewalOfId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;

  // The customer's acceptance on the hosted page.
  @Property({ type: 'timestamptz', nullable: true })
  signedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  signedIpAddress: string | null = null;

  @Property({ type: 'text', nullable: true })
  signedUserAgent: string | null = null;

  /** The version of the terms the customer accepted. */
  @Property({ type: 'int', nullable: true })
  signedVersion: number | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  approvedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  approvedBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  closedAt: Date | null = null;
}

/** One status change: who (null: the customer on the hosted page, or Settle), when, why. */
@Entity({ tableName: 'agreement_transition' })
@TenantScoped()
@Index({ properties: ['agreementId', 'version'] })
export class AgreementTransition extends TenantEntity {
  @Property({ type: 'uuid' })
  agreementId!: string;

  /** Null for the creation of the quote. */
  @Enum({ items: () => AgreementStatus, nativeEnumName: 'agreement_status', nullable: true })
  fromStatus: AgreementStatus | null = null;

  @Enum({ items: () => AgreementStatus, nativeEnumName: 'agreement_status' })
  toStatus!: AgreementStatus;

  @Property({ type: 'timestamptz' })
  at!: Date;

  /** The agreement's version after this change: orders an agreement's transitions exactly. */
  @Property({ type: 'int' })
  version!: number;

  @Property({ type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  @Property({ type: 'text', nullable: true })
  reason: string | null = null;
}
