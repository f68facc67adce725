import { DunningTrigger } from './dunning-policy.entity.js';
import { assess, daysBetween, describe as explain, type DunningRules, type UnpaidAgreementInvoice } from './dunning-policy.js';

const invoice = (over: Partial<UnpaidAgreementInvoice> = {}): UnpaidAgreementInvoice => ({
  invoiceId: 'i1',
  number: 'INV-000001',
  amountDue: '$45.00',
  daysUnpaid: 0,
  failedAttempts: 0,
  inFlight: false,
  failureMessage: null,
  ...over,
});
const rules = (trigger: DunningTrigger, threshold: number | null = null, suspend = true): DunningRules => ({ suspend, trigger, threshold });

describe('dunning policy', () => {
  it('IMMEDIATELY suspends on the first failed attempt, not for a charge in flight', () => {
    expect(assess(rules(DunningTrigger.IMMEDIATELY), [invoice({ failedAttempts: 1 })]).shouldSuspend).toBe(true);
    expect(assess(rules(DunningTrigger.IMMEDIATELY), [invoice({ inFlight: true })]).shouldSuspend).toBe(false);
    expect(assess(rules(DunningTrigger.IMMEDIATELY), []).shouldSuspend).toBe(false);
  });

  it('AFTER_FAILED_ATTEMPTS n waits for n failed attempts of one invoice', () => {
    const r = rules(DunningTrigger.AFTER_FAILED_ATTEMPTS, 3);
    expect(assess(r, [invoice({ failedAttempts: 2 }), invoice({ failedAttempts: 2 })]).shouldSuspend).toBe(false);
    expect(assess(r, [invoice({ failedAttempts: 3 })]).shouldSuspend).toBe(true);
  });

  it('AFTER_DAYS_UNPAID n counts days past due; a first bank debit still processing is not late', () => {
    const r = rules(DunningTrigger.AFTER_DAYS_UNPAID, 10);
    expect(assess(r, [invoice({ daysUnpaid: 9, failedAttempts: 1 })]).shouldSuspend).toBe(false);
    expect(assess(r, [invoice({ daysUnpaid: 10, failedAttempts: 1 })]).shouldSuspend).toBe(true);
    expect(assess(r, [invoice({ daysUnpaid: 12, inFlight: true })]).shouldSuspend).toBe(false);
    expect(assess(r, [invoice({ daysUnpaid: 12, inFlight: true, failedAttempts: 1 })]).shouldSuspend).toBe(true);
  });

  it('suspend = false never suspends, whatever the facts', () => {
    for (const trigger of Object.values(DunningTrigger)) {
      expect(assess(rules(trigger, 1, false), [invoice({ failedAttempts: 9, daysUnpaid: 99 })]).shouldSuspend).toBe(false);
    }
  });

  it('cleared means nothing overdue: no failed charge, nothing past due without a charge in flight', () => {
    const r = rules(DunningTrigger.IMMEDIATELY);
    expect(assess(r, []).cleared).toBe(true);
    expect(assess(r, [invoice({ inFlight: true, daysUnpaid: 3 })]).cleared).toBe(true);
    expect(assess(r, [invoice({ daysUnpaid: 1 })]).cleared).toBe(false);
    expect(assess(r, [invoice({ failedAttempts: 1 })]).cleared).toBe(false);
  });

  it('says why in words, and counts days across months', () => {
    expect(explain(rules(DunningTrigger.IMMEDIATELY), [invoice({ failedAttempts: 2, failureMessage: 'The card was declined.' })])).toBe(
      'Payment overdue — INV-000001 ($45.00): The card was declined (2 failed attempts)',
    );
    expect(explain(rules(DunningTrigger.AFTER_DAYS_UNPAID, 5), [invoice({ daysUnpaid: 5 })])).toBe('Payment overdue — INV-000001 ($45.00) unpaid for 5 days');
    expect(daysBetween('2026-02-25', '2026-03-02')).toBe(5);
    expect(daysBetween('2026-03-02', '2026-02-25')).toBe(-5);
  });
});
