import type { FieldProblem } from '#libs/ddd/index.js';

/** The limits of an organization's automatic retry schedule. */
export const RETRY_SCHEDULE_LIMITS = { minDay: 1, maxDay: 60, maxEntries: 10 } as const;

/** What is wrong with a retry schedule, naming `field` (empty: it is fine). Strictly increasing days, 1..60, at most 10. */
export function retryScheduleProblems(days: readonly number[], field = 'input.retryScheduleDays'): FieldProblem[] {
  const { minDay, maxDay, maxEntries } = RETRY_SCHEDULE_LIMITS;
  const problems: FieldProblem[] = [];
  if (days.length > maxEntries) problems.push({ field, message: `at most ${maxEntries} retry days, got ${days.length}` });
  days.forEach((day, i) => {
    if (!Number.isInteger(day) || day < minDay || day > maxDay) {
      problems.push({ field: `${field}[${i}]`, message: `must be a whole number of days from ${minDay} to ${maxDay}, got ${day}` });
    } else if (i > 0 && day <= days[i - 1]!) {
      problems.push({ field: `${field}[${i}]`, message: `days must be strictly increasing: day ${day} comes after day ${days[i - 1]}` });
    }
  });
  return problems;
}

export interface NextRetryInput {
  /** When the payment's first attempt failed: the schedule's days count from it. */
  firstFailedAt: Date;
  /** Attempts made so far, all failed (attempt n failed → the schedule's n-th entry). */
  attemptCount: number;
  scheduleDays: readonly number[];
  timeZone: string;
  now: Date;
}

/**
 * When the next automatic retry is due, or null when the schedule has no entry left. Attempt n failed → the retry
 * on day `schedule[n-1]` after the FIRST failure, at the first failure's local time of day in the organization's
 * time zone (a payment that failed at 10:20 in Montréal is retried at 10:20 Montréal time, across DST changes). An
 * entry already past (a manual retry failed late) is skipped: the next one still ahead is used, so a failed manual
 * retry never triggers an immediate automatic one.
 */
export function nextRetryAt({ firstFailedAt, attemptCount, scheduleDays, timeZone, now }: NextRetryInput): Date | null {
  const { date, msOfDay } = wallClock(firstFailedAt, timeZone);
  for (let i = Math.max(0, attemptCount - 1); i < scheduleDays.length; i++) {
    const at = instantAt(addDays(date, scheduleDays[i]!), msOfDay, timeZone);
    if (at.getTime() > now.getTime()) return at;
  }
  return null;
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** How far the time zone is ahead of UTC at `instant`, in ms. */
function offsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

/** The local date and time of day (ms since local midnight) of an instant. */
function wallClock(instant: Date, timeZone: string): { date: string; msOfDay: number } {
  const local = instant.getTime() + offsetMs(instant.getTime(), timeZone);
  const date = new Date(local).toISOString().slice(0, 10);
  return { date, msOfDay: local - Date.parse(`${date}T00:00:00Z`) };
}

/** The instant of a local date and time of day (twice: the offset may differ on either side of a DST change). */
function instantAt(date: string, msOfDay: number, timeZone: string): Date {
  const wall = Date.parse(`${date}T00:00:00Z`) + msOfDay;
  let instant = wall - offsetMs(wall, timeZone);
  instant = wall - offsetMs(instant, timeZone);
  return new Date(instant);
}
