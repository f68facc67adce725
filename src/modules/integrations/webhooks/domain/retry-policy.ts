const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
export const RETRY_DELAYS_MS = [1 * MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR] as const;

/** Retries stop this long after the first attempt (or the last replay). */
export const RETRY_WINDOW_MS = 72 * HOUR;

/**
 * When to try again after failed attempt number `attempt` (1-based) that ended at `now`, or null when the window is
 * over. The last retry is pulled in to the end of the window, so an endpoint that is down for 3 days gets one final
 * try at the 3-day mark: attempts at 0, 1 min, 6 min, 36 min, 2 h 36, 8 h 36, 20 h 36, 44 h 36, 68 h 36 and 72 h.
 */
export function nextAttemptAt(attempt: number, windowStartedAt: Date, now: Date): Date | null {
  const deadline = windowStartedAt.getTime() + RETRY_WINDOW_MS;
  if (now.getTime() >= deadline) return null;
  const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length) - 1]!;
  return new Date(Math.min(now.getTime() + delay, deadline));
}
