import { nextRetryAt, retryScheduleProblems } from './retry-schedule.js';

describe('the automatic retry schedule', () => {
  const firstFailedAt = new Date('2026-03-06T15:20:00Z'); // 10:20 in Montréal (EST)
  const base = { firstFailedAt, scheduleDays: [1, 3, 7], timeZone: 'America/Toronto', now: firstFailedAt };

  it('retries on days 1, 3 and 7 after the first failure, then stops', () => {
    expect(nextRetryAt({ ...base, attemptCount: 1 })).toEqual(new Date('2026-03-07T15:20:00Z'));
    expect(nextRetryAt({ ...base, attemptCount: 2, now: new Date('2026-03-07T15:20:00Z') })).toEqual(new Date('2026-03-09T14:20:00Z'));
    expect(nextRetryAt({ ...base, attemptCount: 3, now: new Date('2026-03-09T14:20:00Z') })).toEqual(new Date('2026-03-13T14:20:00Z'));
    expect(nextRetryAt({ ...base, attemptCount: 4, now: new Date('2026-03-13T14:20:00Z') })).toBeNull();
  });

  it('keeps the local time of day across a DST change (Montréal springs forward on 2026-03-08)', () => {
    // Day 3 is after the change: 10:20 EDT is 14:20 UTC, not 15:20.
    const at = nextRetryAt({ ...base, attemptCount: 2 })!;
    expect(at.toISOString()).toBe('2026-03-09T14:20:00.000Z');
  });

  it('skips an entry already past (a manual retry failed late) instead of retrying at once', () => {
    const now = new Date('2026-03-11T12:00:00Z'); // day 5
    expect(nextRetryAt({ ...base, attemptCount: 2, now })).toEqual(new Date('2026-03-13T14:20:00Z'));
    expect(nextRetryAt({ ...base, attemptCount: 2, now: new Date('2026-03-20T00:00:00Z') })).toBeNull();
  });

  it('has nothing to do with an empty schedule', () => {
    expect(nextRetryAt({ ...base, scheduleDays: [], attemptCount: 1 })).toBeNull();
  });

  it('validates schedules: strictly increasing whole days from 1 to 60, at most 10', () => {
    expect(retryScheduleProblems([1, 3, 7])).toEqual([]);
    expect(retryScheduleProblems([])).toEqual([]);
    expect(retryScheduleProblems([3, 3])).toEqual([{ field: 'input.retryScheduleDays[1]', message: expect.stringMatching(/strictly increasing/) }]);
    expect(retryScheduleProblems([0, 61, 2.5]).map((p) => p.field)).toEqual([
      'input.retryScheduleDays[0]',
      'input.retryScheduleDays[1]',
      'input.retryScheduleDays[2]',
    ]);
    expect(retryScheduleProblems([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])[0]).toEqual({
      field: 'input.retryScheduleDays',
      message: 'at most 10 retry days, got 11',
    });
  });
});
