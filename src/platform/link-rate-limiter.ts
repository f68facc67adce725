import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/index.js';
import { REDIS } from '../infra/redis.js';

/** Unknown links a client address may try per window before a hosted page stops looking them up. */
export const MAX_UNKNOWN_LINKS = 20;
export const UNKNOWN_LINKS_WINDOW_SECONDS = 600;

/**
 * Tokens have 256 bits, so guessing one is hopeless; this only keeps a scanner from costing us a database lookup per
 * guess. Counted per client address in Redis (shared by every API process), only for links that found nothing.
 * Each hosted page has its own scope (the Redis key's middle part): see ScopedLinkRateLimiter.
 */
export abstract class LinkRateLimiter {
  protected constructor(
    private readonly redis: Redis,
    private readonly config: AppConfig,
    private readonly scope: string,
  ) {}

  /** Seconds to wait, or 0 when the address may look a link up. Fails open when Redis does not answer. */
  async retryAfter(ip: string): Promise<number> {
    try {
      const count = Number((await this.redis.get(this.key(ip))) ?? 0);
      if (count < MAX_UNKNOWN_LINKS) return 0;
      return Math.max(1, await this.redis.ttl(this.key(ip)));
    } catch {
      return 0;
    }
  }

  async recordMiss(ip: string): Promise<void> {
    try {
      await this.redis.multi().incr(this.key(ip)).expire(this.key(ip), UNKNOWN_LINKS_WINDOW_SECONDS, 'NX').exec();
    } catch {
      // Best effort: a Redis outage must not take the hosted page down.
    }
  }

  private key(ip: string): string {
    return `${this.config.queuePrefix}:${this.scope}:miss:${ip}`;
  }
}

/**
 * The injectable LinkRateLimiter of one hosted page's scope; the page names its provider by subclassing it:
 * `@Injectable() export class PayLinkRateLimiter extends ScopedLinkRateLimiter('pay-link') {}`.
 */
export function ScopedLinkRateLimiter(scope: string) {
  @Injectable()
  class ScopedLinkRateLimiterBase extends LinkRateLimiter {
    constructor(@Inject(REDIS) redis: Redis, config: AppConfig) {
      super(redis, config, scope);
    }
  }
  return ScopedLinkRateLimiterBase;
}
