import { Field, ID, Int, ObjectType } from '@nestjs/graphql';
import {
  type AccountingConnection,
  AccountingConnectionStatus,
  AccountingEntityType,
  type AccountingSyncItem,
  AccountingSyncStatus,
} from '../domain/accounting.entities.js';

@ObjectType('AccountingConnection', { description: "The organization's link to its accounting system (QuickBooks Online)" })
export class AccountingConnectionView {
  @Field(() => AccountingConnectionStatus, {
    description: 'CONNECTED: syncing. EXPIRED / DISCONNECTED: paused, events kept (PENDING) until reconnected. NONE: never connected, nothing syncs',
  })
  status!: AccountingConnectionStatus;

  @Field(() => String, { nullable: true, description: 'QuickBooks' })
  provider!: string | null;

  @Field(() => String, { nullable: true, description: 'The QuickBooks company (realmId)' })
  realmId!: string | null;

  @Field(() => Date, { nullable: true })
  connectedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the queue last ran' })
  lastSyncedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Why it is EXPIRED' })
  lastError!: string | null;

  @Field(() => Int, { description: 'Events waiting to sync (paused ones included)' })
  pendingCount!: number;

  @Field(() => Int, { description: 'Syncs that failed (see accountingSyncErrors)' })
  failedCount!: number;

  static of(conn: AccountingConnection | null, pendingCount: number, failedCount: number): AccountingConnectionView {
    return Object.assign(new AccountingConnectionView(), {
      status: conn ? (conn.status as unknown as AccountingConnectionStatus) : AccountingConnectionStatus.NONE,
      provider: conn ? 'QuickBooks Online' : null,
      realmId: conn?.realmId ?? null,
      connectedAt: conn?.connectedAt ?? null,
      lastSyncedAt: conn?.lastSyncedAt ?? null,
      lastError: conn?.lastError ?? null,
      pendingCount,
      failedCount,
    });
  }
}

@ObjectType('ConnectQuickBooksPayload')
export class ConnectQuickBooksPayload {
  @Field({ description: "Intuit's authorization page: open it in the browser; it comes back to /integrations/quickbooks/callback" })
  authorizeUrl!: string;
}

@ObjectType('QuickBooksFaultError', { description: 'One error of a QuickBooks Fault, as QuickBooks sent it' })
export class QuickBooksFaultErrorView {
  @Field({ description: 'e.g. 6240 (Duplicate Name Exists), 5010 (Stale Object), 3200 (authentication), 3001 (throttled)' })
  code!: string;

  @Field()
  message!: string;

  @Field()
  detail!: string;

  @Field()
  element!: string;
}

@ObjectType('QuickBooksFault', { description: "QuickBooks' answer to the last try" })
export class QuickBooksFaultView {
  @Field(() => Int, { description: 'HTTP status; 0 when QuickBooks did not answer' })
  status!: number;

  @Field(() => String, { nullable: true, description: 'ValidationFault, SystemFault, AuthenticationFault, …' })
  type!: string | null;

  @Field(() => [QuickBooksFaultErrorView])
  errors!: QuickBooksFaultErrorView[];
}

@ObjectType('AccountingSync', { description: 'One event queued for the accounting system, and what became of it' })
export class AccountingSyncView {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'The event, e.g. InvoiceIssued' })
  eventType!: string;

  @Field(() => AccountingEntityType)
  entityType!: AccountingEntityType;

  @Field(() => ID, { description: 'Our record: the customer, invoice, payment or credit' })
  entityId!: string;

  @Field(() => AccountingSyncStatus)
  status!: AccountingSyncStatus;

  @Field(() => Int)
  attempts!: number;

  @Field({ description: 'When it is tried next (PENDING)' })
  nextAttemptAt!: Date;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Int, { nullable: true, description: "QuickBooks' HTTP status (0: no answer)" })
  httpStatus!: number | null;

  @Field(() => QuickBooksFaultView, { nullable: true })
  fault!: QuickBooksFaultView | null;

  @Field(() => String, { nullable: true, description: "The record's QuickBooks id once synced" })
  externalId!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  syncedAt!: Date | null;

  static from(item: AccountingSyncItem): AccountingSyncView {
    return Object.assign(new AccountingSyncView(), {
      id: item.id,
      eventType: item.eventType,
      entityType: item.entityType,
      entityId: item.entityId,
      status: item.status,
      attempts: item.attempts,
      nextAttemptAt: item.nextAttemptAt,
      lastError: item.lastError,
      httpStatus: item.httpStatus,
      fault: item.fault as unknown as QuickBooksFaultView | null,
      externalId: item.externalId,
      createdAt: item.createdAt,
      syncedAt: item.syncedAt,
    });
  }
}
