import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, domainEvent } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant, scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { Invoicing } from '../../invoicing/index.js';
import { Notifications } from '../../notifications/index.js';
import { Wallet } from '../../wallet/index.js';
import {
  FINISHED_MASS_CHARGE_STATUSES,
  type MassChargeAllocation,
  MassChargeAmountMode,
  MassChargeBatch,
  MassChargeItem,
  MassChargeItemStatus,
  MassChargeStatus,
} from '../domain/mass-charge.entity.js';
import { PaymentPurpose, PaymentStatus } from '../domain/payment.entity.js';
import { ChargePacer } from '../infrastructure/charge-pacer.js';
import { MassChargeProgressPubSub, type MassChargeProgressEvent } from '../infrastructure/mass-charge-progress.pubsub.js';
import { type MassChargeCompletedPayload, PaymentsEvents } from '../payments.events.js';
import type { PaymentSummary } from './payments.contract.js';
import { Payments } from './payments.facade.js';

export const MASS_CHARGE_CHUNK = 100;

/** The idempotency key of a customer's payment in a batch: the same whatever run, retry or restart charges it. */
export function massChargeKey(batchId: string, customerId: string): string {
  return `masscharge:${batchId}:${customerId}`;
}

export interface MassChargeRun {
  /** Items this run settled (another run may have settled others). */
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
  /** Items another run took first. */
  taken: number;
  status: MassChargeStatus | null;
}

/** Test seams: a hook that throws is a worker killed at that point. `charged` counts this run's charges so far. */
export interface MassChargeRunOptions {
  chunkSize?: number;
  /** After the item's claim (CHARGING, amount fixed) committed and before the gateway is asked. */
  afterClaim?: (charged: number) => void | Promise<void>;
  /** After Payments.charge answered and before the item records the outcome. */
  afterCharge?: (charged: number) => void | Promise<void>;
}

type Outcome = 'succeeded' | 'processing' | 'failed' | 'skipped' | 'taken';

export interface MassChargeCounters {
  status: MassChargeStatus;
  total: number;
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
}

const RETURNING = 'returning status, total, succeeded, processing, failed, skipped';

/** A claimed item: what its charge asks for, fixed in the claim so a resumed charge asks for exactly the same. */
type Claimed = Pick<MassChargeItem, 'id' | 'customerId' | 'amount' | 'paymentMethodId' | 'allocations'>;

/** Why a customer is left out, decided before any gateway call. */
interface Skip {
  code: string;
  reason: string;
}

/**
 * Works through a mass charge: the PENDING items in position order, in chunks, then any CHARGING items a dead
 * worker left behind. For each customer:
 *
 * 1. Claim, in a transaction of its own that row-locks the item (a second run waits, then finds it taken): decide
 *    whether to skip (no default method, no consent, expired, archived, nothing owed — SKIPPED at once, no gateway
 *    call) or fix what to charge (amount, method, invoices oldest first) and mark the item CHARGING. COMMIT.
 * 2. Wait for a ChargePacer slot, then `Payments.charge` with the key `masscharge:<batch>:<customer>`. The core
 *    commits its payment before calling the gateway and answers a repeated key with the stored payment.
 * 3. Record the outcome on the item (CHARGING -> SUCCEEDED / PROCESSING / FAILED, conditional) and the counters.
 *
 * A worker killed between 1 and 3 leaves the item CHARGING; the next run charges it again under the same key and
 * the same stored amount, which replays the first payment instead of charging twice. Two runs finishing the same
 * item: the conditional update lets one count it.
 *
 * Lock order, to stay clear of deadlocks: item row, then the batch row (counters). Cancelling takes items, then the
 * batch. No lock is held across the gateway call.
 */
@Injectable()
export class MassChargeRunner {
  private readonly logger = new Logger(MassChargeRunner.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly payments: Payments,
    private readonly wallet: Wallet,
    private readonly invoicing: Invoicing,
    private readonly customers: CustomerDirectory,
    private readonly pacer: ChargePacer,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
    private readonly notifications: Notifications,
    private readonly pubsub: MassChargeProgressPubSub,
  ) {}

