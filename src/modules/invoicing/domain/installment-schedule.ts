import { Money } from '#libs/money/index.js';

/** How often installments fall due. */
export type InstallmentInterval = 'WEEKLY' | 'BIWEEKLY' | 'MONTHLY';

/** One planned payment: a calendar date (YYYY-MM-DD, the organization's time zone) and an amount. */
export interface PlannedInstallment {
  sequence: number;
  dueOn: string;
  amount: Money;
}

export class InstallmentScheduleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InstallmentScheduleError';
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const MAX_INSTALLMENTS = 60;

/**
 * Equal installments of a total: `count` parts as equal as possible, the first ones taking the leftover cents
 * (100.00 in 3 is 33.34, 33.33, 33.33), so the parts always add up to the total and the order is deterministic.
 * Monthly dates keep the first date's day of the month where the month has it, else its last day (Jan 31, Feb 28,
 * Mar 31, ...): anchored on the first date, never drifting.
 */
export function equalInstallments(total: Money, count: number, firstDueOn: string, interval: InstallmentInterval): PlannedInstallment[] {
  if (!total.isPositive()) throw new InstallmentScheduleError('total', 'must be more than zero');
  if (!Number.isInteger(count) || count < 2 || count > MAX_INSTALLMENTS) {
    throw new InstallmentScheduleError('count', `must be a whole number from 2 to ${MAX_INSTALLMENTS}`);
  }
  if (total.amount < BigInt(count)) {
    throw new InstallmentScheduleError('count', `${total.amount} minor units cannot be split into ${count} installments of at least one`);
  }
  const start = parseDate(firstDueOn, 'firstDueOn');
  return total.split(count).map((amount, i) => ({ sequence: i + 1, dueOn: addInterval(start, interval, i), amount }));
}

/**
 * Installments given one by one: they must add up to the total exactly, each be positive, and fall on strictly
 * increasing dates. Returned in date order.
 */
export function customInstallments(total: Money, parts: { dueOn: string; amount: Money }[]): PlannedInstallment[] {
  if (parts.length < 1 || parts.length > MAX_INSTALLMENTS) {
    throw new InstallmentScheduleError('installments', `must list 1 to ${MAX_INSTALLMENTS} installments`);
  }
  parts.forEach((p, i) => {
    parseDate(p.dueOn, `installments.${i}.dueOn`);
    if (p.amount.currency !== total.currency) {
      throw new InstallmentScheduleError(`installments.${i}.amount`, `is in ${p.amount.currency}, the total is in ${total.currency}`);
    }
    if (!p.amount.isPositive()) throw new InstallmentScheduleError(`installments.${i}.amount`, 'must be more than zero');
    if (i > 0 && p.dueOn <= parts[i - 1]!.dueOn) {
      throw new InstallmentScheduleError(`installments.${i}.dueOn`, `must be after ${parts[i - 1]!.dueOn}`);
    }
  });
  const sum = Money.sum(
    parts.map((p) => p.amount),
    total.currency,
  );
  if (!sum.equals(total)) {
    throw new InstallmentScheduleError(
      'installments',
      `add up to ${sum.format('en-US')} but the total is ${total.format('en-US')}; the difference is ${total.subtract(sum).format('en-US')}`,
    );
  }
  return parts.map((p, i) => ({ sequence: i + 1, dueOn: p.dueOn, amount: p.amount }));
}

function parseDate(value: string, field: string): { y: number; m: number; d: number } {
  const match = DATE.exec(value);
  if (!match) throw new InstallmentScheduleError(field, `must be a date as YYYY-MM-DD, got "${value}"`);
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) throw new InstallmentScheduleError(field, `${value} is not a calendar date`);
  return { y, m, d };
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function addInterval(start: { y: number; m: number; d: number }, interval: InstallmentInterval, steps: number): string {
  if (interval === 'MONTHLY') {
    const months = start.m - 1 + steps;
    const y = start.y + Math.floor(months / 12);
    const m = (months % 12) + 1;
    return iso(y, m, Math.min(start.d, daysIn(y, m)));
  }
  const days = steps * (interval === 'WEEKLY' ? 7 : 14);
  const date = new Date(Date.UTC(start.y, start.m - 1, start.d + days));
  return iso(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
}

function iso(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
