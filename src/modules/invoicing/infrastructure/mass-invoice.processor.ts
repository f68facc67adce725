import { Injectable } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { MassInvoiceRunner, type MassInvoiceRun } from '../application/mass-invoice-runner.js';

export const MASS_INVOICE_QUEUE = 'invoicing-mass-invoices';

export interface MassInvoiceJob {
  organizationId: string;
  batchId: string;
}

/**
 * Adds the job that works through a batch. Job ids are not used for idempotency (the database is): a second job for
 * the same batch, e.g. from resumeMassInvoice while the first is still alive, only finds the items already taken.
 */
@Injectable()
export class MassInvoiceQueue {
  constructor(@InjectQueue(MASS_INVOICE_QUEUE) private readonly queue: Queue<MassInvoiceJob>) {}

  async enqueue(organizationId: string, batchId: string): Promise<void> {
    await this.queue.add(
      { organizationId, batchId },
      // A job that fails on something other than a customer's own refusal (the database went away) is retried and
      // continues with the items still PENDING.
      { attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: true, removeOnFail: 100 },
    );
  }
}

/** Works through one batch per job. A worker that dies mid-job leaves a stalled job Bull hands to another worker. */
@Processor(MASS_INVOICE_QUEUE)
export class MassInvoiceProcessor {
  constructor(private readonly runner: MassInvoiceRunner) {}

  @Process()
  run(job: Job<MassInvoiceJob>): Promise<MassInvoiceRun> {
    return this.runner.run(job.data.organizationId, job.data.batchId);
  }
}