  async run(organizationId: string, batchId: string, options: MassChargeRunOptions = {}): Promise<MassChargeRun> {
    const result: MassChargeRun = { succeeded: 0, processing: 0, failed: 0, skipped: 0, taken: 0, status: null };
    const em = this.scoped(organizationId);
    const now = this.clock.now();
    const started = await em.execute<MassChargeCounters[]>(
      `update mass_charge_batch set status = 'RUNNING', started_at = coalesce(started_at, ?), updated_at = ?
        where id = ? and organization_id = ? and status in ('QUEUED', 'RUNNING') ${RETURNING}`,
      [now, now, batchId, organizationId],
    );
    if (!started.length) return result; // finished, cancelled, or not this organization's
    const batch = (await em.findOne(MassChargeBatch, { id: batchId }))!;
    await this.publish(organizationId, batchId, started[0]!);

    const chunkSize = options.chunkSize ?? MASS_CHARGE_CHUNK;
    // About a hundred pushes for a whole batch, however large, and one per item for a small one.
    const every = Math.max(1, Math.floor(batch.total / 100));
    let handled = 0;
    let charged = 0;
    const counted = async (outcome: Outcome, counters: MassChargeCounters | undefined): Promise<boolean> => {
      result[outcome] += 1;
      if (outcome === 'taken' || !counters) return false;
      handled += 1;
      if (handled % every === 0 || counters.status !== MassChargeStatus.RUNNING) await this.publish(organizationId, batchId, counters);
      return counters.status === MassChargeStatus.CANCELLED;
    };
    const charge = async (item: Claimed): Promise<{ outcome: Outcome; counters?: MassChargeCounters }> => {
      charged += 1;
      return this.charge(organizationId, batch, item, charged, options);
    };

    // PENDING first, then CHARGING ones a dead run left (this run leaves none: it settles each claim before the next).
    for (const status of [MassChargeItemStatus.PENDING, MassChargeItemStatus.CHARGING]) {
      let after = -1;
      for (;;) {
        const chunk = await em.fork().find(
          MassChargeItem,
          { batchId, status, position: { $gt: after } },
          { orderBy: { position: 'asc' }, limit: chunkSize, fields: ['id', 'customerId', 'position', 'amount', 'paymentMethodId', 'allocations'] },
        );
        if (!chunk.length) break;
        after = chunk.at(-1)!.position;
        for (const item of chunk) {
          let step: { outcome: Outcome; counters?: MassChargeCounters };
          if (status === MassChargeItemStatus.PENDING) {
            const claim = await this.claim(organizationId, batch, item);
            if ('outcome' in claim) step = claim;
            else {
              await options.afterClaim?.(charged + 1);
              step = await charge(claim.item);
            }
          } else {
            step = await charge(item);
          }
          if (await counted(step.outcome, step.counters)) {
            result.status = MassChargeStatus.CANCELLED;
            return result;
          }
        }
        const current = (await em.fork().findOne(MassChargeBatch, { id: batchId }, { fields: ['status'] }))?.status;
        if (current !== MassChargeStatus.RUNNING) {
          result.status = current ?? null;
          return result;
        }
      }
    }
    result.status = await this.finish(organizationId, batchId);
    return result;
  }

