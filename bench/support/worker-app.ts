// The app as a worker process runs it, inside the bench's process: what the billing, mass-charge, pacing and
// deliveries benchmarks drive through its own code.
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import type { FixedClock } from '#libs/ddd/index.js';
import { AppModule } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/index.js';

export type WorkerApp = Awaited<ReturnType<typeof NestFactory.createApplicationContext>>;

/**
 * Role worker, quiet, the sandbox gateway, a fresh JWT secret and queue prefix, on `databaseUrl` and `redisUrl`, with
 * the bench's clock and no scheduled jobs (the bench starts what it measures). `env` adds or overrides variables,
 * by the names production uses.
 */
export function startWorkerApp(options: { databaseUrl: string; redisUrl: string; clock: FixedClock; env?: Record<string, string> }): Promise<WorkerApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    SETTLE_ROLE: 'worker',
    LOG_LEVEL: 'silent',
    JWT_SECRET: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `settle-bench-${randomBytes(4).toString('hex')}`,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    PAYMENT_GATEWAY: 'sandbox',
    ...options.env,
  });
  return NestFactory.createApplicationContext(
    AppModule.forRoot({ config, databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, clock: options.clock, scheduleJobs: false }),
    { logger: false },
  );
}
