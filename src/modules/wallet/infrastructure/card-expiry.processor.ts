import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { type CardExpiryRun, CardExpiryNotices } from '../application/card-expiry-notices.js';

export const CARD_EXPIRY_QUEUE = 'wallet-card-expiry';
/** Every day at 14:00 UTC: morning in the Americas, afternoon in Europe. */
export const CARD_EXPIRY_CRON = '0 14 * * *';

/** The daily card-expiry sweep. A repeatable job runs on one worker at a time; the sweep itself is safe to repeat. */
@Processor(CARD_EXPIRY_QUEUE)
export class CardExpiryProcessor {
  constructor(private readonly notices: CardExpiryNotices) {}

  @Process()
  sweep(): Promise<CardExpiryRun> {
    return this.notices.run();
  }
}

@Injectable()
export class CardExpirySchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(CARD_EXPIRY_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { cron: CARD_EXPIRY_CRON, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 50 });
  }
}
