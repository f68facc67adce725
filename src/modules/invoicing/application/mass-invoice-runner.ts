import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, domainEvent } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Notifications } from '../../notifications/index.js';
import {
  FINISHED_MASS_INVOICE_STATUSES,
  MassInvoiceBatch,
  MassInvoiceItem,
  MassInvoiceItemStatus,
  MassInvoiceStatus,
} from '../domain/mass-invoice.entity.js';
import { InvoicingErrorReason } from '../invoicing.error.js';
import { InvoicingEvents, type MassInvoiceCompletedPayload } from '../invoicing.events.js';
import { MassInvoiceProgressPubSub, type MassInvoiceProgressEvent } from '../infrastructure/mass-invoice-progress.pubsub.js';
import { type DraftInvoiceCommand, Invoices } from './invoices.use-case.js';

export const MASS_INVOICE_CHUNK = 100;

/** A customer's own refusal that means "leave them out" rather than "something is wrong". */
const SKIP_REASONS: readonly string[] = [InvoicingErrorReason.CUSTOMER_ARCHIVED, InvoicingErrorReason.CUSTOMER_NOT_FOUND];

export interface MassInvoiceRun {
  /** Items this run handled (another run may have handled others). */
  invoiced: number;
  failed: number;
  skipped: number;
  /** Items another run took first. */
  taken: number;
  status: MassInvoiceStatus | null;
}

/** Test seams: a hook that throws is a worker killed at that point. */
export interface MassInvoiceRunOptions {
  chunkSize?: number;
  /** Inside the item's transaction, after its invoice was created and before it commits. */
  beforeCommit?: (handled: number) => void | Promise<void>;
  /** After the item's transaction committed; `handled` counts the items this run handled so far. */
  afterItem?: (handled: number) => void | Promise<void>;
}

type Outcome = 'invoiced' | 'failed' | 'skipped' | 'taken';

interface CountersRow {
  status: MassInvoiceStatus;
  total: number;
  invoiced: number;
  failed: number;
  skipped: number;
}

/**
 * Works through a mass invoice batch: the PENDING items in position order, in chunks, each customer in its own
 * transaction. That transaction first claims the item with a conditional update (PENDING -> INVOICED), then creates
 * the invoice and counts it on the batch. The claim is what makes a retried job, a restarted worker or two jobs on
 * the same batch safe: the claim row-locks the item, so a second claimant waits until the first commits and then
 * matches nothing (0 rows: it moves on), or, if the first rolled back, claims it itself. An invoice and the
 * INVOICED mark therefore commit together or not at all: a worker killed anywhere leaves each item either invoiced
 * once or PENDING with no invoice, and the next run picks up exactly the PENDING ones.
 *
 * Lock order, to stay clear of deadlocks: item row, then the customer's receivables and the invoice counter (inside
 * Invoices), then the batch row (counters). Cancelling takes items, then the batch, in the same order.
 */
@Injectable()
export class MassInvoiceRunner {
  private readonly logger = new Logger(MassInvoiceRunner.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly invoices: Invoices,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
    private readonly notifications: Notifications,
    private readonly pubsub: MassInvoiceProgressPubSub,
  ) {}

