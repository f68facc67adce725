import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Clock, executeBound, newId, newOrderedId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { BilledRefType, Invoicing } from '../../invoicing/index.js';
import { Notifications } from '../../notifications/index.js';
import { Payments, PaymentPurpose, PaymentStatus } from '../../payments/index.js';
import { Wallet } from '../../wallet/index.js';
import type { AgreementLine } from '../domain/agreement-lines.js';
import { priceLines } from '../domain/agreement-lines.js';
import { type BillingFrequency, type BillingPeriod, periodsDue } from '../domain/billing-schedule.js';
import {
  BilledPeriodStatus,
  BillingRun,
  BillingRunBatch,
  BillingRunBatchStatus,
  BillingRunStatus,
  FINISHED_BILLING_RUN_STATUSES,
} from '../domain/billing-run.entity.js';
import { BillingRunProgressPubSub, type BillingRunProgressEvent } from '../infrastructure/billing-run-progress.pubsub.js';

/** A PostgreSQL array literal (for `= any(?::uuid[])`: the planner knows its size, unlike a set-returning function). */
const pgArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

/** Agreements per batch job: one transaction before the gateway and one after, whatever the size. */
export const BILLING_BATCH_SIZE = 1000;

/** The idempotency key of a billed period's payment: the same whatever run, retry or restart charges it. */
export function agreementPeriodKey(billedPeriodId: string): string {
  return `agreement-period:${billedPeriodId}`;
}

/** Test and benchmark seams; a hook that throws is a worker dying at that point. */
export interface BillingBatchHooks {
  /** After the first transaction (periods claimed, invoices issued, payments prepared) committed, before the gateway. */
  afterInvoiced?: (seq: number) => void | Promise<void>;
  /** Time spent per phase (the benchmark). */
  onPhase?: (phase: 'invoice' | 'gateway' | 'record', ms: number) => void;
}

interface AgreementRow {
  id: string;
  customer_id: string;
  name: string;
  lines: AgreementLine[];
  currency: string;
  frequency: BillingFrequency;
  billing_day: number | null;
  start_date: string;
  end_date: string | null;
  payment_method_id: string | null;
  billed_through: string | null;
}

interface RunCounters {
  status: BillingRunStatus;
  agreements_total: number;
  agreements_done: number;
  invoiced: number;
  charged: number;
  failed: number;
  skipped: number;
  up_to_date: number;
  batches_total: number;
  batches_done: number;
}

interface ChargedCounts {
  charged: number;
  failed: number;
  amount: bigint;
}

const COUNTERS =
  'status, agreements_total, agreements_done, invoiced, charged, failed, skipped, up_to_date, batches_total, batches_done';

/** "Pool care — June 2026", "Pool care — June – August 2026". */
const monthFormats = new Map<string, Intl.DateTimeFormat>();
function monthFormat(locale: string, withYear: boolean): Intl.DateTimeFormat {
  const key = `${locale}|${withYear}`;
  let f = monthFormats.get(key);
  if (!f) monthFormats.set(key, (f = new Intl.DateTimeFormat(locale, { month: 'long', ...(withYear ? { year: 'numeric' } : {}), timeZone: 'UTC' })));
  return f;
}

export function periodLabel(name: string, period: BillingPeriod, locale: string): string {
  const month = (date: string, withYear: boolean) => monthFormat(locale, withYear).format(new Date(`${date}T00:00:00Z`));
  const sameMonth = period.start.slice(0, 7) === period.end.slice(0, 7);
  const sameYear = period.start.slice(0, 4) === period.end.slice(0, 4);
  const when = sameMonth ? month(period.start, true) : `${month(period.start, !sameYear)} – ${month(period.end, true)}`;
  return `${name} — ${when}`;
}

