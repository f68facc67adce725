import { Redis } from 'ioredis';

/** Injection token of the shared Redis client (rate limits, readiness). Bull keeps its own connections. */
export const REDIS = Symbol('REDIS');

export function createRedis(url: string): Redis {
  return new Redis(url, {
    // Fail a command fast while Redis is down instead of queueing it: callers answer an error, not a hang.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
  });
}
