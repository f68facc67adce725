import { nextAttemptAt, RETRY_WINDOW_MS } from './retry-policy.js';

describe('webhook retry policy', () => {
  const start = new Date('2026-03-01T00:00:00Z');
  const at = (ms: number) => new Date(start.getTime() + ms);

  it('backs off 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then daily, and ends with one try at the 3-day mark', () => {
    const times: number[] = [0];
    for (let n = 1; ; n++) {
      const next = nextAttemptAt(n, start, at(times[times.length - 1]!));
      if (!next) break;
      times.push(next.getTime() - start.getTime());
    }
    const minutes = times.map((t) => t / 60_000);
    expect(minutes).toEqual([0, 1, 6, 36, 156, 516, 1236, 2676, 4116, 4320]);
    expect(times[times.length - 1]).toBe(RETRY_WINDOW_MS);
  });

  it('gives up once the window is over', () => {
    expect(nextAttemptAt(3, start, at(RETRY_WINDOW_MS))).toBeNull();
    expect(nextAttemptAt(1, start, at(RETRY_WINDOW_MS - 1))?.getTime()).toBe(start.getTime() + RETRY_WINDOW_MS);
  });
});
