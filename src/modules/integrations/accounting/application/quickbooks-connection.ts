import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { LockMode } from '@mikro-orm/core';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import { Clock, isUuid } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AccountingError, AccountingErrorReason } from '../accounting.error.js';
import { AccountingConnection, AccountingConnectionState, AccountingSyncItem, AccountingSyncStatus } from '../domain/accounting.entities.js';
import { QuickBooksHttp, QuickBooksOAuthError } from '../infrastructure/quickbooks-http.js';
import { QuickBooksSettings } from '../infrastructure/quickbooks.settings.js';
import { TokenVault } from '../infrastructure/token-vault.js';

export const ACCOUNTING_SYNC_QUEUE = 'integrations-accounting-sync';
/** How long the authorize link's state is accepted. */
const STATE_TTL_SECONDS = 15 * 60;

export type CallbackResult = { ok: true; organizationId: string; realmId: string } | { ok: false; reason: string };

/**
 * Connecting an organization to QuickBooks Online (OAuth 2.0 authorization code grant), disconnecting it, and its
 * status. Reconnecting (after EXPIRED or DISCONNECTED) keeps the same row, so the PENDING queue resumes at once.
 */
@Injectable()
export class QuickBooksConnections {
  private readonly logger = new Logger(QuickBooksConnections.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly settings: QuickBooksSettings,
    private readonly http: QuickBooksHttp,
    private readonly vault: TokenVault,
    @InjectQueue(ACCOUNTING_SYNC_QUEUE) private readonly queue: Queue,
  ) {}

  /** Intuit's authorization page for this organization; `state` is the organization id, signed and expiring. */
  authorizeUrl(organizationId: string, userId: string | null): string {
    if (!this.settings.configured) {
      throw new AccountingError(
        AccountingErrorReason.QUICKBOOKS_NOT_CONFIGURED,
        'QuickBooks is not configured on this installation (QBO_CLIENT_ID and QBO_CLIENT_SECRET)',
      );
    }
    const exp = Math.floor(this.clock.now().getTime() / 1000) + STATE_TTL_SECONDS;
    return this.http.authorizeUrl(this.vault.signState({ o: organizationId, u: userId, exp, n: randomBytes(9).toString('base64url') }));
  }

  /** Intuit redirected back: check the state, exchange the code, store the tokens sealed, resume the queue. */
  async complete(query: { code?: string; state?: string; realmId?: string; error?: string }): Promise<CallbackResult> {
    if (query.error) return { ok: false, reason: `QuickBooks did not connect: ${query.error}` };
    const claims = query.state ? this.vault.verifyState(query.state, this.clock.now()) : null;
    if (!claims || !isUuid(claims.o)) return { ok: false, reason: 'This link is invalid or has expired. Start again from Settle.' };
    if (!query.code || !query.realmId || !/^[0-9]{1,32}$/.test(query.realmId)) {
      return { ok: false, reason: 'QuickBooks did not send an authorization code and company.' };
    }
    let tokens;
    try {
      tokens = await this.http.exchangeCode(query.code);
    } catch (error) {
      this.logger.warn(`QuickBooks code exchange failed: ${error instanceof Error ? error.message : String(error)}`);
      return { ok: false, reason: error instanceof QuickBooksOAuthError && error.grantRejected ? 'QuickBooks refused the authorization (it may have been used already). Start again from Settle.' : 'QuickBooks did not answer. Try again in a moment.' };
    }
    const now = this.clock.now();
    const em = this.orm.em.fork();
    scopeToTenant(em, claims.o);
    await em.transactional(async (tx) => {
      const existing = await tx.findOne(AccountingConnection, {}, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const conn = existing ?? tx.create(AccountingConnection, { realmId: query.realmId } as AccountingConnection);
      conn.realmId = query.realmId!;
      conn.status = AccountingConnectionState.CONNECTED;
      conn.accessTokenSealed = this.vault.seal(tokens.accessToken);
      conn.refreshTokenSealed = this.vault.seal(tokens.refreshToken);
      conn.accessTokenExpiresAt = new Date(now.getTime() + tokens.expiresIn * 1000);
      conn.refreshTokenExpiresAt = tokens.refreshExpiresIn ? new Date(now.getTime() + tokens.refreshExpiresIn * 1000) : null;
      conn.connectedAt = now;
      conn.connectedBy = claims.u && isUuid(claims.u) ? claims.u : null;
      conn.lastError = null;
      conn.syncLeaseUntil = null;
    });
    await this.kick(claims.o);
    return { ok: true, organizationId: claims.o, realmId: query.realmId };
  }

  /** Stops syncing (events keep queuing, PENDING) and asks Intuit to revoke the grant. */
  async disconnect(em: EntityManager): Promise<AccountingConnection> {
    const conn = await em.findOne(AccountingConnection, {});
    if (!conn || conn.status === AccountingConnectionState.DISCONNECTED) {
      throw new AccountingError(AccountingErrorReason.ACCOUNTING_NOT_CONNECTED, 'QuickBooks is not connected');
    }
    const refreshToken = this.vault.open(conn.refreshTokenSealed);
    conn.status = AccountingConnectionState.DISCONNECTED;
    conn.accessTokenSealed = '';
    conn.refreshTokenSealed = '';
    conn.accessTokenExpiresAt = this.clock.now();
    await em.flush();
    if (refreshToken) await this.http.revoke(refreshToken);
    return conn;
  }

  /** Puts a FAILED (or waiting) item back at the head of the queue with fresh attempts, and runs the queue. */
  async retry(em: EntityManager, organizationId: string, id: string): Promise<AccountingSyncItem> {
    const item = await em.findOne(AccountingSyncItem, { id });
    if (!item) throw AccountingError.syncItemNotFound(id);
    if (item.status !== AccountingSyncStatus.FAILED && item.status !== AccountingSyncStatus.PENDING) {
      throw new AccountingError(AccountingErrorReason.ACCOUNTING_SYNC_NOT_RETRYABLE, `Accounting sync ${id} is ${item.status}: nothing to retry`);
    }
    item.status = AccountingSyncStatus.PENDING;
    item.attempts = 0;
    item.nextAttemptAt = this.clock.now();
    await em.flush();
    await this.kick(organizationId);
    return item;
  }

  /** Runs the organization's queue now on a worker (the sweep would within a quarter of a minute anyway). */
  async kick(organizationId: string): Promise<void> {
    await this.queue.add({ organizationId }, { removeOnComplete: true, removeOnFail: 50, attempts: 1 });
  }
}
