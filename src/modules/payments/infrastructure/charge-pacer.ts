import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { PaymentGateway } from '../../../infra/payment-gateway/index.js';
import { REDIS } from '../../../infra/redis.js';

/** A slot the pacer handed out: the Redis second it falls in, and how long the caller waited for it. */
export interface PaceGrant {
  /** Unix second (Redis's clock) of the slot. */
  second: number;
  waitedMs: number;
}

/**
 * Slack per second of slots: `budget` consecutive slots span 1 s plus this, so a request that reaches the gateway
 * up to this much later than its slot (network, a busy event loop) still does not make a one-second window at the
 * gateway hold more than the budget. Without it, pacing at exactly the gateway's limit turns every bit of jitter into
 * a 429 (measured: 160 of 1,000 charges at 25/s). 40 ms = 96 % of the budget.
 */
export const PACING_SLACK_MICROS = 40_000;

/** How long grant counts stay readable (grantsPerSecond). */
const ACCOUNTING_TTL_SECONDS = 3_600;

/**
 * Reserves the next free slot of the bucket (GCRA with no burst: slots at least `interval` µs apart), by Redis's
 * clock so every worker process agrees, and counts the grant under the slot's second. Returns { slot µs, wait µs }.
 * Numbers pass through string.format('%.0f') because tostring() of a µs timestamp in Lua 5.1 loses digits.
 */
const RESERVE = `
local interval = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.ceil(interval / 1000) + 60000)
local second = math.floor(slot / 1000000)
local counter = KEYS[2] .. ':' .. string.format('%.0f', second)
redis.call('INCR', counter)
redis.call('EXPIRE', counter, tonumber(ARGV[2]))
return { string.format('%.0f', second), string.format('%.0f', slot - now) }
`;

/**
 * Paces gateway charges to GATEWAY_CHARGES_PER_SECOND across every worker process: Stripe refuses bursts above
 * about 25 requests/s in test mode and 100/s live (429), and a mass charge or billing run of thousands would hit that
 * at once. Each charge first `acquire()`s a slot: slots are at least (1 s + PACING_SLACK_MICROS)/budget apart, so no
 * one-second span ever holds more than the budget, whichever processes asked, even when requests reach the gateway
 * a little after their slots (GATEWAY_CHARGES_PER_SECOND can be the gateway's exact limit). A caller whose slot lies
 * ahead sleeps until it. A 429 retry of a charge also takes a slot (PaymentGateway.paceRateLimitRetries).
 *
 * The bucket is per gateway account, not per organization: all organizations charge through one Stripe account
 * (one STRIPE_SECRET_KEY), and it is the account Stripe limits. Grants are counted per second in Redis (kept an
 * hour) for operators and tests: `grantsPerSecond`.
 *
 * Wall time (Redis's clock), not the injected Clock: a rate limit is about real seconds, and tests freeze the Clock.
 */
@Injectable()
export class ChargePacer {
  /** Charges per second allowed. */
  readonly budget: number;
  private readonly key: string;
  private readonly intervalMicros: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(AppConfig) config: AppConfig,
    gateway: PaymentGateway,
  ) {
    this.key = `${config.queuePrefix}:charge-pacer:${gateway.name}`;
    this.budget = config.gatewayPacing.chargesPerSecond;
    this.intervalMicros = Math.ceil((1_000_000 + PACING_SLACK_MICROS) / this.budget);
    // A charge the gateway refused for the rate (429) is retried in a slot of its own, not on a timer of its own.
    gateway.paceRateLimitRetries(() => this.acquire());
  }

  /** Waits for this caller's slot; call right before each gateway charge. */
  async acquire(): Promise<PaceGrant> {
    const [second, waitMicros] = (await this.redis.eval(
      RESERVE,
      2,
      this.key,
      `${this.key}:granted`,
      String(this.intervalMicros),
      String(ACCOUNTING_TTL_SECONDS),
    )) as [string, string];
    const waitedMs = Math.ceil(Number(waitMicros) / 1000);
    if (waitedMs > 0) await new Promise((resolve) => setTimeout(resolve, waitedMs));
    return { second: Number(second), waitedMs };
  }

  /** How many slots were granted in each of these Unix seconds (the pacer's own accounting). */
  async grantsPerSecond(seconds: readonly number[]): Promise<Map<number, number>> {
    if (!seconds.length) return new Map();
    const counts = await this.redis.mget(seconds.map((s) => `${this.key}:granted:${s}`));
    return new Map(seconds.map((s, i) => [s, Number(counts[i] ?? 0)]));
  }
}
