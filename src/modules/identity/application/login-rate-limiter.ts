import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';

/**
 * Fixed-window limit on failed logins, kept in Redis so that every API process shares it: per email and client
 * address (stops guessing one account's password), and a wider one per address (stops spraying many accounts).
 */
@Injectable()
export class LoginRateLimiter {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly config: AppConfig,
  ) {}

  async assertAllowed(email: string, ip: string): Promise<void> {
    const { loginMaxAttempts: max } = this.config.auth;
    const [account, address] = await this.redis.mget(this.accountKey(email, ip), this.addressKey(ip));
    const blocked =
      Number(account ?? 0) >= max ? this.accountKey(email, ip) : Number(address ?? 0) >= max * 10 ? this.addressKey(ip) : null;
    if (blocked) {
      const ttl = Math.max(1, await this.redis.ttl(blocked));
      throw new IdentityError(
        IdentityErrorReason.LOGIN_RATE_LIMITED,
        `Too many failed sign-in attempts: try again in ${ttl} seconds`,
        { retryAfterSeconds: ttl },
      );
    }
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    const window = this.config.auth.loginWindowSeconds;
    await this.redis
      .multi()
      .incr(this.accountKey(email, ip))
      .expire(this.accountKey(email, ip), window, 'NX')
      .incr(this.addressKey(ip))
      .expire(this.addressKey(ip), window, 'NX')
      .exec();
  }

  async recordSuccess(email: string, ip: string): Promise<void> {
    await this.redis.del(this.accountKey(email, ip));
  }

  // Emails are hashed so Redis holds no personal data.
  private accountKey(email: string, ip: string): string {
    return `${this.config.queuePrefix}:login:acct:${createHash('sha256').update(`${email}|${ip}`).digest('hex')}`;
  }

  private addressKey(ip: string): string {
    return `${this.config.queuePrefix}:login:ip:${ip}`;
  }
}
