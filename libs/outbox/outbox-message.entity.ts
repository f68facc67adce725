import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { newId } from '../ddd/index.js';

/**
 * An integration event waiting to be (or already) published. Written in the same transaction as the change it
 * announces, so a rolled-back change announces nothing and a committed one is never forgotten.
 */
@Entity({ tableName: 'outbox_message' })
// Partial index: the relay only ever looks for unpublished rows, which stay few however large the table grows.
@Index({
  name: 'outbox_message_unpublished_idx',
  expression: 'create index "outbox_message_unpublished_idx" on "outbox_message" ("occurred_at") where "published_at" is null',
})
export class OutboxMessage {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Property({ type: 'uuid', nullable: true })
  organizationId: string | null = null;

  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  /** Set once every subscriber has a queued delivery. */
  @Property({ type: 'timestamptz', nullable: true })
  publishedAt: Date | null = null;

  /** A relay that claimed the row owns it until then; a crashed relay's claim simply runs out. */
  @Property({ type: 'timestamptz', nullable: true })
  claimedUntil: Date | null = null;

  @Property({ type: 'integer' })
  relayAttempts: number = 0;
}
