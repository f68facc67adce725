import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { BillingRunRunner } from '../application/billing-run-runner.js';
import { BillingRuns } from '../application/billing-runs.use-case.js';
import { BILLING_RUN_QUEUE, type BatchJob, BillingRunQueue, type PlanJob } from './billing-run.queue.js';

/** Every hour on the hour: each organization with automatic billing runs once a day, after its hour (its time zone). */
export const BILLING_SCHEDULE_CRON = '0 * * * *';
/** Batch jobs per worker process at once (one holds a transaction while the other talks to the gateway). */
export const BILLING_BATCH_CONCURRENCY = 2;

@Processor(BILLING_RUN_QUEUE)
export class BillingRunProcessor {
  constructor(
    private readonly runner: BillingRunRunner,
    private readonly queue: BillingRunQueue,
    private readonly runs: BillingRuns,
  ) {}

  /** Fixes the run's agreements into batches (once) and enqueues a job per batch still to bill. */
  @Process('plan')
  async plan(job: Job<PlanJob>): Promise<number> {
    const seqs = await this.runner.plan(job.data.organizationId, job.data.runId);
    await this.queue.batches(job.data.organizationId, job.data.runId, seqs);
    return seqs.length;
  }

  @Process({ name: 'batch', concurrency: BILLING_BATCH_CONCURRENCY })
  async batch(job: Job<BatchJob>): Promise<void> {
    await this.runner.billBatch(job.data.organizationId, job.data.runId, job.data.seq);
  }

  /** The hourly tick of scheduled runs (agreement_billing_settings). */
  @Process('schedule')
  async schedule(): Promise<number> {
    return this.runs.startScheduled();
  }
}

/**
 * Adds the hourly repeatable tick (role `schedule`), again whenever Redis comes back empty; then, and at start,
 * re-enqueues the jobs of unfinished runs that Redis lost (BillingRuns.resumeLost).
 */
@Injectable()
export class BillingRunSchedule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(BILLING_RUN_QUEUE) private readonly queue: Queue,
    private readonly runs: BillingRuns,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    void this.runs.resumeLost().catch(() => undefined);
    this.queue.client.on('ready', () => void this.schedule().then(() => this.runs.resumeLost()).catch(() => undefined));
  }

  private schedule() {
    return this.queue.add('schedule', {}, { repeat: { cron: BILLING_SCHEDULE_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