  async run(organizationId: string, batchId: string, options: MassInvoiceRunOptions = {}): Promise<MassInvoiceRun> {
    const result: MassInvoiceRun = { invoiced: 0, failed: 0, skipped: 0, taken: 0, status: null };
    const em = this.scoped(organizationId);
    const now = this.clock.now();
    const started = await em.execute<CountersRow[]>(
      `update mass_invoice_batch set status = 'RUNNING', started_at = coalesce(started_at, ?), updated_at = ?
        where id = ? and organization_id = ? and status in ('QUEUED', 'RUNNING')
        returning status, total, invoiced, failed, skipped`,
      [now, now, batchId, organizationId],
    );
    if (!started.length) return result; // finished, cancelled, or not this organization's
    const batch = (await em.findOne(MassInvoiceBatch, { id: batchId }))!;
    await this.publish(organizationId, batchId, started[0]!);

    const chunkSize = options.chunkSize ?? MASS_INVOICE_CHUNK;
    // About a hundred pushes for a whole batch, however large, and one per item for a small one.
    const every = Math.max(1, Math.floor(batch.total / 100));
    let handled = 0;
    for (;;) {
      const chunk = await em.fork().find(
        MassInvoiceItem,
        { batchId, status: MassInvoiceItemStatus.PENDING },
        { orderBy: { position: 'asc' }, limit: chunkSize, fields: ['id', 'customerId'] },
      );
      if (!chunk.length) break;
      for (const item of chunk) {
        const { outcome, counters } = await this.handle(organizationId, batch, item, handled + 1, options);
        result[outcome] += 1;
        if (outcome === 'taken') continue;
        handled += 1;
        if (counters && (handled % every === 0 || counters.status !== MassInvoiceStatus.RUNNING)) {
          await this.publish(organizationId, batchId, counters);
        }
        if (counters?.status === MassInvoiceStatus.CANCELLED) {
          result.status = MassInvoiceStatus.CANCELLED;
          return result;
        }
        await options.afterItem?.(handled);
      }
      const status = (await em.fork().findOne(MassInvoiceBatch, { id: batchId }, { fields: ['status'] }))?.status;
      if (status !== MassInvoiceStatus.RUNNING) {
        result.status = status ?? null;
        return result;
      }
    }
    result.status = await this.finish(organizationId, batchId);
    return result;
  }

  /** One customer: invoice them and mark the item, or record why not. */
  private async handle(
    organizationId: string,
    batch: MassInvoiceBatch,
    item: Pick<MassInvoiceItem, 'id' | 'customerId'>,
    handled: number,
    options: MassInvoiceRunOptions,
  ): Promise<{ outcome: Outcome; counters?: CountersRow }> {
    const now = () => this.clock.now();
    try {
      return await this.scoped(organizationId).transactional(async (tx) => {
        const claimed = await tx.execute<{ id: string }[]>(
          `update mass_invoice_item set status = 'INVOICED', updated_at = ?
            where id = ? and organization_id = ? and status = 'PENDING' returning id`,
          [now(), item.id, organizationId],
        );
        if (!claimed.length) return { outcome: 'taken' as const };
        const cmd = this.command(batch, item.customerId);
        const invoice = batch.issue
          ? await this.invoices.createAndIssue(tx, cmd, batch.createdBy)
          : await this.invoices.createDraft(tx, cmd, batch.createdBy);
        await tx.execute(`update mass_invoice_item set invoice_id = ? where id = ? and organization_id = ?`, [invoice.id, item.id, organizationId]);
        const [counters] = await tx.execute<CountersRow[]>(
          `update mass_invoice_batch set invoiced = invoiced + 1, updated_at = ? where id = ? and organization_id = ?
            returning status, total, invoiced, failed, skipped`,
          [now(), batch.id, organizationId],
        );
        await options.beforeCommit?.(handled);
        return { outcome: 'invoiced' as const, counters };
      });
    } catch (error) {
      // Anything but the customer's own refusal (the database, a bug, a killed worker) propagates: the job fails, is
      // retried, and the item is still PENDING.
      if (!(error instanceof ApplicationError)) throw error;
      const outcome = SKIP_REASONS.includes(error.reason ?? '') ? 'skipped' : 'failed';
      const counters = await this.recordRefusal(organizationId, batch.id, item.id, outcome, error);
      return counters ? { outcome, counters } : { outcome: 'taken' };
    }
  }

