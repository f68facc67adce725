import fc from 'fast-check';
import { Money } from '#libs/money/index.js';
import { customInstallments, equalInstallments, InstallmentScheduleError } from './installment-schedule.js';

const usd = (minor: number | bigint) => Money.of(minor, 'USD');
const amounts = (plan: { amount: Money }[]) => plan.map((p) => p.amount.amount);

describe('installment schedules', () => {
  it('pay in 4: 100.00 is four times 25.00, monthly on the same day', () => {
    const plan = equalInstallments(usd(10_000), 4, '2026-12-15', 'MONTHLY');
    expect(plan.map((p) => [p.sequence, p.dueOn, p.amount.amount])).toEqual([
      [1, '2026-12-15', 2500n],
      [2, '2027-01-15', 2500n],
      [3, '2027-02-15', 2500n],
      [4, '2027-03-15', 2500n],
    ]);
  });

  it('gives the leftover cents to the first installments: 100.00 in 3 is 33.34, 33.33, 33.33', () => {
    expect(amounts(equalInstallments(usd(10_000), 3, '2026-01-01', 'WEEKLY'))).toEqual([3334n, 3333n, 3333n]);
  });

  it('keeps a month-end anchor without drifting: Jan 31, Feb 28, Mar 31, Apr 30', () => {
    const plan = equalInstallments(usd(400), 4, '2027-01-31', 'MONTHLY');
    expect(plan.map((p) => p.dueOn)).toEqual(['2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30']);
  });

  it('steps weekly and every two weeks across month and year ends', () => {
    expect(equalInstallments(usd(300), 3, '2026-12-24', 'WEEKLY').map((p) => p.dueOn)).toEqual(['2026-12-24', '2026-12-31', '2027-01-07']);
    expect(equalInstallments(usd(300), 3, '2026-12-24', 'BIWEEKLY').map((p) => p.dueOn)).toEqual(['2026-12-24', '2027-01-07', '2027-01-21']);
  });

  it('never loses or creates a cent, whatever the total and count (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 60n, max: 10n ** 15n }), fc.integer({ min: 2, max: 60 }), (total, count) => {
        const plan = equalInstallments(usd(total), count, '2026-02-28', 'MONTHLY');
        const parts = amounts(plan);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
        expect(parts).toHaveLength(count);
        // As equal as possible, larger ones first: any two differ by at most one cent.
        expect(parts[0]! - parts[parts.length - 1]!).toBeLessThanOrEqual(1n);
        expect([...parts].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(parts);
      }),
    );
  });

  it('refuses what cannot be a plan, naming the field', () => {
    expect(() => equalInstallments(usd(0), 3, '2026-01-01', 'MONTHLY')).toThrow('total: must be more than zero');
    expect(() => equalInstallments(usd(100), 1, '2026-01-01', 'MONTHLY')).toThrow(/^count:/);
    expect(() => equalInstallments(usd(2), 3, '2026-01-01', 'MONTHLY')).toThrow(/^count: 2 minor units/);
    expect(() => equalInstallments(usd(100), 3, '2026-02-30', 'MONTHLY')).toThrow('firstDueOn: 2026-02-30 is not a calendar date');
    expect(() => equalInstallments(usd(100), 3, '15/01/2026', 'MONTHLY')).toThrow(InstallmentScheduleError);
  });

  it('custom installments must add up to the total exactly, on increasing dates', () => {
    const ok = customInstallments(usd(10_000), [
      { dueOn: '2026-01-01', amount: usd(5_000) },
      { dueOn: '2026-02-01', amount: usd(3_000) },
      { dueOn: '2026-03-01', amount: usd(2_000) },
    ]);
    expect(amounts(ok)).toEqual([5000n, 3000n, 2000n]);

    expect(() =>
      customInstallments(usd(10_000), [
        { dueOn: '2026-01-01', amount: usd(5_000) },
        { dueOn: '2026-02-01', amount: usd(4_999) },
      ]),
    ).toThrow('installments: add up to $99.99 but the total is $100.00; the difference is $0.01');
    expect(() =>
      customInstallments(usd(10_000), [
        { dueOn: '2026-02-01', amount: usd(5_000) },
        { dueOn: '2026-02-01', amount: usd(5_000) },
      ]),
    ).toThrow('installments.1.dueOn: must be after 2026-02-01');
    expect(() => customInstallments(usd(100), [{ dueOn: '2026-02-01', amount: Money.of(100, 'CAD') }])).toThrow(
      'installments.0.amount: is in CAD, the total is in USD',
    );
  });
});
