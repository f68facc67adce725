import { Injectable, Logger } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, domainEvent, executeBound, newId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant, scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { Invoicing } from '../../invoicing/index.js';
import { Notifications } from '../../notifications/index.js';
import { type ChargeableMethod, Wallet } from '../../wallet/index.js';
import { PaymentGateway } from '../../../infra/payment-gateway/index.js';
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
import { Payments } from './payments.facade.js';

/** Most items in one chunk (claimed in one transaction, sent, recorded in one transaction). */
export const MASS_CHARGE_CHUNK = 1000;
/** A batch is worked in about this many chunks (progress moves in steps of about 5%), each at most MASS_CHARGE_CHUNK. */
const PROGRESS_STEPS = 20;
/**
 * A one-by-one gateway (Stripe) is paced: a chunk holds at most this many seconds of the pacer's budget, so its last
 * charge is sent long before the janitor would look at its attempt (JANITOR_GRACE_MS, two minutes).
 */
const PACED_CHUNK_SECONDS = 20;
/** How often a run waits for another run of the same batch to let go of it. */
const LOCK_POLL_MS = 250;

/** The idempotency key of a customer's payment in a batch: the same whatever run, retry or restart charges it. */
export function massChargeKey(batchId: string, customerId: string): string {
  return `masscharge:${batchId}:${customerId}`;
}

/** A PostgreSQL array literal (for `= any(?::uuid[])`). */
const pgArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

export interface MassChargeRun {
  /** Items this run settled (another run may have settled others). */
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
  /** Items this run found settled by someone else (a late payment event, a cancel) when it came to record them. */
  taken: number;
  status: MassChargeStatus | null;
}

/**
 * Test seams: a hook that throws is a worker killed at that point. `charged` counts this run's items sent to be
 * charged so far, the current chunk's included.
 */
export interface MassChargeRunOptions {
  /** Items per chunk (default: about PROGRESS_STEPS chunks per batch, at most MASS_CHARGE_CHUNK). */
  chunkSize?: number;
  /** After the chunk's claim (items CHARGING, amounts fixed, payments PENDING) committed and before the gateway is asked. */
  afterClaim?: (charged: number) => void | Promise<void>;
  /** After the gateway answered the chunk and before its answers are recorded. */
  afterCharge?: (charged: number) => void | Promise<void>;
}

export interface MassChargeCounters {
  status: MassChargeStatus;
  total: number;
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
}

const RETURNING = 'returning status, total, succeeded, processing, failed, skipped';

/** An item being charged: its payment (PENDING until the gateway's answer is applied). */
interface Charging {
  id: string;
  customerId: string;
  paymentId: string;
}

/** Why a customer is left out, decided before any gateway call. */
interface Skip {
  code: string;
  reason: string;
}

/** What to charge a customer, fixed in the claim so a resumed charge asks for exactly the same. */
interface Plan {
  amount: bigint;
  paymentMethodId: string;
  allocations: MassChargeAllocation[];
}

interface ItemRow {
  id: string;
  customer_id: string;
  position: number;
  amount: string | null;
  payment_method_id: string | null;
  allocations: MassChargeAllocation[] | null;
  payment_id: string | null;
}

