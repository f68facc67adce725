import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, LockMode, MikroORM, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { GatewayError, GatewayErrorCode, type GatewayPaymentMethod, PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Invoicing, InvoiceStatus } from '../../invoicing/index.js';
import { type ChargeableMethod, Wallet, WalletError } from '../../wallet/index.js';
import {
  AttemptStatus,
  Payment,
  PaymentAttempt,
  PaymentEventType,
  PaymentMethodType,
  PaymentPurpose,
  PaymentStatus,
  type PlannedAllocation,
} from '../domain/payment.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import type { ChargeCommand, OneOffSource, PaymentSummary } from './payments.contract.js';
import { PaymentOutcomes } from './payment-outcomes.js';
import { attemptKey, chargeRequestOf, type PaymentTestHooks, summaryOf } from './take-payment.support.js';

/** How long an identical request waits for the first one's outcome before answering with what is stored (PENDING). */
export const REPLAY_WAIT_MS = 10_000;
const REPLAY_POLL_MS = 100;
/** Payments whose key was derived and that failed do not block a new payment of the same invoices; this bounds the search. */
const MAX_DERIVED_GENERATIONS = 50;

/** What validation found out about the method and the allocations (nothing written yet). */
interface Prepared {
  methodType: PaymentMethodType;
  paymentMethodId: string | null;
  gatewayPaymentMethodId: string;
  gatewayCustomerId: string | null;
  methodLabel: string;
  brand: string | null;
  last4: string | null;
  allocations: PlannedAllocation[];
}

const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
};

/** "Visa ending in 4242" / "Checking account at STRIPE TEST BANK ending in 6789", as the wallet writes them. */
export function labelOf(pm: GatewayPaymentMethod): string {
  if (pm.card) return `${BRANDS[pm.card.brand] ?? 'Card'} ending in ${pm.card.last4}`;
  const bank = pm.bankAccount!;
  const type = bank.accountType === 'savings' ? 'Savings account' : 'Checking account';
  return `${type}${bank.bankName ? ` at ${bank.bankName}` : ''} ending in ${bank.last4}`;
}

function isOneOff(method: ChargeCommand['method']): method is OneOffSource {
  return typeof (method as OneOffSource).token === 'string';
}

/**
 * Taking a payment, exactly once. (1) Validate everything that can refuse without side effects; (2) insert the
 * Payment and its first attempt and COMMIT: the unique (organization, idempotency key) makes two identical requests
 * at the same moment one row, and the loser waits for the winner's outcome; (3) call the gateway under the
 * attempt's own key; (4) apply the answer in a second transaction (PaymentOutcomes). A crash between (3) and (4), or
 * a gateway that did not answer, leaves the attempt PENDING or UNKNOWN for the janitor, which asks the gateway again
 * under the same key, so the customer is never charged twice.
 */
