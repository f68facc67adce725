import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { type DunningDailyRun, Dunning } from './dunning.js';

export const DUNNING_QUEUE = 'agreements-dunning';
/** Every day at 07:00 UTC (days unpaid grow with the calendar, not with events). */
export const DUNNING_CRON = '0 7 * * *';

/** The daily dunning evaluation. A repeatable job runs on one worker at a time; the evaluation is safe to repeat. */
@Processor(DUNNING_QUEUE)
export class DunningDailyProcessor {
  constructor(private readonly dunning: Dunning) {}

  @Process()
  run(): Promise<DunningDailyRun> {
    return this.dunning.runDaily();
  }
}

@Injectable()
export class DunningDailySchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(DUNNING_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { cron: DUNNING_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
