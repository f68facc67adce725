import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { BatchProgressPubSub } from '../../../platform/batch-progress.pubsub.js';
import type { MassInvoiceStatus } from '../domain/mass-invoice.entity.js';

/** The counters of a batch as they were committed. */
export interface MassInvoiceProgressEvent {
  organizationId: string;
  batchId: string;
  status: MassInvoiceStatus;
  total: number;
  invoiced: number;
  failed: number;
  skipped: number;
}

/** Progress of mass invoice batches across processes, on the Redis channel `<QUEUE_PREFIX>:mass-invoice-progress`. */
@Injectable()
export class MassInvoiceProgressPubSub extends BatchProgressPubSub<MassInvoiceProgressEvent> {
  constructor(@Inject(REDIS) redis: Redis, @Inject(AppConfig) config: AppConfig) {
    super(redis, config, 'mass-invoice-progress', (e) => e.invoiced + e.failed + e.skipped);
  }
}