/**
 * The work of a billing run. `plan` fixes its agreements (every ACTIVE one, by id) into batches; `billBatch` bills
 * one batch in two transactions around one gateway request:
 *
 * Tx1 — the agreements row-locked (in id order), their due periods computed (periodsDue up to the run's date), those
 *   that cannot be charged skipped with the reason; the periods CLAIMED with one INSERT … ON CONFLICT (agreement_id,
 *   period_start) DO NOTHING RETURNING; for the claimed ones only, the payments prepared (one per period, key
 *   `agreement-period:<billed_period.id>`, PENDING), billedThrough moved (one UPDATE) and the invoices issued in
 *   bulk (one counter upsert, multi-row inserts). COMMIT.
 * Gateway — every period of the batch's agreements still INVOICED (this job's, or one a killed worker left) charged
 *   under its payment's key: a period invoiced before a crash is charged now with the same key, so never twice.
 * Tx2 — the answers applied in bulk (payments, Invoicing's received payments and allocations, events), the periods
 *   moved INVOICED → CHARGED / FAILED / PROCESSING (conditional: counted once), the batch marked DONE (conditional),
 *   and the run finished when it was the last.
 *
 * Counters change in the transactions of what they count. Whatever runs twice, overlaps, or dies, the database's
 * unique key decides: one invoice and one payment per (agreement, period).
 */
