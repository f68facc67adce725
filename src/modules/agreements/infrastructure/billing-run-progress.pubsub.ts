import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { BatchProgressPubSub } from '../../../platform/batch-progress.pubsub.js';
import type { BillingRunStatus } from '../domain/billing-run.entity.js';

/** The counters of a billing run as they were committed (`batchId` is the run's id). */
export interface BillingRunProgressEvent {
  organizationId: string;
  batchId: string;
  runId: string;
  status: BillingRunStatus;
  /** Agreements in the run. */
  total: number;
  agreementsDone: number;
  invoiced: number;
  charged: number;
  failed: number;
  skipped: number;
  upToDate: number;
}

/** Progress of billing runs across processes, on the Redis channel `<QUEUE_PREFIX>:billing-run-progress`. */
@Injectable()
export class BillingRunProgressPubSub extends BatchProgressPubSub<BillingRunProgressEvent> {
  constructor(@Inject(REDIS) redis: Redis, @Inject(AppConfig) config: AppConfig) {
    // Every counter only grows: their sum never goes backwards.
    super(redis, config, 'billing-run-progress', (e) => e.agreementsDone + e.invoiced + e.charged + e.failed + e.skipped);
  }
}
