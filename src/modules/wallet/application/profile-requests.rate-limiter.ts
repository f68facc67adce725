import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { LinkRateLimiter } from '../../../platform/link-rate-limiter.js';

export { MAX_UNKNOWN_LINKS, UNKNOWN_LINKS_WINDOW_SECONDS } from '../../../platform/link-rate-limiter.js';

/** Unknown payment profile request links (/p/…) per client address: see LinkRateLimiter. */
@Injectable()
export class ProfileLinkRateLimiter extends LinkRateLimiter {
  constructor(@Inject(REDIS) redis: Redis, config: AppConfig) {
    super(redis, config, 'profile-link');
  }
}
