import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { type JanitorRun, PaymentJanitor } from '../application/payment-janitor.js';
import { Refunds } from '../application/refunds.use-case.js';

export const PAYMENTS_JANITOR_QUEUE = 'payments-janitor';
/** Every minute: an unknown outcome is checked within about three minutes of the charge (grace + one period). */
export const PAYMENTS_JANITOR_EVERY_MS = 60_000;

/**
 * Runs the janitor: charges whose outcome is unknown, then refunds left PENDING by a crash or a timeout (both asked
 * again under their own idempotency keys, never made twice). A repeatable job runs on one worker at a time; a run is
 * safe to repeat or to overlap.
 */
@Processor(PAYMENTS_JANITOR_QUEUE)
export class PaymentJanitorProcessor {
  constructor(
    private readonly janitor: PaymentJanitor,
    private readonly refunds: Refunds,
  ) {}

  @Process()
  async sweep(): Promise<JanitorRun & { refundsResumed: number }> {
    const run = await this.janitor.runOnce();
    return { ...run, refundsResumed: await this.refunds.resumePendingRefunds() };
  }
}

@Injectable()
export class PaymentJanitorSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(PAYMENTS_JANITOR_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { every: PAYMENTS_JANITOR_EVERY_MS }, jobId: 'payments-janitor', removeOnComplete: true, removeOnFail: 50 });
  }
}
