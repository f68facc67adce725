import { Redis } from 'ioredis';

/** Injection token of the shared Redis client (rate limits, readiness). Bull keeps its own connections. */
export const REDIS = Symbol('REDIS');

export function createRedis(url: string): Redis {
  return new Redis(url, {
    // While Redis is down a command fails within 2 s instead of waiting for it: callers answer an error, not a hang.
    commandTimeout: 2_000,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
  });
}