@Injectable()
export class TakePayment {
  private readonly logger = new Logger(TakePayment.name);
  /** Test-only seams (crash injection). */
  readonly hooks: PaymentTestHooks = {};

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly gateway: PaymentGateway,
    private readonly wallet: Wallet,
    private readonly invoicing: Invoicing,
    private readonly customers: CustomerDirectory,
    private readonly identity: IdentityDirectory,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  async charge(organizationId: string, cmd: ChargeCommand): Promise<PaymentSummary> {
    const em = this.scoped(organizationId);
    const org = await this.identity.organization(em, organizationId);
    if (!org) throw ApplicationError.notFound('Organization', organizationId);
    this.checkShape(cmd, org.currency);
    const customer = await this.customers.require(em, cmd.customerId);
    if (customer.status === CustomerStatus.ARCHIVED) {
      throw PaymentsError.invalid([{ field: 'customerId', message: `${customer.name} is archived; reactivate them before taking a payment` }]);
    }
    const hash = requestHash(cmd);
    const key = await this.keyFor(em, cmd);
    const existing = await em.findOne(Payment, { idempotencyKey: key });
    if (existing) return this.replay(organizationId, key, hash, cmd.idempotencyKey == null);

    let prepared = await this.validate(em, cmd);
    const oneOff = isOneOff(cmd.method) ? cmd.method : null;
    if (oneOff && prepared.methodType === PaymentMethodType.BANK_ACCOUNT) {
      // A bank debit needs the customer's mandate, which the wallet records when it saves the account: save first.
      prepared = await this.saveBankAccountFirst(organizationId, cmd, oneOff);
    }

    let created: { paymentId: string; attemptId: string };
    try {
      created = await this.insert(organizationId, cmd, prepared, key, hash);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) return this.replay(organizationId, key, hash, cmd.idempotencyKey == null);
      throw error;
    }
    const summary = await this.send(organizationId, created.paymentId, created.attemptId);
    if (oneOff?.saveToWallet && prepared.methodType === PaymentMethodType.CARD && summary.status === PaymentStatus.SUCCEEDED) {
      await this.saveCardAfterSuccess(organizationId, created.paymentId, cmd, oneOff, prepared.gatewayPaymentMethodId);
      return this.inTenant(organizationId, async (tx) => summaryOf(await tx.findOneOrFail(Payment, { id: created.paymentId })));
    }
    return summary;
  }

  /** A new attempt of a FAILED payment (attemptCount + 1), through the same pipeline. */
  async retry(organizationId: string, paymentId: string, actorUserId: string | null): Promise<PaymentSummary> {
    if (!isUuid(paymentId)) throw PaymentsError.notFound(paymentId);
    const started = await this.inTenant(organizationId, async (tx) => {
      const payment = await tx.findOne(Payment, { id: paymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!payment) throw PaymentsError.notFound(paymentId);
      if (payment.status !== PaymentStatus.FAILED) {
        throw new PaymentsError(
          PaymentsErrorReason.INVALID_STATE,
          `Only a failed payment can be retried; this one is ${payment.status.toLowerCase().replace('_', ' ')}`,
        );
      }
      if (payment.paymentMethodId) {
        // The saved method may have been updated (new expiry, replaced) or lost its consent since.
        const method = await this.chargeable(tx, payment.paymentMethodId, payment.offSession, payment.customerId);
        payment.gatewayPaymentMethodId = method.gatewayPaymentMethodId;
        payment.gatewayCustomerId = method.gatewayCustomerId;
        payment.methodLabel = method.label;
      }
      const now = this.clock.now();
      payment.moveTo(PaymentStatus.PENDING);
      payment.attemptCount += 1;
      payment.gatewayChargeId = null;
      payment.failureCode = null;
      payment.failureMessage = null;
      payment.nextRetryAt = null;
      const attempt = this.newAttempt(tx, payment, actorUserId, now);
      this.outcomes.event(tx, payment, PaymentEventType.ATTEMPT_STARTED, `Attempt ${attempt.number} started (retry)`, now, { attempt: attempt.number }, actorUserId);
      await tx.flush();
      return attempt.id;
    });
    return this.send(organizationId, paymentId, started);
  }

  /**
   * Asks the gateway for the attempt under its key and applies the answer. An unknown outcome (timeout, outage)
   * leaves it UNKNOWN; a refusal before any charge (a detached method) is a failure like a decline.
   */
  async send(organizationId: string, paymentId: string, attemptId: string): Promise<PaymentSummary> {
    const em = this.scoped(organizationId);
    const payment = await em.findOneOrFail(Payment, { id: paymentId });
    const attempt = await em.findOneOrFail(PaymentAttempt, { id: attemptId });
    let charge;
    try {
      charge = await this.gateway.createCharge(chargeRequestOf(payment, attempt));
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      if (error.code === GatewayErrorCode.UNAVAILABLE) {
        this.logger.warn(`Payment ${paymentId} attempt ${attempt.number}: the gateway did not answer (${error.message}); the janitor will check`);
        return this.outcomes.markUnknown(organizationId, attemptId, error.message);
      }
      return this.outcomes.apply(
        organizationId,
        attemptId,
        { status: AttemptStatus.FAILED, chargeId: null, failure: { code: error.code, gatewayCode: error.gatewayCode, gatewayMessage: error.message } },
        'charge',
      );
    }
    await this.hooks.afterGatewayCall?.({ paymentId, attemptId, number: attempt.number });
    return this.outcomes.applyGatewayResult(organizationId, attemptId, charge, 'charge');
  }

  // ── validation ────────────────────────────────────────────────────────────────────────────────────────────────

  /** What can be told from the command alone. */
  private checkShape(cmd: ChargeCommand, currency: string): void {
    const problems: FieldProblem[] = [];
    if (!cmd.amount.isPositive()) problems.push({ field: 'amount', message: 'must be more than zero' });
    if (cmd.amount.currency !== currency) {
      problems.push({ field: 'amount.currency', message: `must be the organization's currency, ${currency}` });
    }
    const allocations = cmd.allocations ?? [];
    if (cmd.purpose === PaymentPurpose.INVOICES && allocations.length === 0) {
      problems.push({ field: 'allocations', message: 'name at least one invoice (or take the payment on account)' });
    }
    if (cmd.purpose === PaymentPurpose.ON_ACCOUNT && allocations.length > 0) {
      problems.push({ field: 'allocations', message: 'a payment on account pays no invoice' });
    }
    const seen = new Set<string>();
    allocations.forEach((a, i) => {
      if (!isUuid(a.invoiceId)) problems.push({ field: `allocations[${i}].invoiceId`, message: 'is not an invoice id' });
      if (seen.has(a.invoiceId)) problems.push({ field: `allocations[${i}].invoiceId`, message: 'names the same invoice twice' });
      seen.add(a.invoiceId);
      if (a.amount.currency !== currency) problems.push({ field: `allocations[${i}].amount.currency`, message: `must be ${currency}` });
      else if (!a.amount.isPositive()) problems.push({ field: `allocations[${i}].amount`, message: 'must be more than zero' });
    });
    if (problems.length === 0 && allocations.length) {
      const sum = Money.sum(
        allocations.map((a) => a.amount),
        currency,
      );
      if (sum.greaterThan(cmd.amount)) {
        problems.push({ field: 'allocations', message: `add up to ${sum.format()}, more than the payment of ${cmd.amount.format()}` });
      }
    }
    if (isOneOff(cmd.method)) {
      if (!cmd.method.token.trim()) problems.push({ field: 'token', message: 'must not be empty' });
      if (cmd.method.consentGiven && !cmd.method.saveToWallet) {
        problems.push({ field: 'consentGiven', message: 'only applies when the method is saved to the wallet (saveToWallet)' });
      }
    } else if (!isUuid(cmd.method.paymentMethodId)) {
      problems.push({ field: 'paymentMethodId', message: 'is not a payment method id' });
    }
    const key = cmd.idempotencyKey?.trim();
    if (cmd.idempotencyKey != null && (!key || key.length > 255)) {
      problems.push({ field: 'idempotencyKey', message: 'must be 1 to 255 characters' });
    }
    if (cmd.idempotencyKey == null && cmd.purpose !== PaymentPurpose.INVOICES && cmd.purpose !== PaymentPurpose.ON_ACCOUNT) {
      problems.push({ field: 'idempotencyKey', message: `is required for a ${cmd.purpose} payment (e.g. installment:<id>)` });
    }
    if (problems.length) throw PaymentsError.invalid(problems);
  }

  /** The invoices (issued, this customer's, each paid at most what it owes) and the method (chargeable, the customer's). */
  private async validate(em: EntityManager, cmd: ChargeCommand): Promise<Prepared> {
    const problems: FieldProblem[] = [];
    const allocations: PlannedAllocation[] = [];
    for (const [i, a] of (cmd.allocations ?? []).entries()) {
      const invoice = await this.invoicing.invoice(em, a.invoiceId);
      const field = `allocations[${i}]`;
      if (!invoice) {
        problems.push({ field: `${field}.invoiceId`, message: 'no such invoice' });
      } else if (invoice.customerId !== cmd.customerId) {
        problems.push({ field: `${field}.invoiceId`, message: `${invoice.number ?? 'this invoice'} belongs to another customer` });
      } else if (invoice.status === InvoiceStatus.DRAFT) {
        problems.push({ field: `${field}.invoiceId`, message: 'is a draft; issue it before taking a payment for it' });
      } else if (invoice.status === InvoiceStatus.VOID) {
        problems.push({ field: `${field}.invoiceId`, message: `${invoice.number} is void` });
      } else if (invoice.status === InvoiceStatus.PAID || invoice.amountDue.isZero()) {
        problems.push({ field: `${field}.invoiceId`, message: `${invoice.number} is already paid` });
      } else if (a.amount.greaterThan(invoice.amountDue)) {
        problems.push({ field: `${field}.amount`, message: `is more than ${invoice.number} owes (${invoice.amountDue.format()})` });
      } else {
        allocations.push({ invoiceId: a.invoiceId, amount: a.amount.amount.toString() });
      }
    }

    let method: Omit<Prepared, 'allocations'> | null = null;
    try {
      method = isOneOff(cmd.method) ? await this.describeOneOff(cmd.method.token) : this.fromWallet(await this.chargeable(em, cmd.method.paymentMethodId, cmd.offSession, cmd.customerId));
    } catch (error) {
      if (!(error instanceof PaymentsError) || problems.length === 0) throw error;
      problems.push(...error.fields);
    }
    if (problems.length) throw PaymentsError.invalid(problems);
    return { ...method!, allocations };
  }

  private async chargeable(em: EntityManager, paymentMethodId: string, offSession: boolean, customerId: string): Promise<ChargeableMethod> {
    let method: ChargeableMethod;
    try {
      method = await this.wallet.chargeable(em, paymentMethodId, { requireConsent: offSession });
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      throw new PaymentsError(PaymentsErrorReason.METHOD_NOT_CHARGEABLE, error.message, 'paymentMethodId', { walletReason: error.reason });
    }
    if (method.customerId !== customerId) {
      throw new PaymentsError(PaymentsErrorReason.METHOD_NOT_CHARGEABLE, "The payment method is not in this customer's wallet", 'paymentMethodId');
    }
    return method;
  }

  private fromWallet(m: ChargeableMethod): Omit<Prepared, 'allocations'> {
    return {
      methodType: m.kind === 'CARD' ? PaymentMethodType.CARD : PaymentMethodType.BANK_ACCOUNT,
      paymentMethodId: m.id,
      gatewayPaymentMethodId: m.gatewayPaymentMethodId,
      gatewayCustomerId: m.gatewayCustomerId,
      methodLabel: m.label,
      brand: m.brand,
      last4: m.last4,
    };
  }

  /** A one-off token, described by the gateway (brand, last 4): Settle never sees or keeps the number. */
  private async describeOneOff(token: string): Promise<Omit<Prepared, 'allocations'>> {
    let pm: GatewayPaymentMethod;
    try {
      pm = await this.gateway.describePaymentMethod(token.trim());
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      if (error.code === GatewayErrorCode.UNAVAILABLE) {
        throw new PaymentsError(PaymentsErrorReason.GATEWAY_UNAVAILABLE, 'The payment gateway did not answer; nothing was charged. Try again in a moment.');
      }
      throw PaymentsError.invalid([{ field: 'token', message: error.message }]);
    }
    return {
      methodType: pm.kind === 'CARD' ? PaymentMethodType.CARD : PaymentMethodType.BANK_ACCOUNT,
      paymentMethodId: null,
      gatewayPaymentMethodId: pm.id,
      gatewayCustomerId: pm.customerId,
      methodLabel: labelOf(pm),
      brand: pm.card?.brand ?? null,
      last4: pm.card?.last4 ?? pm.bankAccount?.last4 ?? null,
    };
  }

  // ── idempotency ───────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The request's key: the caller's; for INVOICES without one, derived from the customer, the invoices, the amounts
   * and what those invoices owe right now (so a later payment of what is still owed gets another key, and a payment
   * whose derived key failed does not block paying again); for ON_ACCOUNT without one, a fresh random key.
   */
  private async keyFor(em: EntityManager, cmd: ChargeCommand): Promise<string> {
    if (cmd.idempotencyKey != null) return cmd.idempotencyKey.trim();
    if (cmd.purpose === PaymentPurpose.ON_ACCOUNT) return `onaccount:${randomUUID()}`;
    const parts: string[] = [];
    for (const a of [...(cmd.allocations ?? [])].sort((x, y) => x.invoiceId.localeCompare(y.invoiceId))) {
      const invoice = await this.invoicing.invoice(em, a.invoiceId);
      parts.push(`${a.invoiceId}=${a.amount.amount}/${invoice?.total.amount ?? '-'}-${invoice?.amountDue.amount ?? '-'}`);
    }
    const base = `invoices:${cmd.customerId}:${createHash('sha256').update(`${cmd.amount.amount}${cmd.amount.currency}|${parts.join(',')}`).digest('hex').slice(0, 32)}`;
    for (let generation = 0; generation < MAX_DERIVED_GENERATIONS; generation++) {
      const key = `${base}:${generation}`;
      const existing = await em.findOne(Payment, { idempotencyKey: key }, { fields: ['id', 'status', 'requestHash'] });
      if (!existing) return key;
      const finishedBadly = existing.status === PaymentStatus.FAILED || existing.status === PaymentStatus.CANCELLED;
      if (!finishedBadly) return key;
    }
    return `${base}:${randomUUID()}`;
  }

  /**
   * The stored result of an earlier identical request. While that one is still talking to the gateway (PENDING),
   * wait for it a little; after REPLAY_WAIT_MS answer with what is stored. Another request under the same key is refused.
   */
  private async replay(organizationId: string, key: string, hash: string, derived: boolean): Promise<PaymentSummary> {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (;;) {
      const em = this.scoped(organizationId);
      const payment = await em.findOne(Payment, { idempotencyKey: key });
      if (!payment) throw new Error(`Payment under idempotency key ${key} vanished`);
      if (payment.requestHash !== hash) {
        throw new PaymentsError(
          PaymentsErrorReason.IDEMPOTENCY_KEY_REUSED,
          derived
            ? 'Another payment of these invoices is in progress; wait for its outcome before taking a different one'
            : 'This idempotency key was already used for another payment (other customer, amount, method or invoices); use a new key for a new payment',
          'idempotencyKey',
          { paymentId: payment.id },
        );
      }
      if (payment.status !== PaymentStatus.PENDING || Date.now() >= deadline) return summaryOf(payment, true);
      await sleep(REPLAY_POLL_MS);
    }
  }

  // ── writes ────────────────────────────────────────────────────────────────────────────────────────────────────

  private insert(organizationId: string, cmd: ChargeCommand, prepared: Prepared, key: string, hash: string): Promise<{ paymentId: string; attemptId: string }> {
    return this.inTenant(organizationId, async (tx) => {
      const now = this.clock.now();
      const payment = new Payment();
      Object.assign(payment, {
        organizationId,
        customerId: cmd.customerId,
        status: PaymentStatus.PENDING,
        amount: cmd.amount.amount,
        currency: cmd.amount.currency,
        purpose: cmd.purpose,
        purposeRefId: cmd.purposeRefId ?? null,
        allocations: prepared.allocations,
        description: cmd.description?.trim() || null,
        methodType: prepared.methodType,
        paymentMethodId: prepared.paymentMethodId,
        gatewayPaymentMethodId: prepared.gatewayPaymentMethodId,
        gatewayCustomerId: prepared.gatewayCustomerId,
        methodLabel: prepared.methodLabel,
        brand: prepared.brand,
        last4: prepared.last4,
        gateway: this.gateway.name,
        offSession: cmd.offSession,
        idempotencyKey: key,
        requestHash: hash,
        attemptCount: 1,
        createdBy: cmd.createdBy,
        createdAt: now,
      } satisfies Partial<Payment>);
      tx.persist(payment);
      const attempt = this.newAttempt(tx, payment, cmd.createdBy, now);
      const amount = payment.money(payment.amount).format();
      this.outcomes.event(tx, payment, PaymentEventType.CREATED, `Payment of ${amount} from ${payment.methodLabel} created`, now, {
        purpose: payment.purpose,
        purposeRefId: payment.purposeRefId,
        allocations: payment.allocations,
      }, cmd.createdBy);
      this.outcomes.event(tx, payment, PaymentEventType.ATTEMPT_STARTED, 'Attempt 1 sent to the payment gateway', now, { attempt: 1 }, cmd.createdBy);
      await tx.flush();
      return { paymentId: payment.id, attemptId: attempt.id };
    });
  }

  private newAttempt(tx: EntityManager, payment: Payment, startedBy: string | null, now: Date): PaymentAttempt {
    const attempt = new PaymentAttempt();
    attempt.organizationId = payment.organizationId;
    attempt.paymentId = payment.id;
    attempt.number = payment.attemptCount;
    attempt.idempotencyKey = attemptKey(payment.id, payment.attemptCount);
    attempt.status = AttemptStatus.PENDING;
    attempt.startedBy = startedBy;
    attempt.startedAt = now;
    tx.persist(attempt);
    return attempt;
  }

  /** One-off bank account: saved (mandate recorded) before the debit, which then charges the saved account. */
  private async saveBankAccountFirst(organizationId: string, cmd: ChargeCommand, oneOff: OneOffSource): Promise<Prepared> {
    if (!oneOff.saveToWallet) {
      throw PaymentsError.invalid([
        { field: 'saveToWallet', message: "a bank account is debited under the customer's mandate: save it to the wallet (with consent) to debit it" },
      ]);
    }
    const saved = await this.inTenant(organizationId, (tx) => this.saveToWallet(tx, cmd, oneOff, oneOff.token.trim()));
    const em = this.scoped(organizationId);
    return this.validate(em, { ...cmd, method: { paymentMethodId: saved.id } });
  }

  private async saveCardAfterSuccess(organizationId: string, paymentId: string, cmd: ChargeCommand, oneOff: OneOffSource, token: string): Promise<void> {
    try {
      await this.inTenant(organizationId, async (tx) => {
        const saved = await this.saveToWallet(tx, cmd, oneOff, token);
        const payment = await tx.findOneOrFail(Payment, { id: paymentId });
        payment.paymentMethodId = saved.id;
        this.outcomes.event(tx, payment, PaymentEventType.SUCCEEDED, `${saved.label} saved to the customer's wallet${saved.consentGranted ? ' with consent to future charges' : ''}`, this.clock.now(), {
          savedPaymentMethodId: saved.id,
        }, cmd.createdBy);
        await tx.flush();
      });
    } catch (error) {
      // The payment stands; only the saving failed. Say so on its timeline.
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(`Payment ${paymentId}: the card was charged but could not be saved to the wallet: ${message}`);
      await this.inTenant(organizationId, async (tx) => {
        const payment = await tx.findOneOrFail(Payment, { id: paymentId });
        this.outcomes.event(tx, payment, PaymentEventType.FAILED, `The card was charged but could not be saved to the wallet: ${message}`, this.clock.now(), {
          saveToWallet: false,
        }, cmd.createdBy);
        await tx.flush();
      });
    }
  }

  private async saveToWallet(tx: EntityManager, cmd: ChargeCommand, oneOff: OneOffSource, token: string): Promise<ChargeableMethod> {
    try {
      return await this.wallet.saveMethod(tx, {
        customerId: cmd.customerId,
        token,
        billingAddress: oneOff.billingAddress ?? null,
        consentGiven: oneOff.consentGiven ?? false,
        actorUserId: cmd.createdBy,
      });
    } catch (error) {
      if (error instanceof WalletError) {
        throw new PaymentsError(PaymentsErrorReason.METHOD_NOT_CHARGEABLE, error.message, error.fields[0]?.field ?? 'token', { walletReason: error.reason });
      }
      throw error;
    }
  }

  private scoped(organizationId: string): EntityManager {
    const em = this.orm.em.fork();
    scopeToTenant(em, organizationId);
    return em;
  }

  private inTenant<T>(organizationId: string, work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.scoped(organizationId).transactional(work);
  }
}

/** What makes two requests "the same": customer, amount, method, purpose and invoices (not the description). */
export function requestHash(cmd: ChargeCommand): string {
  const method = isOneOff(cmd.method) ? { token: cmd.method.token.trim(), save: !!cmd.method.saveToWallet } : { saved: cmd.method.paymentMethodId };
  const allocations = [...(cmd.allocations ?? [])]
    .map((a) => [a.invoiceId, a.amount.amount.toString()])
    .sort((x, y) => x[0]!.localeCompare(y[0]!));
  return createHash('sha256')
    .update(
      JSON.stringify({
        customerId: cmd.customerId,
        amount: cmd.amount.amount.toString(),
        currency: cmd.amount.currency,
        purpose: cmd.purpose,
        purposeRefId: cmd.purposeRefId ?? null,
        offSession: cmd.offSession,
        method,
        allocations,
      }),
    )
    .digest('hex');
}
