import { Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { newId } from '#libs/ddd/index.js';

/** What became of a gateway event. */
export enum WebhookEventOutcome {
  /** Received; not handled yet, or its handling failed (answered 500, the gateway delivers it again). */
  PENDING = 'PENDING',
  /** Its charge's current state was applied to the payment (which may not have moved: forward-only). */
  PROCESSED = 'PROCESSED',
  /** A type Settle does not act on: acknowledged and kept for the record. */
  IGNORED = 'IGNORED',
  /** About a charge Settle did not make (another integration on the same account, an installment's direct charge). */
  UNMATCHED = 'UNMATCHED',
}

/**
 * The webhook inbox: one row per gateway event id, so a repeated delivery is answered 200 and does nothing. Not
 * tenant-scoped on purpose: an event arrives before we know whose it is (organizationId is filled in once matched),
 * and no staff query reads this table.
 */
@Entity({ tableName: 'webhook_event' })
@Unique({ properties: ['gateway', 'eventId'] })
@Index({ properties: ['paymentId'] })
export class WebhookEvent {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  /** stripe or sandbox */
  @Property({ type: 'text' })
  gateway!: string;

  /** The gateway's event id (evt_…). */
  @Property({ type: 'text' })
  eventId!: string;

  /** e.g. payment_intent.succeeded */
  @Property({ type: 'text' })
  type!: string;

  /** The charge (pi_…) it is about, for payment_intent.* events. */
  @Property({ type: 'text', nullable: true })
  chargeId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  organizationId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  paymentId: string | null = null;

  @Enum({ items: () => WebhookEventOutcome, nativeEnumName: 'webhook_event_outcome' })
  outcome: WebhookEventOutcome = WebhookEventOutcome.PENDING;

  /** Deliveries that tried to handle it. */
  @Property({ type: 'integer' })
  attempts: number = 0;

  /** A delivery is handling it until then; a concurrent copy is turned away meanwhile (and retried by the gateway). */
  @Property({ type: 'timestamptz', nullable: true })
  claimedUntil: Date | null = null;

  /** Why the last handling failed (for the logs and support; never sent to the gateway). */
  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'timestamptz' })
  receivedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  processedAt: Date | null = null;
}

/** Gateway webhook events received (the inbox) (entities listed in ../entities.ts). */
export const WEBHOOK_ENTITIES: (abstract new (...args: never[]) => object)[] = [WebhookEvent];
