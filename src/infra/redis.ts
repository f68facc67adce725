import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';

/** Injection token of the shared Redis client (rate limits, readiness). Bull keeps its own connections. */
export const REDIS = Symbol('REDIS');

export function createRedis(url: string): Redis {
  const redis = new Redis(url, {
    // While Redis is down a command fails within 2 s instead of waiting for it: callers answer an error, not a hang.
    commandTimeout: 2_000,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
  });
  // Without a listener ioredis prints every failed reconnection attempt as an "Unhandled error event" on stderr.
  // One warning per outage is enough (/ready reports it); ioredis keeps reconnecting by itself.
  const logger = new Logger('Redis');
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn(`Redis connection lost (${error.message}); reconnecting`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    logger.log('Redis connection back');
  });
  return redis;
}
