import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AccountingConnection, AccountingConnectionState, AccountingSyncItem, AccountingSyncStatus } from '../domain/accounting.entities.js';
import { QuickBooksFault } from '../infrastructure/quickbooks-http.js';
import { AccountingSync, ConnectionPaused } from './accounting-sync.port.js';
import { AccountingSyncs } from './accounting-syncs.js';

/** Tries of one item before it is FAILED: 30 s, 1, 2, 4, 8, 16, 32 min apart (about an hour in all). */
export const MAX_SYNC_ATTEMPTS = 8;
export const SYNC_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 60 * 60_000;
/** A run holds the organization's lease this long; one that dies leaves a lease that runs out. */
const LEASE_MS = 5 * 60_000;

export interface SyncRun {
  synced: number;
  skipped: number;
  failed: number;
  /** Rescheduled after a 429/5xx. */
  retrying: number;
  /** The connection expired during the run: what was left stays PENDING. */
  paused: boolean;
}

/** When the next try of an item that failed `attempts` times is due. */
export function nextAttemptDelay(attempts: number): number {
  return Math.min(SYNC_BACKOFF_MS * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
}

/**
 * Works through an organization's sync queue, oldest first, one item at a time, under the connection's lease (one run
 * per organization at once, on any number of workers). Each item ends SYNCED/SKIPPED, is rescheduled with backoff
 * (429, 5xx, no answer), or FAILED (a fault QuickBooks will keep answering, or out of attempts). When the connection
 * expires mid-run the item stays PENDING, untouched, and the run stops: reconnecting resumes from there.
 */
@Injectable()
export class AccountingSyncRunner {
  private readonly logger = new Logger(AccountingSyncRunner.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly syncs: AccountingSyncs,
  ) {}

  /** Every organization with a CONNECTED connection and an item due (the repeatable sweep). */
  async runDue(): Promise<number> {
    const rows = await this.orm.em.fork().execute<{ organization_id: string }[]>(
      `select distinct i.organization_id from accounting_sync_item i
         join accounting_connection c on c.organization_id = i.organization_id and c.status = 'CONNECTED'
        where i.status = 'PENDING' and i.next_attempt_at <= ?`,
      [this.clock.now()],
    );
    for (const row of rows) await this.runOrganization(row.organization_id);
    return rows.length;
  }

  async runOrganization(organizationId: string): Promise<SyncRun> {
    const run: SyncRun = { synced: 0, skipped: 0, failed: 0, retrying: 0, paused: false };
    const now = this.clock.now();
    const claimed = await this.orm.em.fork().execute<{ id: string }[]>(
      `update accounting_connection set sync_lease_until = ?
        where organization_id = ? and status = 'CONNECTED' and (sync_lease_until is null or sync_lease_until < ?)
        returning id`,
      [new Date(now.getTime() + LEASE_MS), organizationId, now],
    );
    if (claimed.length === 0) return run;
    try {
      const seen = new Set<string>();
      for (;;) {
        const em = this.orm.em.fork();
        scopeToTenant(em, organizationId);
        const conn = await em.findOne(AccountingConnection, {});
        if (!conn || conn.status !== AccountingConnectionState.CONNECTED) {
          run.paused = true;
          break;
        }
        const item = await em.findOne(
          AccountingSyncItem,
          {
            status: AccountingSyncStatus.PENDING,
            nextAttemptAt: { $lte: this.clock.now() },
            ...(seen.size > 0 ? { id: { $nin: [...seen] } } : {}),
          },
          { orderBy: { createdAt: 'asc', id: 'asc' } },
        );
        if (!item) break;
        seen.add(item.id);
        const outcome = await this.process(em, conn, item, this.syncs.adapterFor(conn));
        if (outcome === 'paused') {
          run.paused = true;
          break;
        }
        run[outcome] += 1;
      }
    } finally {
      await this.orm.em.fork().execute(`update accounting_connection set sync_lease_until = null, last_synced_at = ? where organization_id = ?`, [
        this.clock.now(),
        organizationId,
      ]);
    }
    return run;
  }

  private async process(
    em: ReturnType<MikroORM['em']['fork']>,
    conn: AccountingConnection,
    item: AccountingSyncItem,
    adapter: AccountingSync,
  ): Promise<'synced' | 'skipped' | 'failed' | 'retrying' | 'paused'> {
    try {
      const outcome = await adapter.push(em, conn, item);
      item.status = outcome.status;
      item.externalId = outcome.externalId;
      item.syncedAt = this.clock.now();
      item.lastError = null;
      item.fault = null;
      item.httpStatus = null;
      await em.flush();
      return outcome.status === AccountingSyncStatus.SYNCED ? 'synced' : 'skipped';
    } catch (error) {
      if (error instanceof ConnectionPaused) {
        // Not the item's fault: it waits, PENDING with its attempts unchanged, for the organization to reconnect.
        em.clear();
        return 'paused';
      }
      const fault = error instanceof QuickBooksFault ? error : null;
      const retryable = fault ? fault.retryable : true;
      const fresh = await em.findOneOrFail(AccountingSyncItem, { id: item.id }, { refresh: true });
      fresh.attempts += 1;
      fresh.lastError = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
      fresh.fault = fault ? fault.toJSON() : null;
      fresh.httpStatus = fault ? fault.status : null;
      if (retryable && fresh.attempts < MAX_SYNC_ATTEMPTS) {
        fresh.nextAttemptAt = new Date(this.clock.now().getTime() + nextAttemptDelay(fresh.attempts));
        await em.flush();
        return 'retrying';
      }
      fresh.status = AccountingSyncStatus.FAILED;
      this.logger.warn(`Accounting sync ${fresh.id} (${fresh.eventType} ${fresh.entityId}) failed: ${fresh.lastError}`);
      await em.flush();
      return 'failed';
    }
  }
}