  /** Step 1: skip the customer (recorded), or fix what to charge and mark the item CHARGING (committed). */
  private async claim(
    organizationId: string,
    batch: MassChargeBatch,
    item: Pick<MassChargeItem, 'id' | 'customerId'>,
  ): Promise<{ outcome: Outcome; counters?: MassChargeCounters } | { item: Claimed }> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const [locked] = await tx.execute<{ id: string }[]>(
        `select id from mass_charge_item where id = ? and organization_id = ? and status = 'PENDING' for update`,
        [item.id, organizationId],
      );
      if (!locked) return { outcome: 'taken' as const };
      const plan = await this.plan(tx, batch, item.customerId);
      const now = this.clock.now();
      if ('code' in plan) {
        await tx.execute(`update mass_charge_item set status = 'SKIPPED', reason_code = ?, reason = ?, updated_at = ? where id = ? and organization_id = ?`, [
          plan.code,
          plan.reason,
          now,
          item.id,
          organizationId,
        ]);
        return { outcome: 'skipped' as const, counters: await this.count(tx, batch.id, 'skipped', 0n) };
      }
      await tx.execute(
        `update mass_charge_item set status = 'CHARGING', amount = ?, payment_method_id = ?, allocations = ?::jsonb, updated_at = ? where id = ? and organization_id = ?`,
        [plan.amount.toString(), plan.paymentMethodId, JSON.stringify(plan.allocations), now, item.id, organizationId],
      );
      return { item: { id: item.id, customerId: item.customerId, ...plan } };
    });
  }

  /** Whom and what to charge: the default method with consent, and the open balance (or the fixed amount). */
  private async plan(
    tx: EntityManager,
    batch: MassChargeBatch,
    customerId: string,
  ): Promise<Skip | { amount: bigint; paymentMethodId: string; allocations: MassChargeAllocation[] }> {
    const customer = await this.customers.get(tx, customerId);
    if (!customer || customer.status === CustomerStatus.ARCHIVED) {
      return { code: 'CUSTOMER_ARCHIVED', reason: 'The customer is archived' };
    }
    const method = await this.wallet.defaultMethod(tx, customerId);
    if (!method) return { code: 'NO_DEFAULT_METHOD', reason: 'The customer has no saved payment method to charge' };
    try {
      await this.wallet.chargeable(tx, method.id, { requireConsent: true });
    } catch (error) {
      // No consent, expired card, removed method: the customer's own state, never a gateway call.
      if (error instanceof ApplicationError) return { code: error.reason ?? error.code, reason: error.message };
      throw error;
    }
    if (batch.amountMode === MassChargeAmountMode.FIXED) return { amount: batch.amount!, paymentMethodId: method.id, allocations: [] };

    // What they owe, less what we already hold for them (credit, payments not allocated yet): never charge for money
    // already received. The payment pays the invoices oldest first.
    const balance = await this.invoicing.balance(tx, customerId);
    let left = balance.owed.amount - balance.creditAvailable.amount - balance.unallocatedPayments.amount;
    if (left <= 0n) {
      return {
        code: 'NOTHING_OWED',
        reason: balance.owed.isPositive() ? 'The customer owes nothing once their credit and unallocated payments are counted' : 'The customer owes nothing',
      };
    }
    const amount = left;
    const allocations: MassChargeAllocation[] = [];
    for (const invoice of await this.invoicing.unpaidInvoices(tx, customerId)) {
      if (left <= 0n) break;
      const part = invoice.amountDue.amount < left ? invoice.amountDue.amount : left;
      allocations.push({ invoiceId: invoice.id, amount: part.toString() });
      left -= part;
    }
    return { amount, paymentMethodId: method.id, allocations };
  }

  /** Steps 2 and 3: a paced charge under the customer's key, then the outcome on the item. */
  private async charge(
    organizationId: string,
    batch: MassChargeBatch,
    item: Claimed,
    charged: number,
    options: MassChargeRunOptions,
  ): Promise<{ outcome: Outcome; counters?: MassChargeCounters }> {
    await this.pacer.acquire();
    let summary: PaymentSummary;
    try {
      summary = await this.payments.charge(organizationId, {
        customerId: item.customerId,
        method: { paymentMethodId: item.paymentMethodId! },
        amount: Money.of(item.amount!, batch.currency),
        purpose: PaymentPurpose.MASS_CHARGE,
        purposeRefId: batch.id,
        allocations: (item.allocations ?? []).map((a) => ({ invoiceId: a.invoiceId, amount: Money.of(BigInt(a.amount), batch.currency) })),
        description: batch.note ?? 'Mass charge',
        idempotencyKey: massChargeKey(batch.id, item.customerId),
        offSession: true,
        createdBy: batch.createdBy,
      });
    } catch (error) {
      // The core refused it (consent revoked since the claim, the method removed): a failure with its reason. Anything
      // else (the database, a crash) propagates: the item stays CHARGING and the retried job charges it again.
      if (!(error instanceof ApplicationError)) throw error;
      return this.settle(organizationId, batch.id, item.id, { status: MassChargeItemStatus.FAILED, paymentId: null, code: error.reason ?? error.code, reason: error.message });
    }
    await options.afterCharge?.(charged);
    const settled = settledAs(summary);
    // Still PENDING: another run's identical request is at the gateway right now; that run records it.
    if (!settled) return { outcome: 'taken' };
    return this.settle(organizationId, batch.id, item.id, {
      ...settled,
      paymentId: summary.id,
      amount: settled.status === MassChargeItemStatus.SUCCEEDED ? summary.amount.amount : 0n,
    });
  }

  /** CHARGING -> the outcome, counted once (a second run finishing the same item matches nothing). */
  private async settle(
    organizationId: string,
    batchId: string,
    itemId: string,
    outcome: { status: MassChargeItemStatus; paymentId: string | null; code: string | null; reason: string | null; amount?: bigint },
  ): Promise<{ outcome: Outcome; counters?: MassChargeCounters }> {
    return this.scoped(organizationId).transactional(async (tx) => {
      const [row] = await tx.execute<{ id: string }[]>(
        `update mass_charge_item set status = ?, payment_id = coalesce(?, payment_id), reason_code = ?, reason = ?, updated_at = ?
          where id = ? and organization_id = ? and status = 'CHARGING' returning id`,
        [outcome.status, outcome.paymentId, outcome.code, outcome.reason, this.clock.now(), itemId, organizationId],
      );
      if (!row) return { outcome: 'taken' as const };
      const counter = COUNTER[outcome.status]!;
      return { outcome: counter, counters: await this.count(tx, batchId, counter, outcome.amount ?? 0n) };
    });
  }

  /**
   * A payment of the batch settled later (a bank debit, an unknown outcome the janitor resolved, a retry of a failed
   * one): its item follows, counted once. Called by MassChargePaymentSettled.
   */
  async paymentSettled(organizationId: string, batchId: string, customerId: string, summary: { paymentId: string; succeeded: boolean; amount: bigint; code: string | null; reason: string | null }): Promise<void> {
    const to = summary.succeeded ? MassChargeItemStatus.SUCCEEDED : MassChargeItemStatus.FAILED;
    const from = summary.succeeded ? "('CHARGING', 'PROCESSING', 'FAILED')" : "('CHARGING', 'PROCESSING')";
    const counters = await this.scoped(organizationId).transactional(async (tx) => {
      const [row] = await tx.execute<{ previous: MassChargeItemStatus }[]>(
        `update mass_charge_item i set status = ?, payment_id = ?, reason_code = ?, reason = ?, updated_at = ?
           from (select id, status from mass_charge_item where batch_id = ? and customer_id = ? and organization_id = ? and status in ${from} for update) old
          where i.id = old.id returning old.status as previous`,
        [to, summary.paymentId, summary.code, summary.reason, this.clock.now(), batchId, customerId, organizationId],
      );
      if (!row) return undefined;
      const add = COUNTER[to]!;
      const take = row.previous === MassChargeItemStatus.CHARGING ? null : COUNTER[row.previous]!;
      const [c] = await tx.execute<MassChargeCounters[]>(
        `update mass_charge_batch set ${add} = ${add} + 1${take ? `, ${take} = ${take} - 1` : ''}, amount_succeeded = amount_succeeded + ?, updated_at = ?
          where id = ? and organization_id = ? ${RETURNING}`,
        [summary.succeeded ? summary.amount.toString() : '0', this.clock.now(), batchId, organizationId],
      );
      return { counters: c!, wasCharging: row.previous === MassChargeItemStatus.CHARGING };
    });
    if (!counters) return;
    await this.publish(organizationId, batchId, counters.counters);
    // The last CHARGING item a dead run left may have been the only thing keeping the batch open.
    if (counters.wasCharging && counters.counters.status === MassChargeStatus.RUNNING) await this.finish(organizationId, batchId);
  }

  private async count(tx: EntityManager, batchId: string, counter: Exclude<Outcome, 'taken'>, amount: bigint): Promise<MassChargeCounters> {
    const [counters] = await tx.execute<MassChargeCounters[]>(
      `update mass_charge_batch set ${counter} = ${counter} + 1, amount_succeeded = amount_succeeded + ?, updated_at = ?
        where id = ? and organization_id = ? ${RETURNING}`,
      [amount.toString(), this.clock.now(), batchId, currentTenant(tx)],
    );
    return counters!;
  }

  /** Nothing PENDING or CHARGING: the batch is COMPLETED (or COMPLETED_WITH_FAILURES), announced, its creator told. */
  async finish(organizationId: string, batchId: string): Promise<MassChargeStatus | null> {
    const batch = await this.scoped(organizationId).transactional(async (tx) => {
      const b = await tx.findOne(MassChargeBatch, { id: batchId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!b || FINISHED_MASS_CHARGE_STATUSES.includes(b.status)) return b;
      const open = await tx.count(MassChargeItem, { batchId, status: { $in: [MassChargeItemStatus.PENDING, MassChargeItemStatus.CHARGING] } });
      if (open > 0) return b;
      b.status = b.failed + b.skipped > 0 ? MassChargeStatus.COMPLETED_WITH_FAILURES : MassChargeStatus.COMPLETED;
      b.finishedAt = this.clock.now();
      this.announce(tx, b);
      if (b.createdBy) {
        const collected = Money.of(b.amountSucceeded, b.currency).format();
        await this.notifications.notifyStaff(tx, {
          dedupeKey: `mass-charge:${b.id}`,
          userIds: [b.createdBy],
          title: b.status === MassChargeStatus.COMPLETED ? 'Mass charge completed' : 'Mass charge completed with failures',
          body:
            `${b.succeeded} of ${b.total} customers charged (${collected})` +
            (b.processing ? `, ${b.processing} processing` : '') +
            (b.failed ? `, ${b.failed} failed` : '') +
            (b.skipped ? `, ${b.skipped} skipped` : '') +
            '.',
        });
      }
      await tx.flush();
      return b;
    });
    if (!batch) return null;
    await this.publish(organizationId, batchId, batch);
    return batch.status;
  }

  /** MassChargeCompleted, in the transaction that finished (or cancelled) the batch. */
  announce(em: EntityManager, b: MassChargeBatch): void {
    this.outbox.record(
      em,
      domainEvent<MassChargeCompletedPayload>(PaymentsEvents.MassChargeCompleted, b.organizationId, {
        batchId: b.id,
        status: b.status,
        total: b.total,
        succeeded: b.succeeded,
        processing: b.processing,
        failed: b.failed,
        skipped: b.skipped,
        amountSucceeded: Money.of(b.amountSucceeded, b.currency).toJSON(),
      }),
    );
  }

  /** Pushes committed counters to subscribers. Progress is a convenience: Redis being down does not fail the job. */
  async publish(organizationId: string, batchId: string, c: MassChargeCounters): Promise<void> {
    const event: MassChargeProgressEvent = progressOf(organizationId, batchId, c);
    await this.pubsub.publish(event).catch((error: unknown) => this.logger.warn(`Progress of mass charge ${batchId} not pushed: ${String(error)}`));
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }
}

