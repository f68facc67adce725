import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { PaymentRetries, type PaymentRetryRun } from '../application/action-center-retries.js';

export const PAYMENT_RETRIES_QUEUE = 'payments-retries';
/** Every hour, at minute 7 (off the hour, when other jobs start): retries fall due at any time of day. */
export const PAYMENT_RETRIES_CRON = '7 * * * *';

/**
 * The hourly automatic retry run. Bull runs a repeatable job on one worker at a time, but nothing depends on that:
 * each payment is claimed with a conditional update before it is retried, so overlapping runs retry it once.
 */
@Processor(PAYMENT_RETRIES_QUEUE)
export class PaymentRetriesProcessor {
  constructor(private readonly retries: PaymentRetries) {}

  @Process()
  run(): Promise<PaymentRetryRun> {
    return this.retries.runDue();
  }
}

@Injectable()
export class PaymentRetriesSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(PAYMENT_RETRIES_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { cron: PAYMENT_RETRIES_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
