import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { AppConfig } from '../../../config/index.js';
import { MessageDispatcher } from '../application/message-dispatcher.js';

export const NOTIFICATIONS_QUEUE = 'notifications-dispatch';

/** A repeatable job: one worker at a time drains the due messages, in batches. */
@Processor(NOTIFICATIONS_QUEUE)
export class DispatchProcessor {
  constructor(private readonly dispatcher: MessageDispatcher) {}

  @Process()
  async tick(): Promise<number> {
    let total = 0;
    for (let n = await this.dispatcher.dispatchDue(); n > 0; n = await this.dispatcher.dispatchDue()) total += n;
    return total;
  }
}

@Injectable()
export class DispatchSchedule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(NOTIFICATIONS_QUEUE) private readonly queue: Queue,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { every: this.config.notifications.pollMs }, removeOnComplete: true, removeOnFail: true });
  }
}