/** The counter each final item status moves. */
const COUNTER: Partial<Record<MassChargeItemStatus, Exclude<Outcome, 'taken'>>> = {
  SUCCEEDED: 'succeeded',
  PROCESSING: 'processing',
  FAILED: 'failed',
  SKIPPED: 'skipped',
};

/** The item's status for the payment's; null while the payment is still PENDING (at the gateway). */
function settledAs(s: PaymentSummary): { status: MassChargeItemStatus; code: string | null; reason: string | null } | null {
  switch (s.status) {
    case PaymentStatus.PENDING:
      return null;
    case PaymentStatus.PROCESSING:
      return { status: MassChargeItemStatus.PROCESSING, code: null, reason: 'The bank debit is processing: the bank answers in a few days' };
    case PaymentStatus.UNKNOWN:
      return { status: MassChargeItemStatus.PROCESSING, code: 'GATEWAY_UNAVAILABLE', reason: "The gateway did not answer; the payment's outcome is being checked" };
    case PaymentStatus.FAILED:
    case PaymentStatus.CANCELLED:
      return { status: MassChargeItemStatus.FAILED, code: s.failureCode ?? 'PAYMENT_FAILED', reason: s.failureMessage ?? 'The payment failed' };
    default:
      // SUCCEEDED, or already (partly) refunded when a replay reads it.
      return { status: MassChargeItemStatus.SUCCEEDED, code: null, reason: null };
  }
}

export function progressOf(organizationId: string, batchId: string, c: MassChargeCounters): MassChargeProgressEvent {
  return {
    organizationId,
    batchId,
    status: c.status,
    total: c.total,
    succeeded: c.succeeded,
    processing: c.processing,
    failed: c.failed,
    skipped: c.skipped,
  };
}
