import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { PaymentRequestExpiry } from '../application/payment-request-expiry.js';

export const PAYMENT_REQUEST_EXPIRY_QUEUE = 'payments-request-expiry';
/** Every 10 minutes: the lists catch up; the links themselves are checked against their expiry on every access. */
export const PAYMENT_REQUEST_EXPIRY_CRON = '*/10 * * * *';

@Processor(PAYMENT_REQUEST_EXPIRY_QUEUE)
export class PaymentRequestExpiryProcessor {
  constructor(private readonly expiry: PaymentRequestExpiry) {}

  @Process()
  run(): Promise<number> {
    return this.expiry.runDue();
  }
}

@Injectable()
export class PaymentRequestExpirySchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(PAYMENT_REQUEST_EXPIRY_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { cron: PAYMENT_REQUEST_EXPIRY_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