@Injectable()
export class BillingRunRunner {
  private readonly logger = new Logger(BillingRunRunner.name);
  /** Agreements per batch of the runs planned from now on (tests and the benchmark change it). */
  batchSize = BILLING_BATCH_SIZE;
  /** Seams for every batch this process bills (tests: a crash at a point; the benchmark: phase timings). */
  readonly hooks: BillingBatchHooks = {};

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly invoicing: Invoicing,
    private readonly payments: Payments,
    private readonly wallet: Wallet,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly pubsub: BillingRunProgressPubSub,
    private readonly identity: IdentityDirectory,
  ) {}

  /**
   * Writes the run's batches (once: a second plan of the same run finds it planned) and answers the batch numbers
   * still to bill.
   */
  async plan(organizationId: string, runId: string, batchSize = this.batchSize): Promise<number[]> {
    const now = this.clock.now();
    const planned = await this.scoped(organizationId).transactional(async (tx) => {
      const [run] = await executeBound<{ status: BillingRunStatus; planned_at: Date | null }[]>(tx,
        `select status, planned_at from billing_run where id = ? and organization_id = ? for update`,
        [runId, organizationId],
      );
      if (!run || FINISHED_BILLING_RUN_STATUSES.includes(run.status)) return false;
      if (run.planned_at) return true;
      const ids = (
        await executeBound<{ id: string }[]>(tx, `select id from service_agreement where organization_id = ? and status = 'ACTIVE' order by id`, [organizationId])
      ).map((r) => r.id);
      const batches: { id: string; seq: number; agreement_ids: string[] }[] = [];
      for (let i = 0; i < ids.length; i += batchSize) batches.push({ id: newId(), seq: batches.length, agreement_ids: ids.slice(i, i + batchSize) });
      if (batches.length) {
        await executeBound(tx,
          `insert into billing_run_batch (id, organization_id, created_at, updated_at, run_id, seq, agreement_ids, status)
           select v.id, ?, ?, ?, ?, v.seq, v.agreement_ids, 'PENDING' from jsonb_to_recordset(?::jsonb) as v(id uuid, seq int, agreement_ids jsonb)`,
          [organizationId, now, now, runId, JSON.stringify(batches)],
        );
      }
      await executeBound(tx,
        `update billing_run set status = 'RUNNING', planned_at = ?, started_at = coalesce(started_at, ?), agreements_total = ?, batches_total = ?, updated_at = ?
          where id = ? and organization_id = ?`,
        [now, now, ids.length, batches.length, now, runId, organizationId],
      );
      return true;
    });
    if (!planned) return [];
    const pending = await executeBound<{ seq: number }[]>(this.scoped(organizationId),
      `select seq from billing_run_batch where run_id = ? and organization_id = ? and status = 'PENDING' order by seq`,
      [runId, organizationId],
    );
    if (!pending.length) await this.finishIfDone(organizationId, runId);
    await this.publish(organizationId, runId);
    return pending.map((p) => p.seq);
  }

  /** Bills one batch (see the class). Safe to run twice, concurrently, or after a crash anywhere. */
  async billBatch(organizationId: string, runId: string, seq: number, hooks: BillingBatchHooks = this.hooks): Promise<void> {
    const em = this.scoped(organizationId);
    const run = await em.findOne(BillingRun, { id: runId });
    if (!run || FINISHED_BILLING_RUN_STATUSES.includes(run.status)) return;
    const batch = await em.findOne(BillingRunBatch, { runId, seq });
    if (!batch || batch.status === BillingRunBatchStatus.DONE) return;

    let t = performance.now();
    const claimed = await this.scoped(organizationId).transactional((tx) => this.invoiceBatch(tx, run, batch.agreementIds));
    hooks.onPhase?.('invoice', performance.now() - t);
    if (claimed > 0) await this.publish(organizationId, runId);
    await hooks.afterInvoiced?.(seq);

    t = performance.now();
    const open = await executeBound<{ payment_id: string; customer_id: string }[]>(em.fork(),
      `select payment_id, customer_id from billed_period where organization_id = ? and status = 'INVOICED' and agreement_id = any(?::uuid[])`,
      [organizationId, pgArray(batch.agreementIds)],
    );
    const sent = await this.payments.sendBulk(
      em.fork(),
      organizationId,
      open.map((o) => o.payment_id),
    );
    hooks.onPhase?.('gateway', performance.now() - t);

    t = performance.now();
    const finished = await this.scoped(organizationId).transactional(async (tx) => {
      // The balance summaries once per batch, here (Tx1 left them: every invoice it issued is settled or not now).
      const applied = await this.payments.applyResultsBulk(tx, organizationId, sent, { refreshBalances: false });
      const charged = await this.recordCharges(tx, organizationId, runId, applied);
      await this.invoicing.refreshBalancesBulk(
        tx,
        open.map((o) => o.customer_id),
      );
      return this.completeBatch(tx, organizationId, runId, batch, charged);
    });
    hooks.onPhase?.('record', performance.now() - t);
    await this.publish(organizationId, runId);
    if (finished) await this.announce(organizationId, runId);
  }

  /** Tx1. Answers how many periods it claimed. */
  private async invoiceBatch(tx: EntityManager, run: BillingRun, agreementIds: string[]): Promise<number> {
    const org = run.organizationId;
    const now = this.clock.now();
    const agreements = await executeBound<AgreementRow[]>(tx,
      `select id, customer_id, name, lines, currency, frequency, billing_day, start_date::text, end_date::text, payment_method_id, billed_through::text
         from service_agreement where organization_id = ? and status = 'ACTIVE' and id = any(?::uuid[])
        order by id for update`,
      [org, pgArray(agreementIds)],
    );
    const due = agreements
      .map((a) => ({
        a,
        periods: periodsDue(
          { frequency: a.frequency, billingDay: a.billing_day, startDate: a.start_date, endDate: a.end_date, billedThrough: a.billed_through },
          run.upTo,
        ),
      }))
      .filter((d) => d.periods.length > 0);
    if (!due.length) return 0;

    // Who cannot be billed, decided before anything is written: their periods stay unbilled for a later run.
    const methods = await this.wallet.chargeableMany(
      tx,
      due.flatMap((d) => (d.a.payment_method_id ? [d.a.payment_method_id] : [])),
      { requireConsent: true },
    );
    const snapshots = await this.customers.getMany(tx, [...new Set(due.map((d) => d.a.customer_id))]);
    const customers = new Map(snapshots.map((c) => [c.id, c]));
    const skips: { id: string; agreement_id: string; customer_id: string; reason_code: string; reason: string }[] = [];
    const billable: { a: AgreementRow; periods: BillingPeriod[]; total: Money }[] = [];
    for (const d of due) {
      const skip = (reason_code: string, reason: string) => skips.push({ id: newId(), agreement_id: d.a.id, customer_id: d.a.customer_id, reason_code, reason });
      const customer = customers.get(d.a.customer_id);
      const method = d.a.payment_method_id ? methods.get(d.a.payment_method_id) : undefined;
      const total = priceLines(d.a.lines, d.a.currency).total;
      if (!customer || customer.status === CustomerStatus.ARCHIVED) skip('CUSTOMER_ARCHIVED', 'The customer is archived; reactivate them to bill the agreement');
      else if (!d.a.payment_method_id) skip('NO_PAYMENT_METHOD', 'The agreement has no saved payment method to charge');
      else if (!method || method instanceof Error) skip('METHOD_NOT_CHARGEABLE', method instanceof Error ? method.message : 'The payment method was not found');
      else if (method.customerId !== d.a.customer_id) skip('METHOD_NOT_CHARGEABLE', "The agreement's payment method is not in the customer's wallet");
      else if (d.a.currency !== run.currency) skip('CURRENCY_MISMATCH', `The agreement is priced in ${d.a.currency}, the organization bills in ${run.currency}`);
      else if (!total.isPositive()) skip('TOTAL_NOT_POSITIVE', `A period totals ${total.format()}; an invoice must total more than zero`);
      else billable.push({ ...d, total });
    }
    if (skips.length) {
      const inserted = await executeBound<{ id: string }[]>(tx,
        `insert into billing_run_skip (id, organization_id, created_at, updated_at, run_id, agreement_id, customer_id, reason_code, reason)
         select v.id, ?, ?, ?, ?, v.agreement_id, v.customer_id, v.reason_code, v.reason
           from jsonb_to_recordset(?::jsonb) as v(id uuid, agreement_id uuid, customer_id uuid, reason_code text, reason text)
         on conflict (run_id, agreement_id) do nothing returning id`,
        [org, now, now, run.id, JSON.stringify(skips)],
      );
      if (inserted.length) await executeBound(tx, `update billing_run set skipped = skipped + ?, updated_at = ? where id = ?`, [inserted.length, now, run.id]);
    }
    if (!billable.length) return 0;

    const locale = await this.locale(tx, org);
    const wanted = billable.flatMap(({ a, periods, total }) =>
      periods.map((p) => ({
        id: newOrderedId(),
        agreement_id: a.id,
        customer_id: a.customer_id,
        period_start: p.start,
        period_end: p.end,
        label: periodLabel(a.name, p, locale),
        invoice_id: newOrderedId(),
        payment_id: newOrderedId(),
        amount: total.amount.toString(),
      })),
    );
    // The exactly-once claim: a period someone else billed (another run, an earlier attempt) is not returned.
    const claimedRows = await executeBound<{ id: string }[]>(tx,
      `insert into billed_period (id, organization_id, created_at, updated_at, agreement_id, customer_id, run_id, period_start, period_end, label,
                                  invoice_id, payment_id, amount, currency, status)
       select v.id, ?, ?, ?, v.agreement_id, v.customer_id, ?, v.period_start, v.period_end, v.label, v.invoice_id, v.payment_id, v.amount, ?, 'INVOICED'
         from jsonb_to_recordset(?::jsonb) as v(id uuid, agreement_id uuid, customer_id uuid, period_start date, period_end date, label text,
              invoice_id uuid, payment_id uuid, amount bigint)
       on conflict (agreement_id, period_start) do nothing returning id`,
      [org, now, now, run.id, run.currency, JSON.stringify(wanted)],
    );
    const claimedIds = new Set(claimedRows.map((r) => r.id));
    const claimed = wanted.filter((w) => claimedIds.has(w.id));
    const byId = new Map(billable.map((b) => [b.a.id, b]));

    // billedThrough: the end of the last period due (claimed now or, as a backstop, by someone before).
    const through = billable.map(({ a, periods }) => ({ id: a.id, billed_through: periods.at(-1)!.end }));
    await executeBound(tx,
      `update service_agreement s set billed_through = greatest(coalesce(s.billed_through, v.billed_through), v.billed_through), updated_at = ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, billed_through date) where s.id = v.id and s.organization_id = ?`,
      [now, JSON.stringify(through), org],
    );
    if (!claimed.length) return 0;

    await this.payments.preparePaymentsBulk(
      tx,
      org,
      claimed.map((c) => {
        const { a, total } = byId.get(c.agreement_id)!;
        return {
          paymentId: c.payment_id,
          customerId: a.customer_id,
          paymentMethodId: a.payment_method_id!,
          amount: total,
          purpose: PaymentPurpose.AGREEMENT,
          purposeRefId: c.id,
          allocations: [{ invoiceId: c.invoice_id, amount: total }],
          description: c.label,
          idempotencyKey: agreementPeriodKey(c.id),
          offSession: true,
          createdBy: run.createdBy,
        };
      }),
      { methods },
    );
    // Customers and methods were checked above in this transaction; the balance summaries are written once, in Tx2.
    await this.invoicing.issueInvoicesBulk(
      tx,
      claimed.map((c) => {
        const { a } = byId.get(c.agreement_id)!;
        return {
          id: c.invoice_id,
          customerId: a.customer_id,
          lines: a.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPrice: BigInt(l.unitPrice), taxRate: l.taxRate })),
          paymentTermsDays: 0,
          billedRef: { type: BilledRefType.AGREEMENT_PERIOD, id: c.id, label: c.label },
          memo: `Service period ${c.period_start} to ${c.period_end}`,
        };
      }),
      run.createdBy,
      { customers: snapshots, refreshBalances: false },
    );
    const amount = claimed.reduce((sum, c) => sum + BigInt(c.amount), 0n);
    await executeBound(tx, `update billing_run set invoiced = invoiced + ?, amount_invoiced = amount_invoiced + ?, updated_at = ? where id = ?`, [
      claimed.length,
      amount.toString(),
      now,
      run.id,
    ]);
    return claimed.length;
  }

  /**
   * Tx2: each period follows its payment (INVOICED → CHARGED / FAILED / PROCESSING, once), counted on the run that
   * invoiced it. Answers this run's share, which completeBatch adds with the batch's own counters (one UPDATE of the
   * run's row per batch); another run's periods (a killed run's, finished by this one) are counted on it here.
   */
  private async recordCharges(
    tx: EntityManager,
    organizationId: string,
    runId: string,
    applied: { paymentId: string; status: PaymentStatus; failureCode: string | null; failureMessage: string | null }[],
  ): Promise<ChargedCounts> {
    const none: ChargedCounts = { charged: 0, failed: 0, amount: 0n };
    const moves = applied.flatMap((p) => {
      const status = periodStatusOf(p.status);
      return status ? [{ payment_id: p.paymentId, status, failure_code: p.failureCode, failure_reason: p.failureMessage }] : [];
    });
    if (!moves.length) return none;
    const now = this.clock.now();
    const moved = await executeBound<{ run_id: string; status: BilledPeriodStatus; amount: string }[]>(tx,
      `update billed_period b set status = v.status::billed_period_status, failure_code = v.failure_code, failure_reason = v.failure_reason, updated_at = ?
         from jsonb_to_recordset(?::jsonb) as v(payment_id uuid, status text, failure_code text, failure_reason text)
        where b.payment_id = v.payment_id and b.organization_id = ? and b.status = 'INVOICED'
        returning b.run_id, b.status, b.amount::text`,
      [now, JSON.stringify(moves), organizationId],
    );
    const perRun = new Map<string, { charged: number; failed: number; amount: bigint }>();
    for (const m of moved) {
      const c = perRun.get(m.run_id) ?? { charged: 0, failed: 0, amount: 0n };
      if (m.status === BilledPeriodStatus.CHARGED) {
        c.charged += 1;
        c.amount += BigInt(m.amount);
      } else if (m.status === BilledPeriodStatus.FAILED) c.failed += 1;
      perRun.set(m.run_id, c);
    }
    const mine = perRun.get(runId) ?? none;
    perRun.delete(runId);
    for (const [other, c] of [...perRun.entries()].sort()) {
      await executeBound(tx,
        `update billing_run set charged = charged + ?, failed = failed + ?, amount_charged = amount_charged + ?, updated_at = ? where id = ? and organization_id = ?`,
        [c.charged, c.failed, c.amount.toString(), now, other, organizationId],
      );
    }
    return mine;
  }

  /** Tx2: the batch DONE (once), its agreements counted, the run finished if it was the last. Answers whether it finished the run. */
  private async completeBatch(tx: EntityManager, organizationId: string, runId: string, batch: BillingRunBatch, charged: ChargedCounts): Promise<boolean> {
    const now = this.clock.now();
    const [done] = await executeBound<{ id: string }[]>(tx,
      `update billing_run_batch set status = 'DONE', updated_at = ? where id = ? and organization_id = ? and status = 'PENDING' returning id`,
      [now, batch.id, organizationId],
    );
    if (!done) {
      if (charged.charged || charged.failed) {
        await executeBound(tx,
          `update billing_run set charged = charged + ?, failed = failed + ?, amount_charged = amount_charged + ?, updated_at = ? where id = ? and organization_id = ?`,
          [charged.charged, charged.failed, charged.amount.toString(), now, runId, organizationId],
        );
      }
      return false;
    }
    const [c] = await executeBound<{ billed: number; skipped: number }[]>(tx,
      `select (select count(distinct agreement_id) from billed_period where organization_id = ? and run_id = ? and agreement_id = any(?::uuid[]))::int as billed,
              (select count(*) from billing_run_skip where organization_id = ? and run_id = ? and agreement_id = any(?::uuid[]))::int as skipped`,
      [organizationId, runId, pgArray(batch.agreementIds), organizationId, runId, pgArray(batch.agreementIds)],
    );
    const upToDate = Math.max(0, batch.agreementIds.length - c!.billed - c!.skipped);
    const [run] = await executeBound<RunCounters[]>(tx,
      `update billing_run set agreements_done = agreements_done + ?, up_to_date = up_to_date + ?, batches_done = batches_done + 1,
              charged = charged + ?, failed = failed + ?, amount_charged = amount_charged + ?, updated_at = ?
        where id = ? and organization_id = ? returning ${COUNTERS}`,
      [batch.agreementIds.length, upToDate, charged.charged, charged.failed, charged.amount.toString(), now, runId, organizationId],
    );
    if (run!.batches_done < run!.batches_total) return false;
    return this.finish(tx, organizationId, runId);
  }

  /** A run with no batch left PENDING is finished (e.g. a planned run with no agreements). */
  async finishIfDone(organizationId: string, runId: string): Promise<void> {
    const finished = await this.scoped(organizationId).transactional(async (tx) => {
      const [open] = await executeBound<{ n: number }[]>(tx, `select count(*)::int as n from billing_run_batch where run_id = ? and organization_id = ? and status = 'PENDING'`, [
        runId,
        organizationId,
      ]);
      return open!.n === 0 ? this.finish(tx, organizationId, runId) : false;
    });
    if (finished) await this.announce(organizationId, runId);
  }

  private async finish(tx: EntityManager, organizationId: string, runId: string): Promise<boolean> {
    const now = this.clock.now();
    const rows = await executeBound<{ id: string }[]>(tx,
      `update billing_run set status = (case when failed + skipped > 0 then 'COMPLETED_WITH_FAILURES' else 'COMPLETED' end)::billing_run_status,
              finished_at = ?, updated_at = ?
        where id = ? and organization_id = ? and status = 'RUNNING' and planned_at is not null returning id`,
      [now, now, runId, organizationId],
    );
    return rows.length > 0;
  }

  /** The run's creator is told in-app once it finished. */
  private async announce(organizationId: string, runId: string): Promise<void> {
    await this.scoped(organizationId).transactional(async (tx) => {
      const run = await tx.findOne(BillingRun, { id: runId });
      if (!run?.createdBy) return;
      await this.notifications.notifyStaff(tx, {
        dedupeKey: `billing-run:${run.id}`,
        userIds: [run.createdBy],
        title: run.status === BillingRunStatus.COMPLETED ? 'Billing run completed' : 'Billing run completed with failures',
        body:
          `${run.invoiced} period(s) invoiced for ${run.agreementsTotal} agreement(s), ${run.charged} charged` +
          (run.failed ? `, ${run.failed} failed` : '') +
          (run.skipped ? `, ${run.skipped} skipped` : '') +
          '.',
        link: `/billing-runs/${run.id}`,
      });
    });
  }

  /** Pushes the committed counters. Progress is a convenience: Redis being down does not fail the job. */
  async publish(organizationId: string, runId: string): Promise<void> {
    try {
      const [c] = await executeBound<RunCounters[]>(this.scoped(organizationId), `select ${COUNTERS} from billing_run where id = ? and organization_id = ?`, [runId, organizationId]);
      if (c) await this.pubsub.publish(progressOf(organizationId, runId, c));
    } catch (error) {
      this.logger.warn(`Progress of billing run ${runId} not pushed: ${String(error)}`);
    }
  }

  private async locale(em: EntityManager, organizationId: string): Promise<string> {
    return (await this.identity.organization(em, organizationId))?.locale ?? 'en-US';
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }
}

function periodStatusOf(status: PaymentStatus): BilledPeriodStatus | null {
  switch (status) {
    case PaymentStatus.SUCCEEDED:
    case PaymentStatus.PARTIALLY_REFUNDED:
    case PaymentStatus.REFUNDED:
      return BilledPeriodStatus.CHARGED;
    case PaymentStatus.FAILED:
    case PaymentStatus.CANCELLED:
      return BilledPeriodStatus.FAILED;
    case PaymentStatus.PROCESSING:
      return BilledPeriodStatus.PROCESSING;
    default:
      return null;
  }
}

export function progressOf(organizationId: string, runId: string, c: RunCounters): BillingRunProgressEvent {
  return {
    organizationId,
    batchId: runId,
    runId,
    status: c.status,
    total: c.agreements_total,
    agreementsDone: c.agreements_done,
    invoiced: c.invoiced,
    charged: c.charged,
    failed: c.failed,
    skipped: c.skipped,
    upToDate: c.up_to_date,
  };
}
