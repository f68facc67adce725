import { registerEnumType } from '@nestjs/graphql';

/*
 * The calendar of an agreement, with no I/O. Dates are calendar dates (YYYY-MM-DD) in the organization's time zone.
 *
 * The billing anchor is a day of the month: 1 to 28, or the last day of the month (`billingDay: null`), so that every
 * month has it. An agreement starts ON its billing day, so every period is a whole one:
 *
 *     period k = [ anchor(start month + k × n), anchor(start month + (k + 1) × n) − 1 day ]     n = 1, 3, 6 or 12 months
 *
 * clipped to the end date when there is one (the last period may be shorter; none starts after the end date).
 * Periods are billed in advance: a period is due once it has started. `billedThrough` is the end of the last billed
 * period, so what is due up to a date is every period that starts after billedThrough and on or before that date.
 */

export enum BillingFrequency {
  MONTHLY = 'MONTHLY',
  QUARTERLY = 'QUARTERLY',
  SEMI_ANNUAL = 'SEMI_ANNUAL',
  ANNUAL = 'ANNUAL',
}
registerEnumType(BillingFrequency, { name: 'BillingFrequency' });

export const MONTHS_PER_PERIOD: Record<BillingFrequency, number> = {
  MONTHLY: 1,
  QUARTERLY: 3,
  SEMI_ANNUAL: 6,
  ANNUAL: 12,
};

export interface BillingSchedule {
  frequency: BillingFrequency;
  /** 1–28; null: the last day of the month. */
  billingDay: number | null;
  startDate: string;
  /** Inclusive; null: open-ended (bills until closed). */
  endDate: string | null;
}

export interface BillingPeriod {
  /** 0 for the first period. */
  index: number;
  start: string;
  /** Inclusive. */
  end: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parts(date: string): [number, number, number] {
  const m = DATE.exec(date);
  if (!m) throw new Error(`Not a calendar date: ${date}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string' || !DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Months since year 0: a month index that adds up (January 2026 + 12 = January 2027). */
function monthIndex(date: string): number {
  const [y, m] = parts(date);
  return y * 12 + (m - 1);
}

/** The billing day of the month with this index, as a date. */
function anchorAt(index: number, billingDay: number | null): string {
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const day = billingDay ?? daysInMonth(year, month);
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

export function isLastDayOfMonth(date: string): boolean {
  const [y, m, d] = parts(date);
  return d === daysInMonth(y, m);
}

/** Whether a date falls on the billing day (1–28, or null: the last day of its month). */
export function isOnBillingDay(date: string, billingDay: number | null): boolean {
  return billingDay === null ? isLastDayOfMonth(date) : parts(date)[2] === billingDay;
}

/**
 * The billing day a start date implies: its day of the month when 1–28, null (the last day) when it is the last
 * day of its month, and undefined for the 29th–30th of a longer month (not every month has them).
 */
export function billingDayOf(startDate: string): number | null | undefined {
  const day = parts(startDate)[2];
  if (day <= 28) return day;
  return isLastDayOfMonth(startDate) ? null : undefined;
}

/** Period k of the schedule, or null when it would start after the end date. */
export function periodAt(s: BillingSchedule, index: number): BillingPeriod | null {
  const n = MONTHS_PER_PERIOD[s.frequency];
  const first = monthIndex(s.startDate);
  const start = anchorAt(first + index * n, s.billingDay);
  if (s.endDate !== null && start > s.endDate) return null;
  let end = addDays(anchorAt(first + (index + 1) * n, s.billingDay), -1);
  if (s.endDate !== null && end > s.endDate) end = s.endDate;
  return { index, start, end };
}

/** The index of the first period that ends on or after `date` (a guess from the month, then corrected). */
function firstIndexEndingOnOrAfter(s: BillingSchedule, date: string): number {
  const n = MONTHS_PER_PERIOD[s.frequency];
  let k = Math.max(0, Math.floor((monthIndex(date) - monthIndex(s.startDate)) / n) - 1);
  for (;;) {
    const p = periodAt(s, k);
    if (p === null || p.end >= date) return k;
    k += 1;
  }
}

export interface PeriodsDueInput extends BillingSchedule {
  /** The end of the last billed period; null when nothing was billed. */
  billedThrough: string | null;
}

/**
 * The periods not billed yet that have started on or before `upTo`, oldest first. A period is billed in advance,
 * on its first day. `limit` caps a very late catch-up (the billing run bills the rest next time).
 */
export function periodsDue(agreement: PeriodsDueInput, upTo: string, limit = 1000): BillingPeriod[] {
  const due: BillingPeriod[] = [];
  let k = agreement.billedThrough === null ? 0 : firstIndexEndingOnOrAfter(agreement, addDays(agreement.billedThrough, 1));
  for (; due.length < limit; k += 1) {
    const p = periodAt(agreement, k);
    if (p === null || p.start > upTo) break;
    if (agreement.billedThrough !== null && p.start <= agreement.billedThrough) continue;
    due.push(p);
  }
  return due;
}

/** The current period (the one containing `date`, or the first when it has not started) and the ones after it. */
export function upcomingPeriods(s: BillingSchedule, date: string, count: number): BillingPeriod[] {
  const out: BillingPeriod[] = [];
  for (let k = firstIndexEndingOnOrAfter(s, date); out.length < count; k += 1) {
    const p = periodAt(s, k);
    if (p === null) break;
    out.push(p);
  }
  return out;
}

/** How many periods an agreement with an end date has (null for an open-ended one). */
export function periodCount(s: BillingSchedule): number | null {
  if (s.endDate === null) return null;
  const last = firstIndexEndingOnOrAfter(s, s.endDate);
  return periodAt(s, last) === null ? last : last + 1;
}

/**
 * The dates of a renewal: it starts on the first billing day after the old end date and runs as many periods as the
 * old one did. An open-ended schedule has no renewal (null).
 */
export function renewalDates(s: BillingSchedule): { startDate: string; endDate: string } | null {
  const count = periodCount(s);
  if (s.endDate === null || count === null) return null;
  const n = MONTHS_PER_PERIOD[s.frequency];
  const after = addDays(s.endDate, 1);
  let index = monthIndex(after);
  if (anchorAt(index, s.billingDay) < after) index += 1;
  const startDate = anchorAt(index, s.billingDay);
  const endDate = addDays(anchorAt(index + Math.max(1, count) * n, s.billingDay), -1);
  return { startDate, endDate };
}

/** "the 15th", "the last day". */
export function describeBillingDay(billingDay: number | null): string {
  if (billingDay === null) return 'the last day';
  const suffix = billingDay % 10 === 1 && billingDay !== 11 ? 'st' : billingDay % 10 === 2 && billingDay !== 12 ? 'nd' : billingDay % 10 === 3 && billingDay !== 13 ? 'rd' : 'th';
  return `the ${billingDay}${suffix}`;
}
