import fc from 'fast-check';
import {
  addDays,
  BillingFrequency,
  type BillingSchedule,
  isOnBillingDay,
  periodsDue,
  renewalDates,
  upcomingPeriods,
} from './billing-schedule.js';

const span = (p: { start: string; end: string }) => [p.start, p.end];

describe('periodsDue', () => {
  const monthly15: BillingSchedule = { frequency: BillingFrequency.MONTHLY, billingDay: 15, startDate: '2026-01-15', endDate: null };

  it('bills every started period not billed yet, in advance, oldest first', () => {
    expect(periodsDue({ ...monthly15, billedThrough: null }, '2026-03-20').map(span)).toEqual([
      ['2026-01-15', '2026-02-14'],
      ['2026-02-15', '2026-03-14'],
      ['2026-03-15', '2026-04-14'],
    ]);
    expect(periodsDue({ ...monthly15, billedThrough: '2026-03-14' }, '2026-03-20').map(span)).toEqual([['2026-03-15', '2026-04-14']]);
    expect(periodsDue({ ...monthly15, billedThrough: '2026-04-14' }, '2026-03-20')).toEqual([]);
    expect(periodsDue({ ...monthly15, billedThrough: null }, '2026-01-14')).toEqual([]);
  });

  it('on the last day of the month, February included', () => {
    const s: BillingSchedule = { frequency: BillingFrequency.MONTHLY, billingDay: null, startDate: '2026-01-31', endDate: null };
    expect(periodsDue({ ...s, billedThrough: null }, '2026-03-31').map(span)).toEqual([
      ['2026-01-31', '2026-02-27'],
      ['2026-02-28', '2026-03-30'],
      ['2026-03-31', '2026-04-29'],
    ]);
  });

  it('quarterly, clipped to the end date: the last period may be short and none starts after it', () => {
    const s: BillingSchedule = { frequency: BillingFrequency.QUARTERLY, billingDay: 1, startDate: '2026-01-01', endDate: '2026-08-15' };
    expect(periodsDue({ ...s, billedThrough: null }, '2030-01-01').map(span)).toEqual([
      ['2026-01-01', '2026-03-31'],
      ['2026-04-01', '2026-06-30'],
      ['2026-07-01', '2026-08-15'],
    ]);
  });

  it('annual and semi-annual periods cross year ends', () => {
    const annual: BillingSchedule = { frequency: BillingFrequency.ANNUAL, billingDay: 10, startDate: '2026-06-10', endDate: null };
    expect(periodsDue({ ...annual, billedThrough: '2027-06-09' }, '2028-06-10').map(span)).toEqual([
      ['2027-06-10', '2028-06-09'],
      ['2028-06-10', '2029-06-09'],
    ]);
    const semi: BillingSchedule = { frequency: BillingFrequency.SEMI_ANNUAL, billingDay: 1, startDate: '2026-09-01', endDate: null };
    expect(periodsDue({ ...semi, billedThrough: null }, '2027-03-01').map(span)).toEqual([
      ['2026-09-01', '2027-02-28'],
      ['2027-03-01', '2027-08-31'],
    ]);
  });

  const schedules = fc
    .record({
      frequency: fc.constantFrom(...Object.values(BillingFrequency)),
      billingDay: fc.option(fc.integer({ min: 1, max: 28 }), { nil: null }),
      year: fc.integer({ min: 2020, max: 2035 }),
      month: fc.integer({ min: 1, max: 12 }),
      endAfterDays: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
    })
    .map(({ frequency, billingDay, year, month, endAfterDays }): BillingSchedule => {
      const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
      const startDate = `${year}-${String(month).padStart(2, '0')}-${String(billingDay ?? last).padStart(2, '0')}`;
      return { frequency, billingDay, startDate, endDate: endAfterDays === null ? null : addDays(startDate, endAfterDays) };
    });
  const offset = fc.integer({ min: -40, max: 4000 });

  it('property: billed in two steps is billed once, with no gap and no overlap, every period starting on the billing day', () => {
    fc.assert(
      fc.property(schedules, offset, offset, (s, a, b) => {
        const [first, second] = [addDays(s.startDate, Math.min(a, b)), addDays(s.startDate, Math.max(a, b))];
        const all = periodsDue({ ...s, billedThrough: null }, second);
        const step1 = periodsDue({ ...s, billedThrough: null }, first);
        const billedThrough = step1.length ? step1[step1.length - 1]!.end : null;
        const step2 = periodsDue({ ...s, billedThrough }, second);
        expect([...step1, ...step2]).toEqual(all);

        all.forEach((p, i) => {
          expect(p.start <= p.end).toBe(true);
          expect(p.start <= second).toBe(true);
          expect(isOnBillingDay(p.start, s.billingDay)).toBe(true);
          if (i === 0) expect(p.start).toBe(s.startDate);
          else expect(p.start).toBe(addDays(all[i - 1]!.end, 1));
          if (s.endDate) expect(p.end <= s.endDate).toBe(true);
        });
        // Nothing due is left out: the next period starts after the date (or after the end date).
        const next = periodsDue({ ...s, billedThrough: all.length ? all[all.length - 1]!.end : null }, addDays(second, 4000), 1)[0];
        if (next) expect(next.start > second).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: the upcoming periods start with the one containing the date and follow each other', () => {
    fc.assert(
      fc.property(schedules, offset, (s, d) => {
        const date = addDays(s.startDate, d);
        const next = upcomingPeriods(s, date, 3);
        if (next.length) expect(next[0]!.end >= date).toBe(true);
        if (next.length && date >= s.startDate) expect(next[0]!.start <= date).toBe(true);
        next.slice(1).forEach((p, i) => expect(p.start).toBe(addDays(next[i]!.end, 1)));
      }),
    );
  });
});

describe('renewalDates', () => {
  it('starts on the first billing day after the end and runs as many periods', () => {
    expect(renewalDates({ frequency: BillingFrequency.MONTHLY, billingDay: 1, startDate: '2026-01-01', endDate: '2026-12-31' })).toEqual({
      startDate: '2027-01-01',
      endDate: '2027-12-31',
    });
    expect(renewalDates({ frequency: BillingFrequency.QUARTERLY, billingDay: 15, startDate: '2026-01-15', endDate: '2026-07-14' })).toEqual({
      startDate: '2026-07-15',
      endDate: '2027-01-14',
    });
    expect(renewalDates({ frequency: BillingFrequency.MONTHLY, billingDay: 1, startDate: '2026-01-01', endDate: null })).toBeNull();
  });
});
