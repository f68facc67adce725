import { DunningTrigger } from './dunning-policy.entity.js';

/** The rules of a dunning policy (the entity's or the defaults). */
export interface DunningRules {
  suspend: boolean;
  trigger: DunningTrigger;
  /** N for AFTER_FAILED_ATTEMPTS / AFTER_DAYS_UNPAID; null for IMMEDIATELY. */
  threshold: number | null;
}

export const DEFAULT_DUNNING_RULES: DunningRules = { suspend: false, trigger: DunningTrigger.IMMEDIATELY, threshold: null };

/** One unpaid invoice of an agreement, as the facts are now (read from Invoicing and Payments, never from events). */
export interface UnpaidAgreementInvoice {
  invoiceId: string;
  number: string | null;
  /** "$45.00": what it still owes, formatted. */
  amountDue: string;
  /** Whole days unpaid: since its due date, or since its charge first failed when that came first (0 before). */
  daysUnpaid: number;
  /** How many attempts of its charge failed (0: not charged yet, or its first attempt is still in flight). */
  failedAttempts: number;
  /** Its charge is being made, or is a bank debit waiting for the bank: not (yet) the customer's fault. */
  inFlight: boolean;
  /** Why the last attempt failed, in words. */
  failureMessage: string | null;
}

export interface DunningAssessment {
  /** The invoices that meet the policy's trigger (suspension is due when `suspend` is on and there is one). */
  triggering: UnpaidAgreementInvoice[];
  /** The invoices that are overdue at all: a failed charge, or unpaid past the due date with nothing in flight. */
  overdue: UnpaidAgreementInvoice[];
  /** The policy says the agreement should be SUSPENDED now. */
  shouldSuspend: boolean;
  /** Nothing is overdue: the payment issue is cleared (auto-reactivation waits for this). */
  cleared: boolean;
}

/** An invoice is overdue when its charge failed, or it is past due with no charge in flight. */
export function isOverdue(i: UnpaidAgreementInvoice): boolean {
  return i.failedAttempts >= 1 || (i.daysUnpaid > 0 && !i.inFlight);
}

/** Whether one unpaid invoice meets the policy's trigger. */
export function meetsTrigger(rules: DunningRules, i: UnpaidAgreementInvoice): boolean {
  const n = rules.threshold ?? 1;
  switch (rules.trigger) {
    case DunningTrigger.IMMEDIATELY:
      return i.failedAttempts >= 1;
    case DunningTrigger.AFTER_FAILED_ATTEMPTS:
      return i.failedAttempts >= n;
    case DunningTrigger.AFTER_DAYS_UNPAID:
      // A bank debit on its first attempt is not late yet, however slow the bank.
      return i.daysUnpaid >= n && (i.failedAttempts >= 1 || !i.inFlight);
  }
}

/**
 * The policy applied to the facts of one agreement: a pure function of its unpaid invoices now, so evaluating twice,
 * or after events arrived twice or out of order, gives the same answer.
 */
export function assess(rules: DunningRules, unpaid: readonly UnpaidAgreementInvoice[]): DunningAssessment {
  const triggering = unpaid.filter((i) => meetsTrigger(rules, i));
  const overdue = unpaid.filter(isOverdue);
  return { triggering, overdue, shouldSuspend: rules.suspend && triggering.length > 0, cleared: overdue.length === 0 };
}

/** "INV-000003 ($45.00): the card was declined after 2 attempts" — why, in words, for messages and transitions. */
export function describe(rules: DunningRules, invoices: readonly UnpaidAgreementInvoice[]): string {
  const parts = invoices.map((i) => {
    const what = `${i.number ?? 'an invoice'} (${i.amountDue})`;
    if (rules.trigger === DunningTrigger.AFTER_DAYS_UNPAID) return `${what} unpaid for ${i.daysUnpaid} day${i.daysUnpaid === 1 ? '' : 's'}`;
    const attempts = i.failedAttempts > 1 ? ` (${i.failedAttempts} failed attempts)` : '';
    return `${what}: ${trimStop(i.failureMessage ?? 'the payment failed')}${attempts}`;
  });
  return `Payment overdue — ${parts.join('; ')}`;
}

/** Days from `from` to `to` (YYYY-MM-DD), negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

function trimStop(s: string): string {
  return s.trim().replace(/\.$/, '');
}
