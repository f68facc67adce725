import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type DomainEvent, domainEvent, executeBound, newOrderedId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { type CreateCharge, type GatewayChargeResult, type GatewayError, GatewayErrorCode, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Invoicing, PaymentSource, Reconciliation } from '../../invoicing/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { type ChargeableMethod, Wallet } from '../../wallet/index.js';
import {
  AttemptStatus,
  canMove,
  PaymentEventType,
  PaymentMethodType,
  PaymentPurpose,
  PaymentResolution,
  PaymentStatus,
  type PlannedAllocation,
} from '../domain/payment.entity.js';
import { ChargePacer } from '../infrastructure/charge-pacer.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import {
  type PaymentFailedPayload,
  type PaymentProcessingPayload,
  PaymentsEvents,
  type PaymentSucceededPayload,
} from '../payments.events.js';
import { declineReason } from './decline-reasons.js';
import { type AttemptOutcome, outcomeOf, PAYMENT_FAILURE_STAFF_ROLES } from './payment-outcomes.js';
import { requestHash } from './take-payment.use-case.js';
import { attemptKey, canMoveAttempt } from './take-payment.support.js';

/** A PostgreSQL array literal (for `= any(?::uuid[])`: the planner knows its size, unlike a set-returning function). */
const pgArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

/** One payment of a bulk charge: a saved method's off-session charge, with the id the payment is to get. */
export interface BulkChargeCommand {
  paymentId: string;
  customerId: string;
  /** The wallet's saved method. */
  paymentMethodId: string;
  amount: Money;
  purpose: PaymentPurpose;
  purposeRefId: string | null;
  allocations: { invoiceId: string; amount: Money }[];
  description: string | null;
  /** The request's key (e.g. `agreement-period:<id>`), unique per organization like Payments.charge's. */
  idempotencyKey: string;
  offSession: boolean;
  createdBy: string | null;
}

export interface BulkPrepareOptions {
  /**
   * What Wallet.chargeableMany(…, { requireConsent: true }) answered for the commands' methods, read by the caller in
   * this transaction (they are not read again). Every command's method must be in it.
   */
  methods?: ReadonlyMap<string, ChargeableMethod | Error>;
}

export interface BulkApplyOptions {
  /** False: the customers' balance summaries are left to the caller (Invoicing.refreshBalancesBulk later in the same work). */
  refreshBalances?: boolean;
}

export interface PreparedPayment {
  paymentId: string;
  attemptId: string;
  /** False: the key was already used (its payment is answered; a different request under it is refused). */
  created: boolean;
}

/** What the gateway answered for one payment's current attempt. */
export interface SentCharge {
  paymentId: string;
  attemptId: string;
  result: GatewayChargeResult;
}

/** A payment after its gateway answer was applied. */
export interface AppliedPayment {
  paymentId: string;
  status: PaymentStatus;
  failureCode: string | null;
  failureMessage: string | null;
  /** This call moved it (false: a repeated or late answer, or another writer applied it first). */
  changed: boolean;
}

interface PaymentRow {
  id: string;
  customer_id: string;
  status: PaymentStatus;
  amount: string;
  currency: string;
  purpose: string;
  purpose_ref_id: string | null;
  allocations: PlannedAllocation[];
  description: string | null;
  method_type: PaymentMethodType;
  payment_method_id: string | null;
  gateway_payment_method_id: string;
  gateway_customer_id: string | null;
  method_label: string;
  off_session: boolean;
  attempt_count: number;
  created_by: string | null;
  attempt_id: string;
  attempt_number: number;
  attempt_status: AttemptStatus;
  attempt_key: string;
  attempt_charge_id: string | null;
}

/** JSON with bigints as strings; the replacer (slow on large arrays) only when a bigint is really there. */
const json = (value: unknown) => {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
};

/** How many charges go to a batching gateway in one request. */
const GATEWAY_CHUNK = 1000;
/**
 * Paced one-by-one charges (Stripe) a batch keeps in flight at once: enough that the batch keeps to the pacer's rate
 * when a request takes longer than a slot (bench:pacing at 25/s: 2 → 93.6 %, 3 → 95–96 % with 0–5 429s, all retried).
 */
const PACED_IN_FLIGHT = 3;

