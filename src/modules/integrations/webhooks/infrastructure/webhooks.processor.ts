import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { WebhookDispatcher } from '../application/webhook-dispatcher.js';
import { OUTBOUND_WEBHOOKS_QUEUE, type SendJob, WEBHOOKS_SWEEP_EVERY_MS } from './webhooks.queue.js';

@Processor(OUTBOUND_WEBHOOKS_QUEUE)
export class WebhooksProcessor {
  constructor(private readonly dispatcher: WebhookDispatcher) {}

  /** One delivery, right after the event (or a replay). A row not committed yet fails the job, which is retried. */
  @Process({ name: 'send', concurrency: 4 })
  async send(job: Job<SendJob>): Promise<string> {
    const outcome = await this.dispatcher.send(job.data.deliveryId);
    if (outcome === 'missing') throw new Error(`Webhook delivery ${job.data.deliveryId} is not committed (yet)`);
    return outcome;
  }

  /** The repeatable sweep: retries that are due, and deliveries whose worker's lease ran out. */
  @Process('sweep')
  sweep(): Promise<number> {
    return this.dispatcher.dispatchAllDue();
  }
}

@Injectable()
export class WebhooksSweepSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(OUTBOUND_WEBHOOKS_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add('sweep', {}, { repeat: { every: WEBHOOKS_SWEEP_EVERY_MS }, removeOnComplete: true, removeOnFail: 50 });
  }
}
