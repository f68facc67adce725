import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import type { Queue } from 'bull';

export const BILLING_RUN_QUEUE = 'agreements-billing-runs';

export interface PlanJob {
  organizationId: string;
  runId: string;
}
export interface BatchJob extends PlanJob {
  seq: number;
}

const RETRIES = { attempts: 8, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: true, removeOnFail: 100 } as const;

/**
 * The jobs of billing runs. Job ids only spare duplicate work while a job is alive; exactly-once lives in the
 * database (billed_period's unique key, the batches' DONE mark), so a job added twice, retried after a crash, or
 * re-added by resumeBillingRun after Redis lost everything bills nothing twice.
 */
@Injectable()
export class BillingRunQueue {
  constructor(@InjectQueue(BILLING_RUN_QUEUE) private readonly queue: Queue) {}

  async plan(organizationId: string, runId: string): Promise<void> {
    await this.queue.add('plan', { organizationId, runId } satisfies PlanJob, { ...RETRIES, jobId: `plan:${runId}:${Date.now()}` });
  }

  async batches(organizationId: string, runId: string, seqs: readonly number[]): Promise<void> {
    if (!seqs.length) return;
    await this.queue.addBulk(seqs.map((seq) => ({ name: 'batch', data: { organizationId, runId, seq } satisfies BatchJob, opts: { ...RETRIES } })));
  }
}

