import { Logger } from '@nestjs/common';
import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OutboxDeliveryService } from './outbox-delivery.service.js';
import { OutboxRelay } from './outbox-relay.js';
import { type DeliveryJob, OUTBOX_QUEUE, OUTBOX_RELAY_QUEUE } from './outbox.constants.js';

@Processor(OUTBOX_QUEUE)
export class OutboxDeliveryProcessor {
  constructor(private readonly deliveries: OutboxDeliveryService) {}

  @Process({ concurrency: 4 })
  async deliver(job: Job<DeliveryJob>): Promise<string> {
    return this.deliveries.deliver(job.data, job.attemptsMade + 1, job.opts.attempts ?? 1);
  }
}

/** The relay runs as a repeatable Bull job, so exactly one worker runs each tick however many workers there are. */
@Processor(OUTBOX_RELAY_QUEUE)
export class OutboxRelayProcessor {
  private readonly logger = new Logger(OutboxRelayProcessor.name);

  constructor(private readonly relay: OutboxRelay) {}

  @Process()
  async tick(): Promise<number> {
    let total = 0;
    // Drain what is there now, in batches, rather than one batch per tick.
    for (let n = await this.relay.relayOnce(); n > 0; n = await this.relay.relayOnce()) total += n;
    if (total) this.logger.debug(`published ${total} events`);
    return total;
  }
}
