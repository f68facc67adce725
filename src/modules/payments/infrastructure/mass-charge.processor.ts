import { Injectable } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { MassChargeRunner, type MassChargeRun } from '../application/mass-charge-runner.js';

export const MASS_CHARGE_QUEUE = 'payments-mass-charges';

export interface MassChargeJob {
  organizationId: string;
  batchId: string;
}

/**
 * Adds the job that works through a mass charge. Idempotency lives in the database and the payments' keys, not in
 * Bull job ids: a second job for the same batch (resumeMassCharge while the first is alive) finds the items taken.
 */
@Injectable()
export class MassChargeQueue {
  constructor(@InjectQueue(MASS_CHARGE_QUEUE) private readonly queue: Queue<MassChargeJob>) {}

  async enqueue(organizationId: string, batchId: string): Promise<void> {
    await this.queue.add(
      { organizationId, batchId },
      // A job that fails on something other than a customer's own refusal (the database went away) is retried and
      // continues with the items still PENDING or CHARGING.
      { attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: true, removeOnFail: 100 },
    );
  }
}

/** Works through one mass charge per job. A worker that dies mid-job leaves a stalled job Bull hands to another. */
@Processor(MASS_CHARGE_QUEUE)
export class MassChargeProcessor {
  constructor(private readonly runner: MassChargeRunner) {}

  @Process()
  run(job: Job<MassChargeJob>): Promise<MassChargeRun> {
    return this.runner.run(job.data.organizationId, job.data.batchId);
  }
}
