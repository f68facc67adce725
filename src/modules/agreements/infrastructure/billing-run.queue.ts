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

  /**
   * The runs with a planning job and the `<runId>:<seq>` of the batches with a job that Redis holds right now
   * (waiting, active, delayed or paused), to tell what a Redis restarted empty has lost.
   */
  async queued(): Promise<{ plans: Set<string>; batches: Set<string> }> {
    const jobs = await this.queue.getJobs(['waiting', 'active', 'delayed', 'paused']);
    const plans = new Set<string>();
    const batches = new Set<string>();
    for (const job of jobs) {
      if (!job) continue;
      if (job.name === 'plan') plans.add((job.data as PlanJob).runId);
      else if (job.name === 'batch') batches.add(`${(job.data as BatchJob).runId}:${(job.data as BatchJob).seq}`);
    }
    return { plans, batches };
  }

  async batches(organizationId: string, runId: string, seqs: readonly number[]): Promise<void> {
    if (!seqs.length) return;
    await this.queue.addBulk(seqs.map((seq) => ({ name: 'batch', data: { organizationId, runId, seq } satisfies BatchJob, opts: { ...RETRIES } })));
  }
}