/**
 * Payments for many at once (billing runs): the same rows, keys, states and events as Payments.charge one by one —
 * a Payment + attempt 1 PENDING committed before the gateway is called (`prepare`, in the caller's transaction), the
 * gateway asked under each attempt's key (`send`, outside any transaction: a batching gateway gets one request per
 * chunk, others one paced request per charge), and the answers applied forward-only in the caller's second
 * transaction (`apply`): attempts and payments with one UPDATE … FROM each, successes recorded in Invoicing with one
 * Reconciliation.recordPaymentsBulk, timeline rows and outbox events (PaymentSucceeded / PaymentFailed /
 * PaymentProcessing, and Invoicing's PaymentRecorded, so receipts, dunning and accounting follow) with one insert
 * each. A crash between the steps leaves PENDING attempts that `send` again under the same keys (never a second
 * charge), or that the janitor settles.
 */
@Injectable()
export class BulkPayments {
  constructor(
    private readonly clock: Clock,
    private readonly gateway: PaymentGateway,
    private readonly pacer: ChargePacer,
    private readonly wallet: Wallet,
    private readonly reconciliation: Reconciliation,
    private readonly invoicing: Invoicing,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Inserts each payment and its first attempt (PENDING) in the caller's transaction; the methods must be chargeable
   * off-session (else PaymentsError METHOD_NOT_CHARGEABLE naming `items.<i>.paymentMethodId`, nothing written).
   */
  async prepare(em: EntityManager, organizationId: string, cmds: readonly BulkChargeCommand[], options: BulkPrepareOptions = {}): Promise<PreparedPayment[]> {
    if (!cmds.length) return [];
    const methods =
      options.methods ??
      (await this.wallet.chargeableMany(
        em,
        cmds.map((c) => c.paymentMethodId),
        { requireConsent: true },
      ));
    const now = this.clock.now();
    const payments: Record<string, unknown>[] = [];
    const attempts: Record<string, unknown>[] = [];
    const events: Record<string, unknown>[] = [];
    const stamp = createdAtSequence();
    cmds.forEach((c, i) => {
      const m = methods.get(c.paymentMethodId);
      if (!m || m instanceof Error || m.customerId !== c.customerId) {
        throw new PaymentsError(
          PaymentsErrorReason.METHOD_NOT_CHARGEABLE,
          m instanceof Error ? m.message : "The payment method is not in this customer's wallet",
          `items.${i}.paymentMethodId`,
        );
      }
      const method = m as ChargeableMethod;
      const allocations: PlannedAllocation[] = c.allocations.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount.amount.toString() }));
      const hash = requestHash({
        customerId: c.customerId,
        amount: c.amount,
        purpose: c.purpose,
        purposeRefId: c.purposeRefId,
        offSession: c.offSession,
        method: { paymentMethodId: c.paymentMethodId },
        allocations: c.allocations,
        idempotencyKey: c.idempotencyKey,
        createdBy: c.createdBy,
      });
      payments.push({
        id: c.paymentId,
        customer_id: c.customerId,
        amount: c.amount.amount.toString(),
        currency: c.amount.currency,
        purpose: c.purpose,
        purpose_ref_id: c.purposeRefId,
        allocations,
        description: c.description?.trim() || null,
        method_type: method.kind === 'CARD' ? PaymentMethodType.CARD : PaymentMethodType.BANK_ACCOUNT,
        payment_method_id: method.id,
        gateway_payment_method_id: method.gatewayPaymentMethodId,
        gateway_customer_id: method.gatewayCustomerId,
        method_label: method.label,
        brand: method.brand,
        last4: method.last4,
        off_session: c.offSession,
        idempotency_key: c.idempotencyKey,
        request_hash: hash,
        created_by: c.createdBy,
      });
      const attemptId = newOrderedId();
      attempts.push({ id: attemptId, payment_id: c.paymentId, idempotency_key: attemptKey(c.paymentId, 1), started_by: c.createdBy });
      const amount = c.amount.format();
      events.push(
        event(c.paymentId, PaymentEventType.CREATED, `Payment of ${amount} from ${method.label} created`, { purpose: c.purpose, purposeRefId: c.purposeRefId, allocations }, c.createdBy, stamp()),
        event(c.paymentId, PaymentEventType.ATTEMPT_STARTED, 'Attempt 1 sent to the payment gateway', { attempt: 1 }, c.createdBy, stamp()),
      );
    });
    const inserted = await executeBound<{ id: string }[]>(em,
      `insert into payment (id, organization_id, created_at, updated_at, customer_id, status, amount, currency, amount_refunded, purpose, purpose_ref_id,
                            allocations, description, method_type, payment_method_id, gateway_payment_method_id, gateway_customer_id, method_label,
                            brand, last4, gateway, off_session, idempotency_key, request_hash, attempt_count, created_by)
       select v.id, ?, ?, ?, v.customer_id, 'PENDING', v.amount, v.currency, 0, v.purpose::payment_purpose, v.purpose_ref_id, v.allocations, v.description,
              v.method_type::payment_method_type, v.payment_method_id, v.gateway_payment_method_id, v.gateway_customer_id, v.method_label, v.brand,
              v.last4, ?, v.off_session, v.idempotency_key, v.request_hash, 1, v.created_by
         from jsonb_to_recordset(?::jsonb) as v(id uuid, customer_id uuid, amount bigint, currency text, purpose text, purpose_ref_id uuid,
              allocations jsonb, description text, method_type text, payment_method_id uuid, gateway_payment_method_id text,
              gateway_customer_id text, method_label text, brand text, last4 text, off_session boolean, idempotency_key text,
              request_hash text, created_by uuid)
       on conflict (organization_id, idempotency_key) do nothing returning id`,
      [organizationId, now, now, this.gateway.name, json(payments)],
    );
    const fresh = new Set(inserted.map((r) => r.id));
    const freshAttempts = attempts.filter((a) => fresh.has(a.payment_id as string));
    if (freshAttempts.length) {
      await executeBound(em,
        `insert into payment_attempt (id, organization_id, created_at, updated_at, payment_id, number, idempotency_key, status, started_by, started_at)
         select v.id, ?, ?, ?, v.payment_id, 1, v.idempotency_key, 'PENDING', v.started_by, ?
           from jsonb_to_recordset(?::jsonb) as v(id uuid, payment_id uuid, idempotency_key text, started_by uuid)`,
        [organizationId, now, now, now, json(freshAttempts)],
      );
      await this.insertEvents(
        em,
        organizationId,
        now,
        events.filter((e) => fresh.has(e.payment_id as string)),
      );
    }
    const out: PreparedPayment[] = [];
    const reused = cmds.filter((c) => !fresh.has(c.paymentId));
    const existing = new Map<string, { payment_id: string; attempt_id: string; request_hash: string }>();
    if (reused.length) {
      const rows = await executeBound<{ key: string; payment_id: string; attempt_id: string; request_hash: string }[]>(em,
        `select p.idempotency_key as key, p.id as payment_id, a.id as attempt_id, p.request_hash from payment p
           join payment_attempt a on a.payment_id = p.id and a.number = p.attempt_count
          where p.organization_id = ? and p.idempotency_key = any(?::text[])`,
        [organizationId, pgArray(reused.map((c) => c.idempotencyKey))],
      );
      for (const r of rows) existing.set(r.key, r);
    }
    cmds.forEach((c, i) => {
      if (fresh.has(c.paymentId)) {
        out.push({ paymentId: c.paymentId, attemptId: freshAttempts.find((a) => a.payment_id === c.paymentId)!.id as string, created: true });
        return;
      }
      const seen = existing.get(c.idempotencyKey);
      if (!seen || seen.request_hash !== payments[i]!.request_hash) {
        throw new PaymentsError(
          PaymentsErrorReason.IDEMPOTENCY_KEY_REUSED,
          'This idempotency key was already used for another payment (other customer, amount, method or invoices); use a new key for a new payment',
          `items.${i}.idempotencyKey`,
        );
      }
      out.push({ paymentId: seen.payment_id, attemptId: seen.attempt_id, created: false });
    });
    return out;
  }

  /**
   * Asks the gateway for the current attempt of each payment still PENDING or UNKNOWN there (others are skipped),
   * under the attempt's key, from the stored rows only (what the janitor would send). No transaction is held.
   */
  async send(em: EntityManager, organizationId: string, paymentIds: readonly string[]): Promise<SentCharge[]> {
    const rows = await this.load(em, organizationId, paymentIds, false);
    const open = rows.filter((r) => r.attempt_status === AttemptStatus.PENDING || r.attempt_status === AttemptStatus.UNKNOWN);
    const requests = open.map((r) => chargeRequest(organizationId, r));
    const results: GatewayChargeResult[] = [];
    if (this.gateway.batchesCharges) {
      for (let i = 0; i < requests.length; i += GATEWAY_CHUNK) {
        await this.pacer.acquire(); // one request
        results.push(...(await this.gateway.createCharges(requests.slice(i, i + GATEWAY_CHUNK))));
      }
    } else {
      // One request per charge (Stripe's rate limit), each after its pacer slot. A few in flight at once, so the
      // batch keeps to the pacer's rate even when one request takes longer than a slot (or waits out a 429).
      results.length = requests.length;
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(PACED_IN_FLIGHT, requests.length) }, async () => {
          while (next < requests.length) {
            const i = next++;
            await this.pacer.acquire();
            results[i] = (await this.gateway.createCharges([requests[i]!]))[0]!;
          }
        }),
      );
    }
    return open.map((r, i) => ({ paymentId: r.id, attemptId: r.attempt_id, result: results[i]! }));
  }

  /**
   * Applies the gateway's answers in the caller's transaction, forward-only (PaymentOutcomes' rules): with the
   * payments row-locked in id order, an answer that does not move its attempt changes nothing. Answers every payment
   * asked about with its status after this call.
   */
  async apply(em: EntityManager, organizationId: string, sent: readonly SentCharge[], options: BulkApplyOptions = {}): Promise<AppliedPayment[]> {
    if (!sent.length) return [];
    const rows = new Map((await this.load(em, organizationId, sent.map((s) => s.paymentId), true)).map((r) => [r.id, r]));
    const now = this.clock.now();
    const stamp = createdAtSequence();
    const attemptUpdates: Record<string, unknown>[] = [];
    const paymentUpdates: Record<string, unknown>[] = [];
    const timeline: Record<string, unknown>[] = [];
    const outbox: DomainEvent<object>[] = [];
    const succeeded: { row: PaymentRow; chargeId: string | null; attempt: number }[] = [];
    const failed: { row: PaymentRow; reason: string; attempt: number }[] = [];
    const out = new Map<string, AppliedPayment>();

    for (const s of sent) {
      const row = rows.get(s.paymentId);
      if (!row) continue;
      out.set(row.id, { paymentId: row.id, status: row.status, failureCode: null, failureMessage: null, changed: false });
      if (row.attempt_id !== s.attemptId) continue; // a newer attempt (a retry) started meanwhile
      const outcome: AttemptOutcome | 'unknown' = s.result.charge
        ? outcomeOf(s.result.charge)
        : s.result.error.code === GatewayErrorCode.UNAVAILABLE
          ? 'unknown'
          : { status: AttemptStatus.FAILED, chargeId: null, failure: { code: s.result.error.code, gatewayCode: s.result.error.gatewayCode, gatewayMessage: s.result.error.message } };
      const to = outcome === 'unknown' ? AttemptStatus.UNKNOWN : outcome.status;
      if (!canMoveAttempt(row.attempt_status, to)) continue;
      const n = row.attempt_number;
      const amount = Money.of(BigInt(row.amount), row.currency);
      const purposeJson = { purpose: row.purpose, purposeRefId: row.purpose_ref_id, invoiceIds: row.allocations.map((a) => a.invoiceId) };
      if (outcome === 'unknown') {
        attemptUpdates.push({ id: row.attempt_id, status: AttemptStatus.UNKNOWN, charge_id: null, failure_code: null, gateway_code: null, failure_message: null, finished: false });
        if (canMove(row.status, PaymentStatus.UNKNOWN)) {
          paymentUpdates.push({ id: row.id, status: PaymentStatus.UNKNOWN, charge_id: null, kind: 'unknown' });
          timeline.push(
            event(row.id, PaymentEventType.UNKNOWN, `Attempt ${n}: the payment gateway did not answer; Settle is checking the outcome (it never charges twice)`, { attempt: n, detail: (s.result.error as GatewayError).message }, null, stamp()),
          );
          out.set(row.id, { paymentId: row.id, status: PaymentStatus.UNKNOWN, failureCode: null, failureMessage: null, changed: true });
        }
        continue;
      }
      const chargeId = outcome.chargeId ?? row.attempt_charge_id;
      if (outcome.status === AttemptStatus.PROCESSING) {
        attemptUpdates.push({ id: row.attempt_id, status: outcome.status, charge_id: chargeId, failure_code: null, gateway_code: null, failure_message: null, finished: false });
        if (canMove(row.status, PaymentStatus.PROCESSING)) {
          paymentUpdates.push({ id: row.id, status: PaymentStatus.PROCESSING, charge_id: chargeId, kind: 'processing' });
          timeline.push(event(row.id, PaymentEventType.PROCESSING, `Attempt ${n}: the bank debit is processing; invoices are paid when it clears`, { attempt: n, chargeId, source: 'charge' }, null, stamp()));
          outbox.push(
            domainEvent<PaymentProcessingPayload>(PaymentsEvents.PaymentProcessing, organizationId, {
              ...purposeJson,
              paymentId: row.id,
              customerId: row.customer_id,
              amount: amount.toJSON(),
              attempt: n,
              methodLabel: row.method_label,
            }),
          );
          out.set(row.id, { paymentId: row.id, status: PaymentStatus.PROCESSING, failureCode: null, failureMessage: null, changed: true });
        }
      } else if (outcome.status === AttemptStatus.SUCCEEDED) {
        attemptUpdates.push({ id: row.attempt_id, status: outcome.status, charge_id: chargeId, failure_code: null, gateway_code: null, failure_message: null, finished: true });
        if (canMove(row.status, PaymentStatus.SUCCEEDED)) {
          paymentUpdates.push({ id: row.id, status: PaymentStatus.SUCCEEDED, charge_id: chargeId, kind: 'succeeded' });
          succeeded.push({ row, chargeId, attempt: n });
          out.set(row.id, { paymentId: row.id, status: PaymentStatus.SUCCEEDED, failureCode: null, failureMessage: null, changed: true });
        }
      } else {
        const failure = outcome.failure ?? { code: GatewayErrorCode.CARD_DECLINED, gatewayCode: null, gatewayMessage: null };
        const reason = declineReason(failure.code, failure.gatewayCode, row.method_type === PaymentMethodType.CARD ? 'CARD' : 'BANK_ACCOUNT');
        attemptUpdates.push({ id: row.attempt_id, status: AttemptStatus.FAILED, charge_id: chargeId, failure_code: failure.code, gateway_code: failure.gatewayCode, failure_message: reason, finished: true });
        if (canMove(row.status, PaymentStatus.FAILED)) {
          paymentUpdates.push({ id: row.id, status: PaymentStatus.FAILED, charge_id: chargeId, kind: 'failed', failure_code: failure.code, failure_message: reason });
          timeline.push(
            event(row.id, PaymentEventType.FAILED, `Attempt ${n} failed: ${reason}`, { attempt: n, chargeId, failureCode: failure.code, gatewayCode: failure.gatewayCode, gatewayMessage: failure.gatewayMessage, source: 'charge' }, null, stamp()),
          );
          outbox.push(
            domainEvent<PaymentFailedPayload>(PaymentsEvents.PaymentFailed, organizationId, {
              ...purposeJson,
              paymentId: row.id,
              customerId: row.customer_id,
              amount: amount.toJSON(),
              attempt: n,
              failureCode: failure.code,
              reason,
              paymentMethodId: row.payment_method_id,
            }),
          );
          failed.push({ row, reason, attempt: n });
          out.set(row.id, { paymentId: row.id, status: PaymentStatus.FAILED, failureCode: failure.code, failureMessage: reason, changed: true });
        }
      }
    }

    if (attemptUpdates.length) {
      await executeBound(em,
        `update payment_attempt a set status = v.status::payment_attempt_status, gateway_charge_id = coalesce(a.gateway_charge_id, v.charge_id),
                failure_code = coalesce(v.failure_code, a.failure_code), gateway_code = coalesce(v.gateway_code, a.gateway_code),
                failure_message = coalesce(v.failure_message, a.failure_message), finished_at = case when v.finished then ? else a.finished_at end, updated_at = now()
           from jsonb_to_recordset(?::jsonb) as v(id uuid, status text, charge_id text, failure_code text, gateway_code text, failure_message text, finished boolean)
          where a.id = v.id and a.organization_id = ?`,
        [now, json(attemptUpdates), organizationId],
      );
    }
    if (paymentUpdates.length) {
      await executeBound(em,
        `update payment p set status = v.status::payment_status, gateway_charge_id = coalesce(v.charge_id, p.gateway_charge_id), updated_at = now(),
                succeeded_at = case when v.kind = 'succeeded' then ? else p.succeeded_at end,
                failed_at = case when v.kind = 'failed' then ? else p.failed_at end,
                failure_code = case when v.kind = 'succeeded' then null when v.kind = 'failed' then v.failure_code else p.failure_code end,
                failure_message = case when v.kind = 'succeeded' then null when v.kind = 'failed' then v.failure_message else p.failure_message end,
                next_retry_at = case when v.kind = 'succeeded' then null else p.next_retry_at end,
                resolution = case when v.kind = 'failed' then ?::payment_resolution else p.resolution end,
                resolved_at = case when v.kind = 'failed' then null else p.resolved_at end,
                resolved_by = case when v.kind = 'failed' then null else p.resolved_by end
           from jsonb_to_recordset(?::jsonb) as v(id uuid, status text, charge_id text, kind text, failure_code text, failure_message text)
          where p.id = v.id and p.organization_id = ?`,
        [now, now, PaymentResolution.OPEN, json(paymentUpdates), organizationId],
      );
    }

    if (succeeded.length) {
      const recorded = await this.reconciliation.recordPaymentsBulk(
        em,
        succeeded.map(({ row, chargeId }) => ({
          paymentId: row.id,
          customerId: row.customer_id,
          amount: Money.of(BigInt(row.amount), row.currency),
          method: row.method_label,
          reference: chargeId,
          receivedAt: now,
          allocations: row.allocations.map((a) => ({ invoiceId: a.invoiceId, amount: Money.of(BigInt(a.amount), row.currency) })),
          recordedBy: row.created_by,
          source: PaymentSource.PAYMENTS,
        })),
        { capAllocationsToDue: true, refreshBalances: options.refreshBalances },
      );
      const made = new Map(recorded.map((r) => [r.paymentId, r.allocations]));
      for (const { row, chargeId, attempt } of succeeded) {
        const amount = Money.of(BigInt(row.amount), row.currency);
        timeline.push(event(row.id, PaymentEventType.SUCCEEDED, `Attempt ${attempt} succeeded: ${amount.format()} from ${row.method_label}`, { attempt, chargeId, source: 'charge' }, null, stamp()));
        const allocations = made.get(row.id) ?? [];
        if (allocations.length) {
          const total = Money.sum(
            allocations.map((a) => a.amount),
            row.currency,
          );
          timeline.push(
            event(row.id, PaymentEventType.ALLOCATED, `${total.format()} applied to ${allocations.length} invoice(s)`, {
              allocations: allocations.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount.amount.toString() })),
            }, null, stamp()),
          );
        }
        outbox.push(
          domainEvent<PaymentSucceededPayload>(PaymentsEvents.PaymentSucceeded, organizationId, {
            purpose: row.purpose,
            purposeRefId: row.purpose_ref_id,
            invoiceIds: row.allocations.map((a) => a.invoiceId),
            paymentId: row.id,
            customerId: row.customer_id,
            amount: amount.toJSON(),
            attempt,
            methodLabel: row.method_label,
          }),
        );
      }
    }
    await this.insertEvents(em, organizationId, now, timeline);
    await this.outbox.recordMany(em, outbox);
    for (const f of failed) await this.notifyFailure(em, f.row, f.reason, f.attempt, now);
    if (failed.length) await em.flush();
    return sent.map((s) => out.get(s.paymentId)).filter((p): p is AppliedPayment => !!p);
  }

  /** The customer is emailed and the office told in-app, as for a failure one by one (failures are few). */
  private async notifyFailure(em: EntityManager, row: PaymentRow, reason: string, attempt: number, now: Date): Promise<void> {
    const amount = Money.of(BigInt(row.amount), row.currency);
    const customer = await this.customers.get(em, row.customer_id);
    const numbers: string[] = [];
    for (const a of row.allocations) {
      const invoice = await this.invoicing.invoice(em, a.invoiceId);
      if (invoice?.number) numbers.push(invoice.number);
    }
    const reference = numbers.length ? numbers.join(', ') : null;
    // An agreement's charge: Agreements' dunning writes to the customer (one message, with a link to update the method).
    if (customer?.email && row.purpose !== PaymentPurpose.AGREEMENT) {
      await this.notifications.notifyCustomer(em, {
        dedupeKey: `payment-failed:${row.id}:${attempt}`,
        kind: MessageKind.PAYMENT_FAILED,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels: [Channel.EMAIL],
        data: { customerName: customer.name, amount, date: now, reason, paymentMethod: row.method_label, ...(reference ? { reference } : {}) },
      });
    }
    await this.notifications.notifyStaff(em, {
      dedupeKey: `payment-failed:${row.id}:${attempt}`,
      roles: PAYMENT_FAILURE_STAFF_ROLES,
      title: `Payment of ${amount.format()} from ${customer?.name ?? 'a customer'} failed`,
      body: `${row.method_label}: ${reason}${reference ? ` (${reference})` : ''}`,
      link: `/payments/${row.id}`,
    });
  }

  private async load(em: EntityManager, organizationId: string, paymentIds: readonly string[], lock: boolean): Promise<PaymentRow[]> {
    if (!paymentIds.length) return [];
    // `(organization_id = ?) is true` (the column is NOT NULL: the same rows) keeps the organization check out of the
    // index conditions, so the plan is always the primary-key lookups: without column statistics (a new table, or
    // autovacuum not run yet) the planner takes `organization_id = ?` for 0.5% of the rows and would scan every
    // payment of the organization through its index for each batch.
    return executeBound<PaymentRow[]>(em,
      `select p.id, p.customer_id, p.status, p.amount::text, p.currency, p.purpose, p.purpose_ref_id, p.allocations, p.description, p.method_type,
              p.payment_method_id, p.gateway_payment_method_id, p.gateway_customer_id, p.method_label, p.off_session, p.attempt_count, p.created_by,
              a.id as attempt_id, a.number as attempt_number, a.status as attempt_status, a.idempotency_key as attempt_key, a.gateway_charge_id as attempt_charge_id
         from payment p join payment_attempt a on a.payment_id = p.id and a.number = p.attempt_count
        where p.id = any(?::uuid[]) and (p.organization_id = ?) is true
        order by p.id ${lock ? 'for update of p' : ''}`,
      [pgArray([...new Set(paymentIds)]), organizationId],
    );
  }

  private async insertEvents(em: EntityManager, organizationId: string, at: Date, rows: Record<string, unknown>[]): Promise<void> {
    if (!rows.length) return;
    await executeBound(em,
      `insert into payment_event (id, organization_id, created_at, updated_at, payment_id, type, summary, detail, actor_user_id, at)
       select v.id, ?, v.created_at, now(), v.payment_id, v.type::payment_event_type, v.summary, v.detail, v.actor_user_id, ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, created_at timestamptz, payment_id uuid, type text, summary text, detail jsonb, actor_user_id uuid)`,
      [organizationId, at, json(rows)],
    );
  }
}

/** Strictly increasing wall-clock stamps (the timeline's tie-break, as PaymentOutcomes writes them). */
function createdAtSequence(): () => Date {
  let last = Date.now();
  return () => new Date(++last);
}

function event(paymentId: string, type: PaymentEventType, summary: string, detail: Record<string, unknown>, actorUserId: string | null, createdAt: Date): Record<string, unknown> {
  return { id: newOrderedId(), payment_id: paymentId, type, summary, detail, actor_user_id: actorUserId, created_at: createdAt };
}

/** chargeRequestOf from the stored row: exactly what the janitor would send under the same key. */
function chargeRequest(organizationId: string, r: PaymentRow): CreateCharge {
  return {
    gatewayCustomerId: r.gateway_customer_id,
    paymentMethodId: r.gateway_payment_method_id,
    methodKind: r.method_type,
    amount: BigInt(r.amount),
    currency: r.currency,
    description: r.description?.trim() || `Payment ${r.id}`,
    metadata: { organizationId, paymentId: r.id, attempt: String(r.attempt_number) },
    offSession: r.off_session,
    idempotencyKey: r.attempt_key,
  };
}