/**
 * Works through a mass charge in chunks, as billing runs do — a few statements per chunk, not per customer:
 *
 * 1. Claim (one transaction): up to a chunk of PENDING items row-locked in position order; for all of them at once,
 *    who is skipped (archived, no default method, no consent, expired, removed, nothing owed — SKIPPED with the
 *    reason, no gateway call) and what the others are charged (the default method; the open balance less credit and
 *    unallocated payments, paying the invoices oldest first, or the FIXED amount). Their payments are prepared
 *    (Payments.preparePaymentsBulk: payment + attempt 1 PENDING under `masscharge:<batch>:<customer>`, one per
 *    customer and batch whatever happens), the items marked CHARGING with the amount and the payment (one UPDATE),
 *    the skips counted (one UPDATE of the batch). COMMIT.
 * 2. Send (no transaction): Payments.sendBulk asks the gateway under each attempt's key — one request per chunk to a
 *    batching gateway, else one paced request per charge (BulkPayments' paced path, the ChargePacer's slots).
 * 3. Record (one transaction): Payments.applyResultsBulk (payments, attempts, Invoicing's received payments and
 *    allocations through Reconciliation.recordPaymentsBulk, the balance summaries, events), then the items follow
 *    their payments (CHARGING -> SUCCEEDED / PROCESSING / FAILED, one conditional UPDATE: counted once) and the
 *    batch's counters move once. COMMIT, progress pushed.
 *
 * A worker killed after 1 leaves CHARGING items whose payments are PENDING: the next run (a retried or resumed job)
 * first sends those again under the same attempt keys — the gateway answers a repeated key with the first charge,
 * so nobody is charged twice — and records them; the janitor settles any it does not. A run holds the batch (a
 * PostgreSQL advisory lock on a connection of its own, gone with the process if it dies), so a second run of the
 * same batch waits for the first instead of sending the same charges at the same moment.
 *
 * Lock order, to stay clear of deadlocks: item rows, then the batch row (counters). Cancelling takes items, then the
 * batch. No row lock is held across the gateway call.
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
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
    private readonly notifications: Notifications,
    private readonly pubsub: MassChargeProgressPubSub,
  ) {}

  async run(organizationId: string, batchId: string, options: MassChargeRunOptions = {}): Promise<MassChargeRun> {
    const result: MassChargeRun = { succeeded: 0, processing: 0, failed: 0, skipped: 0, taken: 0, status: null };
    await this.exclusively(organizationId, batchId, () => this.work(organizationId, batchId, options, result));
    return result;
  }

  /**
   * Runs `fn` holding the batch: a session advisory lock on a connection pinned for the run (released at the end, or
   * by PostgreSQL when the process dies). While another run holds it, waits — unless the batch finishes meanwhile.
   */
  private async exclusively(organizationId: string, batchId: string, fn: () => Promise<void>): Promise<void> {
    const connection = this.orm.em.getConnection();
    const key = `mass-charge:${batchId}`;
    for (;;) {
      const held = await connection
        .getClient()
        .connection()
        .execute(async (pinned) => {
          const [row] = await connection.execute<{ ok: boolean }[]>('select pg_try_advisory_lock(hashtextextended(?, 0)) as ok', [key], 'all', pinned);
          if (!row?.ok) return false;
          try {
            await fn();
          } finally {
            await connection.execute('select pg_advisory_unlock(hashtextextended(?, 0))', [key], 'all', pinned);
          }
          return true;
        });
      if (held) return;
      const current = (await this.scoped(organizationId).findOne(MassChargeBatch, { id: batchId }, { fields: ['status'] }))?.status;
      if (!current || FINISHED_MASS_CHARGE_STATUSES.includes(current)) return;
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }

  private async work(organizationId: string, batchId: string, options: MassChargeRunOptions, result: MassChargeRun): Promise<void> {
    const em = this.scoped(organizationId);
    const now = this.clock.now();
    const started = await em.execute<MassChargeCounters[]>(
      `update mass_charge_batch set status = 'RUNNING', started_at = coalesce(started_at, ?), updated_at = ?
        where id = ? and organization_id = ? and status in ('QUEUED', 'RUNNING') ${RETURNING}`,
      [now, now, batchId, organizationId],
    );
    if (!started.length) return; // finished, cancelled, or not this organization's
    const batch = (await em.findOne(MassChargeBatch, { id: batchId }))!;
    await this.publish(organizationId, batchId, started[0]!);

    const chunkSize = options.chunkSize ?? this.chunkSize(batch.total);
    let charged = 0;
    const stillRunning = async (): Promise<boolean> => {
      const current = (await this.scoped(organizationId).findOne(MassChargeBatch, { id: batchId }, { fields: ['status'] }))?.status;
      if (current === MassChargeStatus.RUNNING) return true;
      result.status = current ?? null;
      return false;
    };

    // What a killed run left CHARGING first (its payments prepared, perhaps charged), then the PENDING items.
    let after = -1;
    for (;;) {
      const left = await this.leftOver(organizationId, batch, after, chunkSize, result);
      if (!left) break;
      after = left.after;
      charged += left.items.length;
      await this.charge(organizationId, batch, left.items, result, () => options.afterCharge?.(charged));
      if (!(await stillRunning())) return;
    }
    for (;;) {
      const claimed = await this.claim(organizationId, batch, chunkSize, result);
      if (!claimed) break;
      charged += claimed.length;
      if (claimed.length) {
        await options.afterClaim?.(charged);
        await this.charge(organizationId, batch, claimed, result, () => options.afterCharge?.(charged));
      }
      if (!(await stillRunning())) return;
    }
    result.status = await this.finish(organizationId, batchId);
  }

  /** About PROGRESS_STEPS chunks per batch; for a one-by-one gateway, no more than PACED_CHUNK_SECONDS of its pace. */
  private chunkSize(total: number): number {
    const max = this.gateway.batchesCharges ? MASS_CHARGE_CHUNK : Math.min(MASS_CHARGE_CHUNK, Math.max(1, this.pacer.budget * PACED_CHUNK_SECONDS));
    return Math.min(max, Math.max(1, Math.ceil(total / PROGRESS_STEPS)));
  }

  /**
   * Step 1 for a chunk of PENDING items: the skips recorded, the others' payments prepared and their items CHARGING,
   * committed. Answers the items to charge (possibly none: all skipped), or null when nothing is PENDING.
   */
  private async claim(organizationId: string, batch: MassChargeBatch, chunkSize: number, result: MassChargeRun): Promise<Charging[] | null> {
    const out = await this.scoped(organizationId).transactional(async (tx) => {
      const items = await executeBound<{ id: string; customer_id: string }[]>(tx,
        `select id, customer_id from mass_charge_item where batch_id = ? and organization_id = ? and status = 'PENDING'
          order by position limit ? for update`,
        [batch.id, organizationId, chunkSize],
      );
      if (!items.length) return null;
      const plans = await this.plan(tx, batch, items.map((i) => i.customer_id));
      const now = this.clock.now();
      const skips: { id: string; code: string; reason: string }[] = [];
      const charges: { item: { id: string; customer_id: string }; plan: Plan; method: ChargeableMethod }[] = [];
      for (const item of items) {
        const plan = plans.get(item.customer_id)!;
        if ('code' in plan) skips.push({ id: item.id, code: plan.code, reason: plan.reason });
        else charges.push({ item, plan: plan.plan, method: plan.method });
      }
      let counters: MassChargeCounters | undefined;
      if (skips.length) {
        await executeBound(tx,
          `update mass_charge_item i set status = 'SKIPPED', reason_code = v.code, reason = v.reason, updated_at = ?
             from jsonb_to_recordset(?::jsonb) as v(id uuid, code text, reason text) where i.id = v.id and i.organization_id = ?`,
          [now, JSON.stringify(skips), organizationId],
        );
        counters = await this.count(tx, batch.id, { skipped: skips.length });
      }
      const charging = await this.prepare(tx, organizationId, batch, charges);
      return { charging, counters, skipped: skips.length };
    });
    if (!out) return null;
    result.skipped += out.skipped;
    if (out.counters) await this.publish(organizationId, batch.id, out.counters);
    return out.charging;
  }

  /**
   * Prepares the payments (PENDING, under the customers' keys) and marks their items CHARGING with what they charge,
   * in the caller's transaction.
   */
  private async prepare(
    tx: EntityManager,
    organizationId: string,
    batch: MassChargeBatch,
    charges: { item: { id: string; customer_id: string }; plan: Plan; method: ChargeableMethod }[],
  ): Promise<Charging[]> {
    if (!charges.length) return [];
    const prepared = await this.payments.preparePaymentsBulk(
      tx,
      organizationId,
      charges.map(({ item, plan }) => ({
        paymentId: newId(),
        customerId: item.customer_id,
        paymentMethodId: plan.paymentMethodId,
        amount: Money.of(plan.amount, batch.currency),
        purpose: PaymentPurpose.MASS_CHARGE,
        purposeRefId: batch.id,
        allocations: plan.allocations.map((a) => ({ invoiceId: a.invoiceId, amount: Money.of(BigInt(a.amount), batch.currency) })),
        description: batch.note ?? 'Mass charge',
        idempotencyKey: massChargeKey(batch.id, item.customer_id),
        offSession: true,
        createdBy: batch.createdBy,
      })),
      { methods: new Map(charges.map((c) => [c.method.id, c.method])) },
    );
    const rows = charges.map(({ item, plan }, i) => ({
      id: item.id,
      amount: plan.amount.toString(),
      payment_method_id: plan.paymentMethodId,
      allocations: plan.allocations,
      payment_id: prepared[i]!.paymentId,
    }));
    await executeBound(tx,
      `update mass_charge_item i set status = 'CHARGING', amount = v.amount, payment_method_id = v.payment_method_id, allocations = v.allocations,
              payment_id = v.payment_id, updated_at = ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, amount bigint, payment_method_id uuid, allocations jsonb, payment_id uuid)
        where i.id = v.id and i.organization_id = ?`,
      [this.clock.now(), JSON.stringify(rows), organizationId],
    );
    return charges.map(({ item }, i) => ({ id: item.id, customerId: item.customer_id, paymentId: prepared[i]!.paymentId }));
  }

  /**
   * Whom and what to charge, for many customers at once (a handful of queries): the default method with consent,
   * and the open balance (or the fixed amount). The same rules, order and reasons as one by one.
   */
  private async plan(
    tx: EntityManager,
    batch: MassChargeBatch,
    customerIds: string[],
  ): Promise<Map<string, Skip | { plan: Plan; method: ChargeableMethod }>> {
    const out = new Map<string, Skip | { plan: Plan; method: ChargeableMethod }>();
    const customers = new Map((await this.customers.getMany(tx, customerIds)).map((c) => [c.id, c]));
    const defaults = await this.wallet.defaultMethodIds(tx, customerIds);
    const methods = await this.wallet.chargeableMany(tx, [...defaults.values()], { requireConsent: true });
    const open: string[] = [];
    for (const customerId of customerIds) {
      const customer = customers.get(customerId);
      const methodId = defaults.get(customerId);
      const method = methodId ? methods.get(methodId) : undefined;
      if (!customer || customer.status === CustomerStatus.ARCHIVED) out.set(customerId, { code: 'CUSTOMER_ARCHIVED', reason: 'The customer is archived' });
      else if (!methodId) out.set(customerId, { code: 'NO_DEFAULT_METHOD', reason: 'The customer has no saved payment method to charge' });
      // No consent, expired card, removed method: the customer's own state, never a gateway call.
      else if (!method || method instanceof Error) out.set(customerId, refusal(method, methodId));
      else if (batch.amountMode === MassChargeAmountMode.FIXED) out.set(customerId, { plan: { amount: batch.amount!, paymentMethodId: method.id, allocations: [] }, method });
      else {
        out.set(customerId, { plan: { amount: 0n, paymentMethodId: method.id, allocations: [] }, method });
        open.push(customerId);
      }
    }
    if (!open.length) return out;

    // What they owe, less what we already hold for them (credit, payments not allocated yet): never charge for money
    // already received. The payment pays the invoices oldest first.
    const balances = await this.invoicing.balancesOf(tx, open);
    const unpaid = await this.invoicing.unpaidInvoicesOf(tx, open);
    for (const customerId of open) {
      const balance = balances.get(customerId)!;
      let left = balance.owed.amount - balance.creditAvailable.amount - balance.unallocatedPayments.amount;
      if (left <= 0n) {
        out.set(customerId, {
          code: 'NOTHING_OWED',
          reason: balance.owed.isPositive() ? 'The customer owes nothing once their credit and unallocated payments are counted' : 'The customer owes nothing',
        });
        continue;
      }
      const planned = out.get(customerId) as { plan: Plan; method: ChargeableMethod };
      planned.plan.amount = left;
      for (const invoice of unpaid.get(customerId) ?? []) {
        if (left <= 0n) break;
        const part = invoice.amountDue.amount < left ? invoice.amountDue.amount : left;
        planned.plan.allocations.push({ invoiceId: invoice.id, amount: part.toString() });
        left -= part;
      }
    }
    return out;
  }

  /**
   * A chunk of the items a killed run left CHARGING (after position `after`), ready to send: their payments as
   * prepared then. An item claimed without its payment (a run of the per-customer runner killed between its claim and
   * its charge) gets it now, from what the claim fixed — or FAILED with the reason if its method can no longer be
   * charged. Null when there are none left.
   */
  private async leftOver(
    organizationId: string,
    batch: MassChargeBatch,
    after: number,
    chunkSize: number,
    result: MassChargeRun,
  ): Promise<{ items: Charging[]; after: number } | null> {
    const out = await this.scoped(organizationId).transactional(async (tx) => {
      const rows = await executeBound<ItemRow[]>(tx,
        `select id, customer_id, position, amount::text, payment_method_id, allocations, payment_id from mass_charge_item
          where batch_id = ? and organization_id = ? and status = 'CHARGING' and position > ? order by position limit ? for update`,
        [batch.id, organizationId, after, chunkSize],
      );
      if (!rows.length) return null;
      const missing = rows.filter((r) => !r.payment_id);
      if (missing.length) {
        const found = await executeBound<{ id: string; idempotency_key: string }[]>(tx,
          `select id, idempotency_key from payment where organization_id = ? and idempotency_key = any(?::text[])`,
          [organizationId, pgArray(missing.map((r) => massChargeKey(batch.id, r.customer_id)))],
        );
        const byKey = new Map(found.map((f) => [f.idempotency_key, f.id]));
        for (const r of missing) r.payment_id = byKey.get(massChargeKey(batch.id, r.customer_id)) ?? null;
      }
      const unprepared = rows.filter((r) => !r.payment_id);
      let counters: MassChargeCounters | undefined;
      let failed = 0;
      if (unprepared.length) {
        const methods = await this.wallet.chargeableMany(tx, unprepared.map((r) => r.payment_method_id!), { requireConsent: true });
        const refused: { id: string; code: string; reason: string }[] = [];
        const charges: { item: { id: string; customer_id: string }; plan: Plan; method: ChargeableMethod }[] = [];
        for (const r of unprepared) {
          const method = methods.get(r.payment_method_id!);
          if (!method || method instanceof Error || method.customerId !== r.customer_id) {
            const why = refusal(method instanceof Error ? method : undefined, r.payment_method_id!);
            refused.push({ id: r.id, code: why.code, reason: why.reason });
          } else charges.push({ item: r, plan: { amount: BigInt(r.amount!), paymentMethodId: method.id, allocations: r.allocations ?? [] }, method });
        }
        if (refused.length) {
          const moved = await executeBound<{ id: string }[]>(tx,
            `update mass_charge_item i set status = 'FAILED', reason_code = v.code, reason = v.reason, updated_at = ?
               from jsonb_to_recordset(?::jsonb) as v(id uuid, code text, reason text)
              where i.id = v.id and i.organization_id = ? and i.status = 'CHARGING' returning i.id`,
            [this.clock.now(), JSON.stringify(refused), organizationId],
          );
          failed = moved.length;
          if (failed) counters = await this.count(tx, batch.id, { failed });
        }
        const prepared = new Map((await this.prepare(tx, organizationId, batch, charges)).map((c) => [c.id, c.paymentId]));
        for (const r of unprepared) r.payment_id = prepared.get(r.id) ?? null;
      }
      return { rows, counters, failed };
    });
    if (!out) return null;
    result.failed += out.failed;
    if (out.counters) await this.publish(organizationId, batch.id, out.counters);
    return {
      after: out.rows.at(-1)!.position,
      items: out.rows.filter((r) => r.payment_id).map((r) => ({ id: r.id, customerId: r.customer_id, paymentId: r.payment_id! })),
    };
  }

  /** Steps 2 and 3 for a chunk of CHARGING items: their payments sent, the answers applied, the items settled. */
  private async charge(
    organizationId: string,
    batch: MassChargeBatch,
    items: Charging[],
    result: MassChargeRun,
    afterCharge: () => void | Promise<void>,
  ): Promise<void> {
    if (!items.length) return;
    const paymentIds = items.map((i) => i.paymentId);
    // Only attempts still PENDING (or UNKNOWN) at our side go out, each under its own key; paced for a one-by-one gateway.
    const sent = await this.payments.sendBulk(this.scoped(organizationId), organizationId, paymentIds);
    await afterCharge();
    const counters = await this.scoped(organizationId).transactional(async (tx) => {
      await this.payments.applyResultsBulk(tx, organizationId, sent);
      // Every payment of the chunk as it stands now (those not sent were answered before: a killed run's).
      const payments = await executeBound<{ id: string; status: PaymentStatus; amount: string; failure_code: string | null; failure_message: string | null }[]>(tx,
        `select id, status, amount::text, failure_code, failure_message from payment where organization_id = ? and id = any(?::uuid[])`,
        [organizationId, pgArray(paymentIds)],
      );
      const byId = new Map(payments.map((p) => [p.id, p]));
      const moves = items.flatMap((item) => {
        const p = byId.get(item.paymentId);
        const settled = p ? settledAs(p.status, p.failure_code, p.failure_message) : null;
        // Still PENDING: the gateway did not answer it; the janitor settles it and its item follows (paymentSettled).
        if (!p || !settled) return [];
        return [{ id: item.id, payment_id: p.id, status: settled.status, code: settled.code, reason: settled.reason, amount: settled.status === MassChargeItemStatus.SUCCEEDED ? p.amount : '0' }];
      });
      if (!moves.length) return undefined;
      const moved = await executeBound<{ status: MassChargeItemStatus; amount: string }[]>(tx,
        `update mass_charge_item i set status = v.status::mass_charge_item_status, payment_id = v.payment_id, reason_code = v.code, reason = v.reason, updated_at = ?
           from jsonb_to_recordset(?::jsonb) as v(id uuid, payment_id uuid, status text, code text, reason text, amount bigint)
          where i.id = v.id and i.organization_id = ? and i.status = 'CHARGING' returning i.status, v.amount::text as amount`,
        [this.clock.now(), JSON.stringify(moves), organizationId],
      );
      result.taken += moves.length - moved.length;
      const add = { succeeded: 0, processing: 0, failed: 0, amount: 0n };
      for (const m of moved) {
        const counter = COUNTER[m.status] as 'succeeded' | 'processing' | 'failed';
        add[counter] += 1;
        add.amount += BigInt(m.amount);
      }
      if (!moved.length) return undefined;
      result.succeeded += add.succeeded;
      result.processing += add.processing;
      result.failed += add.failed;
      return this.count(tx, batch.id, add);
    });
    if (counters) await this.publish(organizationId, batch.id, counters);
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

  /** The batch's counters moved once, in the transaction of what they count. */
  private async count(
    tx: EntityManager,
    batchId: string,
    add: { succeeded?: number; processing?: number; failed?: number; skipped?: number; amount?: bigint },
  ): Promise<MassChargeCounters> {
    const [counters] = await executeBound<MassChargeCounters[]>(tx,
      `update mass_charge_batch set succeeded = succeeded + ?, processing = processing + ?, failed = failed + ?, skipped = skipped + ?,
              amount_succeeded = amount_succeeded + ?, updated_at = ?
        where id = ? and organization_id = ? ${RETURNING}`,
      [add.succeeded ?? 0, add.processing ?? 0, add.failed ?? 0, add.skipped ?? 0, (add.amount ?? 0n).toString(), this.clock.now(), batchId, currentTenant(tx)],
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
const COUNTER: Partial<Record<MassChargeItemStatus, 'succeeded' | 'processing' | 'failed' | 'skipped'>> = {
  SUCCEEDED: 'succeeded',
  PROCESSING: 'processing',
  FAILED: 'failed',
  SKIPPED: 'skipped',
};

/** The item's status for the payment's; null while the payment is still PENDING (at the gateway). */
function settledAs(
  status: PaymentStatus,
  failureCode: string | null,
  failureMessage: string | null,
): { status: MassChargeItemStatus; code: string | null; reason: string | null } | null {
  switch (status) {
    case PaymentStatus.PENDING:
      return null;
    case PaymentStatus.PROCESSING:
      return { status: MassChargeItemStatus.PROCESSING, code: null, reason: 'The bank debit is processing: the bank answers in a few days' };
    case PaymentStatus.UNKNOWN:
      return { status: MassChargeItemStatus.PROCESSING, code: 'GATEWAY_UNAVAILABLE', reason: "The gateway did not answer; the payment's outcome is being checked" };
    case PaymentStatus.FAILED:
    case PaymentStatus.CANCELLED:
      return { status: MassChargeItemStatus.FAILED, code: failureCode ?? 'PAYMENT_FAILED', reason: failureMessage ?? 'The payment failed' };
    default:
      // SUCCEEDED, or already (partly) refunded when a replay reads it.
      return { status: MassChargeItemStatus.SUCCEEDED, code: null, reason: null };
  }
}

/** Why a customer's method cannot be charged, as Wallet says it (no consent, expired, removed, not found). */
function refusal(method: ChargeableMethod | Error | undefined, methodId: string): Skip {
  if (method instanceof ApplicationError) return { code: method.reason ?? method.code, reason: method.message };
  if (method instanceof Error) return { code: 'METHOD_NOT_CHARGEABLE', reason: method.message };
  return { code: 'METHOD_NOT_CHARGEABLE', reason: method ? "The payment method is not in this customer's wallet" : `The payment method ${methodId} was not found` };
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
