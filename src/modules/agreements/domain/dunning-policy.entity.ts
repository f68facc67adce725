import { Check, Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** When the dunning policy suspends an agreement whose charge failed. */
export enum DunningTrigger {
  /** As soon as an agreement invoice's charge has failed once. */
  IMMEDIATELY = 'IMMEDIATELY',
  /** When an agreement invoice's charge has failed `threshold` times (the first attempt and the retries). */
  AFTER_FAILED_ATTEMPTS = 'AFTER_FAILED_ATTEMPTS',
  /** When an agreement invoice is still unpaid `threshold` days after its charge first failed (or its due date, if earlier). */
  AFTER_DAYS_UNPAID = 'AFTER_DAYS_UNPAID',
}
registerEnumType(DunningTrigger, { name: 'DunningTrigger', description: 'When the dunning policy suspends an agreement' });

export const MAX_DUNNING_THRESHOLD = 365;

/**
 * The organization's dunning policy (one row per organization; no row: the defaults — never suspend). Agreements own
 * it; the evaluation (application/dunning.ts) applies it to the facts (unpaid agreement invoices, their age and the
 * failed attempts of their charges), never to a count of events.
 */
@Entity({ tableName: 'dunning_policy' })
@TenantScoped()
@Check({
  name: 'dunning_policy_threshold_check',
  expression: `("trigger" = 'IMMEDIATELY' and "threshold" is null) or ("trigger" <> 'IMMEDIATELY' and "threshold" >= 1 and "threshold" <= ${MAX_DUNNING_THRESHOLD})`,
})
export class DunningPolicy {
  @PrimaryKey({ type: 'uuid' })
  organizationId!: string;

  /** Suspend agreements (and their visits ahead) whose payment is overdue; off by default (seed 001: optional). */
  @Property({ type: 'boolean', default: false })
  suspend: boolean = false;

  @Enum({ items: () => DunningTrigger, nativeEnumName: 'dunning_trigger', default: DunningTrigger.IMMEDIATELY })
  trigger: DunningTrigger = DunningTrigger.IMMEDIATELY;

  /** N for AFTER_FAILED_ATTEMPTS / AFTER_DAYS_UNPAID (1–365); null for IMMEDIATELY. */
  @Property({ type: 'smallint', nullable: true })
  threshold: number | null = null;

  /** Also email the office (OWNERs, ADMINs, PAYMENT_MANAGERs) about failures and suspensions, not only in-app. */
  @Property({ type: 'boolean', default: false })
  notifyOfficeByEmail: boolean = false;

  /** A suspended agreement becomes ACTIVE again by itself once its overdue invoices are paid. */
  @Property({ type: 'boolean', default: false })
  autoReactivateWhenPaid: boolean = false;

  @Property({ type: 'uuid', nullable: true })
  updatedBy: string | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

/**
 * A message dunning sent once (the request to update a payment method for one failed payment and method): the
 * unique key is the claim, in the transaction that queues the message, so redelivered events send nothing again.
 */
@Entity({ tableName: 'dunning_notice' })
@TenantScoped()
@Unique({ properties: ['organizationId', 'key'] })
@Index({ properties: ['organizationId', 'agreementId'] })
export class DunningNotice extends TenantEntity {
  @Property({ type: 'text' })
  key!: string;

  @Property({ type: 'uuid' })
  agreementId!: string;

  @Property({ type: 'uuid', nullable: true })
  paymentId: string | null = null;
}

export const DUNNING_ENTITIES = [DunningPolicy, DunningNotice];
