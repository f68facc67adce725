import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AccountingConnection, type AccountingSyncItem, AccountingSyncStatus } from '../domain/accounting.entities.js';

export interface SyncOutcome {
  status: AccountingSyncStatus.SYNCED | AccountingSyncStatus.SKIPPED;
  /** The accounting system's id of the record, when there is one. */
  externalId: string | null;
}

/**
 * The accounting sync port: pushes one queued change (a customer, an invoice, a payment, a credit) of an organization
 * to its accounting system. Adapters: QuickBooks Online, and `none` for an organization that connected nothing.
 */
export abstract class AccountingSync {
  abstract readonly provider: 'NONE' | 'QUICKBOOKS';
  /** Whether this organization's events are queued at all. */
  abstract readonly queuesEvents: boolean;
  /**
   * `em` is scoped to the item's organization and not in a transaction: mappings are written as soon as the
   * accounting system has the record, so a later failure in the same item never forgets what was created.
   * Throws QuickBooksFault (retry or fail the item) or ConnectionPaused (leave it PENDING).
   */
  abstract push(em: EntityManager, connection: AccountingConnection, item: AccountingSyncItem): Promise<SyncOutcome>;
}

/** The connection cannot be used (refresh refused: now EXPIRED): the item stays PENDING and the run stops. */
export class ConnectionPaused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionPaused';
  }
}

/** The default: an organization without a connection syncs nothing, and nothing is queued or fails for it. */
@Injectable()
export class NoneAccountingSync extends AccountingSync {
  readonly provider = 'NONE' as const;
  readonly queuesEvents = false;

  push(): Promise<SyncOutcome> {
    return Promise.resolve({ status: AccountingSyncStatus.SKIPPED, externalId: null });
  }
}
