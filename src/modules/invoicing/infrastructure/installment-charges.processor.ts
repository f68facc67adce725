import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { InstallmentCharges, type InstallmentRun } from '../application/installment-charges.js';

export const INSTALLMENT_CHARGES_QUEUE = 'invoicing-installments';
/**
 * Every day at 12:00 UTC: the same calendar day from UTC-11 to UTC+11, morning in the Americas. Each organization's
 * installments due on or before its own today are charged.
 */
export const INSTALLMENT_CHARGES_CRON = '0 12 * * *';

/**
 * The daily installment charge run. A repeatable job runs on one worker at a time, but nothing depends on that: the
 * run claims each installment with a conditional update before charging it, so overlapping runs charge it once.
 */
@Processor(INSTALLMENT_CHARGES_QUEUE)
export class InstallmentChargesProcessor {
  constructor(private readonly charges: InstallmentCharges) {}

  @Process()
  run(): Promise<InstallmentRun> {
    return this.charges.runDue();
  }
}

@Injectable()
export class InstallmentChargesSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(INSTALLMENT_CHARGES_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { cron: INSTALLMENT_CHARGES_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
