/* global process */
// A Settle worker process (SETTLE_ROLE=worker) against a test's database and Redis prefix, for tests that kill it
// with SIGKILL. Env: DATABASE_URL, REDIS_URL, QUEUE_PREFIX, JWT_SECRET, CLOCK (ISO instant), BILLING_BATCH_SIZE.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
await import('reflect-metadata');
const { NestFactory } = await import('@nestjs/core');
const { FixedClock } = await import('../../libs/ddd/index.ts');
const { AppModule } = await import('../../src/app.module.ts');
const { loadConfig } = await import('../../src/config/index.ts');
const { BillingRunRunner } = await import('../../src/modules/agreements/application/billing-run-runner.ts');

const config = loadConfig({
  NODE_ENV: 'test',
  SETTLE_ROLE: 'worker',
  JWT_SECRET: process.env.JWT_SECRET,
  QUEUE_PREFIX: process.env.QUEUE_PREFIX,
  DATABASE_URL: process.env.DATABASE_URL,
  REDIS_URL: process.env.REDIS_URL,
  PAYMENT_GATEWAY: 'sandbox',
});
const app = await NestFactory.create(
  AppModule.forRoot({
    config,
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    clock: new FixedClock(process.env.CLOCK ?? new Date().toISOString()),
    scheduleJobs: false,
  }),
  { logger: false },
);
await app.init();
if (process.env.BILLING_BATCH_SIZE) app.get(BillingRunRunner).batchSize = Number(process.env.BILLING_BATCH_SIZE);
process.stdout.write('ready\n');
