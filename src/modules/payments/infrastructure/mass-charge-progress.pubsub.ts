import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { BatchProgressPubSub } from '../../../platform/batch-progress.pubsub.js';
import type { MassChargeStatus } from '../domain/mass-charge.entity.js';

/** The counters of a mass charge as they were committed. */
export interface MassChargeProgressEvent {
  organizationId: string;
  batchId: string;
  status: MassChargeStatus;
  total: number;
  succeeded: number;
  processing: number;
  failed: number;
  skipped: number;
}

/** Progress of mass charges across processes, on the Redis channel `<QUEUE_PREFIX>:mass-charge-progress`. */
@Injectable()
export class MassChargeProgressPubSub extends BatchProgressPubSub<MassChargeProgressEvent> {
  constructor(@Inject(REDIS) redis: Redis, @Inject(AppConfig) config: AppConfig) {
    super(redis, config, 'mass-charge-progress', (e) => e.succeeded + e.processing + e.failed + e.skipped);
  }
}