  private async recordRefusal(
    organizationId: string,
    batchId: string,
    itemId: string,
    outcome: 'failed' | 'skipped',
    error: ApplicationError,
  ): Promise<CountersRow | undefined> {
    const status = outcome === 'failed' ? MassInvoiceItemStatus.FAILED : MassInvoiceItemStatus.SKIPPED;
    const now = this.clock.now();
    return this.scoped(organizationId).transactional(async (tx) => {
      const marked = await tx.execute<{ id: string }[]>(
        `update mass_invoice_item set status = ?, error_code = ?, error = ?, updated_at = ?
          where id = ? and organization_id = ? and status = 'PENDING' returning id`,
        [status, error.reason ?? error.code, error.message, now, itemId, organizationId],
      );
      if (!marked.length) return undefined;
      const [counters] = await tx.execute<CountersRow[]>(
        `update mass_invoice_batch set ${outcome} = ${outcome} + 1, updated_at = ? where id = ? and organization_id = ?
          returning status, total, invoiced, failed, skipped`,
        [now, batchId, organizationId],
      );
      return counters;
    });
  }

  /** No item is PENDING: the batch is COMPLETED (or COMPLETED_WITH_FAILURES), announced, and its creator told. */
  private async finish(organizationId: string, batchId: string): Promise<MassInvoiceStatus | null> {
    const batch = await this.scoped(organizationId).transactional(async (tx) => {
      const b = await tx.findOne(MassInvoiceBatch, { id: batchId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!b || FINISHED_MASS_INVOICE_STATUSES.includes(b.status)) return b;
      if ((await tx.count(MassInvoiceItem, { batchId, status: MassInvoiceItemStatus.PENDING })) > 0) return b;
      b.status = b.failed + b.skipped > 0 ? MassInvoiceStatus.COMPLETED_WITH_FAILURES : MassInvoiceStatus.COMPLETED;
      b.finishedAt = this.clock.now();
      this.announce(tx, b);
      if (b.createdBy) {
        await this.notifications.notifyStaff(tx, {
          dedupeKey: `mass-invoice:${b.id}`,
          userIds: [b.createdBy],
          title: b.status === MassInvoiceStatus.COMPLETED ? 'Mass invoice completed' : 'Mass invoice completed with failures',
          body: `${b.invoiced} of ${b.total} customers invoiced` + (b.failed ? `, ${b.failed} failed` : '') + (b.skipped ? `, ${b.skipped} skipped` : '') + '.',
        });
      }
      await tx.flush();
      return b;
    });
    if (!batch) return null;
    await this.publish(organizationId, batchId, batch);
    return batch.status;
  }

  /** MassInvoiceCompleted, in the transaction that finished (or cancelled) the batch. */
  announce(em: EntityManager, b: MassInvoiceBatch): void {
    this.outbox.record(
      em,
      domainEvent<MassInvoiceCompletedPayload>(InvoicingEvents.MassInvoiceCompleted, b.organizationId, {
        batchId: b.id,
        status: b.status,
        total: b.total,
        invoiced: b.invoiced,
        failed: b.failed,
        skipped: b.skipped,
      }),
    );
  }

  /** Pushes committed counters to subscribers. Progress is a convenience: Redis being down does not fail the job. */
  async publish(organizationId: string, batchId: string, c: CountersRow): Promise<void> {
    const event: MassInvoiceProgressEvent = {
      organizationId,
      batchId,
      status: c.status,
      total: c.total,
      invoiced: c.invoiced,
      failed: c.failed,
      skipped: c.skipped,
    };
    await this.pubsub.publish(event).catch((error: unknown) => this.logger.warn(`Progress of mass invoice ${batchId} not pushed: ${String(error)}`));
  }

  private command(batch: MassInvoiceBatch, customerId: string): DraftInvoiceCommand {
    return {
      customerId,
      lines: batch.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPrice: BigInt(l.unitPrice), taxRate: l.taxRate })),
      dueDate: batch.dueDate,
      paymentTermsDays: batch.paymentTermsDays,
      billedRef: { type: batch.billedRefType, id: batch.billedRefId, label: batch.billedRefLabel },
      memo: batch.memo,
    };
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }
}
