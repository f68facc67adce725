import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * An organization's HTTPS endpoint that receives signed event deliveries. The signing secret is stored encrypted
 * (AES-256-GCM, key derived from JWT_SECRET: see WebhookSecrets) because it must be usable to sign; only its hint is
 * ever shown again after creation or rotation.
 */
@Entity({ tableName: 'webhook_endpoint' })
@TenantScoped()
@Index({ properties: ['organizationId', 'createdAt', 'id'] })
export class WebhookEndpoint extends TenantEntity {
  @Property({ type: 'text' })
  url!: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  /** Subscriptions: exact public names (`invoice.issued`) or group patterns (`invoice.*`). */
  @Property({ type: 'jsonb' })
  eventTypes!: string[];

  @Property({ type: 'boolean' })
  enabled: boolean = true;

  /** `v1.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM. Never logged, never returned. */
  @Property({ type: 'text' })
  secretCiphertext!: string;

  /** `whsec_…` plus the secret's last 4 characters, to tell secrets apart. */
  @Property({ type: 'text' })
  secretHint!: string;

  @Property({ type: 'timestamptz' })
  secretRotatedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  disabledAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  createdBy: string | null = null;
}

export enum WebhookDeliveryStatus {
  /** Waiting for its (next) attempt at `nextAttemptAt`. */
  PENDING = 'PENDING',
  /** A worker is sending it (until its lease runs out). */
  SENDING = 'SENDING',
  /** The endpoint answered 2xx. */
  DELIVERED = 'DELIVERED',
  /** Every attempt over 3 days failed. `replayWebhookDelivery` sends it again. */
  FAILED = 'FAILED',
  /** The endpoint was disabled before the delivery went out. */
  SKIPPED = 'SKIPPED',
}
registerEnumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus' });

/** One event for one endpoint (unique): the body is fixed at fan-out, so every attempt and replay sends the same bytes. */
@Entity({ tableName: 'webhook_delivery' })
@TenantScoped()
@Unique({ properties: ['eventId', 'endpointId'] })
@Index({ properties: ['organizationId', 'endpointId', 'createdAt', 'id'] })
@Index({
  name: 'webhook_delivery_due_idx',
  expression:
    'create index "webhook_delivery_due_idx" on "webhook_delivery" ("next_attempt_at") where "status" in (\'PENDING\', \'SENDING\')',
})
export class WebhookDelivery extends TenantEntity {
  @Property({ type: 'uuid' })
  endpointId!: string;

  /** The outbox event's id: the `id` of the body and the `Settle-Event-Id` header (receivers dedupe on it). */
  @Property({ type: 'uuid' })
  eventId!: string;

  /** The public name (invoice.issued). */
  @Property({ type: 'text' })
  eventType!: string;

  /** The exact JSON sent. */
  @Property({ type: 'text' })
  body!: string;

  @Enum({ items: () => WebhookDeliveryStatus, nativeEnumName: 'webhook_delivery_status' })
  status: WebhookDeliveryStatus = WebhookDeliveryStatus.PENDING;

  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  leaseUntil: Date | null = null;

  /** Start of the retry window (first attempt, or the last replay): retries stop 3 days after it. */
  @Property({ type: 'timestamptz' })
  windowStartedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  deliveredAt: Date | null = null;

  /** Set by a replay; the next attempt is recorded as a replay. */
  @Property({ type: 'boolean' })
  replayPending: boolean = false;

  @Property({ type: 'integer', nullable: true })
  lastStatusCode: number | null = null;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;
}

/** One HTTP attempt of a delivery, with what the endpoint answered. */
@Entity({ tableName: 'webhook_delivery_attempt' })
@TenantScoped()
@Unique({ properties: ['deliveryId', 'number'] })
export class WebhookDeliveryAttempt extends TenantEntity {
  @Property({ type: 'uuid' })
  deliveryId!: string;

  @Property({ type: 'integer' })
  number!: number;

  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  @Property({ type: 'integer' })
  durationMs!: number;

  /** Null when no HTTP answer came (timeout, connection refused, refused address). */
  @Property({ type: 'integer', nullable: true })
  statusCode: number | null = null;

  /** The first 2 KB of the answer's body. */
  @Property({ type: 'text', nullable: true })
  responseBody: string | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  /** Sent by replayWebhookDelivery. */
  @Property({ type: 'boolean' })
  replay: boolean = false;
}

/** Outbound webhooks (entities listed in ../../entities.ts). */
export const WEBHOOK_ENTITIES: (abstract new (...args: never[]) => object)[] = [WebhookEndpoint, WebhookDelivery, WebhookDeliveryAttempt];
