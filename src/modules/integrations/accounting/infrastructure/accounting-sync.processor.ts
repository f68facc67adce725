import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { AccountingSyncRunner } from '../application/accounting-sync.runner.js';
import { ACCOUNTING_SYNC_QUEUE } from '../application/quickbooks-connection.js';

/** Every 15 seconds: the organizations with sync items due. */
export const ACCOUNTING_SYNC_EVERY_MS = 15_000;

/** Runs one organization's queue (after a reconnect or a retry) or, without one, the sweep of every due organization. */
@Processor(ACCOUNTING_SYNC_QUEUE)
export class AccountingSyncProcessor {
  constructor(private readonly runner: AccountingSyncRunner) {}

  @Process()
  async run(job: Job<{ organizationId?: string }>): Promise<unknown> {
    return job.data.organizationId ? this.runner.runOrganization(job.data.organizationId) : this.runner.runDue();
  }
}

@Injectable()
export class AccountingSyncSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(ACCOUNTING_SYNC_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { every: ACCOUNTING_SYNC_EVERY_MS }, jobId: 'accounting-sync-sweep', removeOnComplete: true, removeOnFail: 50 });
  }
}
