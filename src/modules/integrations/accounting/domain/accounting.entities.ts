import { BigIntType } from '@mikro-orm/core';
import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/** The state of an organization's QuickBooks connection row. */
export enum AccountingConnectionState {
  /** Tokens work: events sync as they come. */
  CONNECTED = 'CONNECTED',
  /** QuickBooks refused to refresh the tokens (revoked, or unused for 100 days): syncing is paused until reconnected. */
  EXPIRED = 'EXPIRED',
  /** Staff disconnected it: syncing is paused, events are kept and sync when the organization connects again. */
  DISCONNECTED = 'DISCONNECTED',
}

/** What `accountingConnection` answers: the row's state, or NONE without a row (the `none` adapter: nothing syncs). */
export enum AccountingConnectionStatus {
  CONNECTED = 'CONNECTED',
  EXPIRED = 'EXPIRED',
  DISCONNECTED = 'DISCONNECTED',
  NONE = 'NONE',
}
registerEnumType(AccountingConnectionStatus, { name: 'AccountingConnectionStatus' });

/** Our records that have a counterpart in the accounting system. */
export enum AccountingEntityType {
  CUSTOMER = 'CUSTOMER',
  INVOICE = 'INVOICE',
  PAYMENT = 'PAYMENT',
  CREDIT = 'CREDIT',
  /** The one "Services" item every invoice and credit memo line uses (entity id = the connection's id). */
  ITEM = 'ITEM',
}
registerEnumType(AccountingEntityType, { name: 'AccountingEntityType' });

export enum AccountingSyncStatus {
  /** Waiting: not tried yet, retrying after a 429/5xx (nextAttemptAt), or paused by an expired/disconnected connection. */
  PENDING = 'PENDING',
  SYNCED = 'SYNCED',
  /** Refused by QuickBooks (a validation fault) or out of retries: listed in accountingSyncErrors until retried. */
  FAILED = 'FAILED',
  /** Nothing to do in the accounting system (e.g. an OVERPAYMENT credit, which is the payment's unapplied amount there). */
  SKIPPED = 'SKIPPED',
}
registerEnumType(AccountingSyncStatus, { name: 'AccountingSyncStatus' });

/**
 * An organization's QuickBooks Online connection (one per organization). The OAuth tokens are stored sealed
 * (AES-256-GCM, key derived from JWT_SECRET: see TokenVault); they are never returned or logged.
 */
@Entity({ tableName: 'accounting_connection' })
@TenantScoped()
@Unique({ properties: ['organizationId'] })
export class AccountingConnection extends TenantEntity {
  @Property({ type: 'text' })
  provider: string = 'QUICKBOOKS';

  @Enum({ items: () => AccountingConnectionState, nativeEnumName: 'accounting_connection_state' })
  status: AccountingConnectionState = AccountingConnectionState.CONNECTED;

  /** The QuickBooks company (realmId). */
  @Property({ type: 'text' })
  realmId!: string;

  @Property({ type: 'text' })
  accessTokenSealed!: string;

  @Property({ type: 'text' })
  refreshTokenSealed!: string;

  @Property({ type: 'timestamptz' })
  accessTokenExpiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  refreshTokenExpiresAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  connectedAt!: Date;

  @Property({ type: 'uuid', nullable: true })
  connectedBy: string | null = null;

  /** Why it is EXPIRED (QuickBooks' answer to the refresh). */
  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  /** One sync run at a time per organization: the runner holds this lease while it works through the queue. */
  @Property({ type: 'timestamptz', nullable: true })
  syncLeaseUntil: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  lastSyncedAt: Date | null = null;
}

/**
 * Our record → its QuickBooks id and SyncToken, per company (realm): a re-delivered event finds it and updates instead
 * of creating a duplicate. `detail` keeps what the next update needs (e.g. that an invoice is voided).
 */
@Entity({ tableName: 'accounting_mapping' })
@TenantScoped()
@Unique({ name: 'accounting_mapping_record_unique', properties: ['organizationId', 'realmId', 'entityType', 'entityId'] })
export class AccountingMapping extends TenantEntity {
  @Property({ type: 'text' })
  realmId!: string;

  @Enum({ items: () => AccountingEntityType, nativeEnumName: 'accounting_entity_type' })
  entityType!: AccountingEntityType;

  @Property({ type: 'uuid' })
  entityId!: string;

  @Property({ type: 'text' })
  externalId!: string;

  @Property({ type: 'text' })
  syncToken!: string;

  @Property({ type: 'jsonb', nullable: true })
  detail: Record<string, unknown> | null = null;
}

/**
 * The sync queue: one row per consumed event of an organization with a connection. Rows stay PENDING while the
 * connection is EXPIRED or DISCONNECTED, so nothing is lost; the runner works through them in order.
 */
@Entity({ tableName: 'accounting_sync_item' })
@TenantScoped()
@Unique({ properties: ['eventId'] })
@Index({ name: 'accounting_sync_item_due_index', properties: ['organizationId', 'status', 'nextAttemptAt'] })
@Index({ name: 'accounting_sync_item_record_index', properties: ['organizationId', 'entityType', 'entityId'] })
export class AccountingSyncItem extends TenantEntity {
  /** The outbox message: a second delivery of the same event adds nothing. */
  @Property({ type: 'uuid' })
  eventId!: string;

  @Property({ type: 'text' })
  eventType!: string;

  @Enum({ items: () => AccountingEntityType, nativeEnumName: 'accounting_entity_type' })
  entityType!: AccountingEntityType;

  @Property({ type: 'uuid' })
  entityId!: string;

  @Property({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Enum({ items: () => AccountingSyncStatus, nativeEnumName: 'accounting_sync_status' })
  status: AccountingSyncStatus = AccountingSyncStatus.PENDING;

  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  /** QuickBooks' Fault (type, and each error's code, message, detail, element), as it answered. */
  @Property({ type: 'jsonb', nullable: true })
  fault: Record<string, unknown> | null = null;

  @Property({ type: 'integer', nullable: true })
  httpStatus: number | null = null;

  @Property({ type: 'text', nullable: true })
  externalId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  syncedAt: Date | null = null;
}

/**
 * Invoicing's payment allocations as its events told them (PaymentAllocated / PaymentAllocationReversed), so a
 * QuickBooks Payment can be rebuilt with the invoices it pays whatever order the events arrive in.
 */
@Entity({ tableName: 'accounting_payment_allocation' })
@TenantScoped()
@Unique({ name: 'accounting_payment_allocation_allocation_unique', properties: ['organizationId', 'allocationId'] })
@Index({ properties: ['organizationId', 'paymentId'] })
export class AccountingPaymentAllocation extends TenantEntity {
  @Property({ type: 'uuid' })
  allocationId!: string;

  @Property({ type: 'uuid' })
  paymentId!: string;

  @Property({ type: 'uuid' })
  invoiceId!: string;

  /** Minor units, as Invoicing announced them. */
  @Property({ type: new BigIntType('bigint') })
  amount!: bigint;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency!: string;

  @Property({ type: 'boolean' })
  reversed: boolean = false;
}

/** The accounting sync's entities (listed in ../../entities.ts). */
export const ACCOUNTING_ENTITIES: (abstract new (...args: never[]) => object)[] = [
  AccountingConnection,
  AccountingMapping,
  AccountingSyncItem,
  AccountingPaymentAllocation,
];
