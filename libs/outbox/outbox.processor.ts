import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { OutboxDeliveryService } from './outbox-delivery.service.js';
import { OutboxRelay } from './outbox-relay.js';
import { type DeliveryJob, OUTBOX_OPTIONS, OUTBOX_QUEUE, OUTBOX_RELAY_QUEUE, type OutboxOptions } from './outbox.constants.js';

/**
 * Hands queued deliveries to the delivery service, `concurrency` at a time per worker process (OUTBOX_CONCURRENCY,
 * default 4; on the 2-core machine 8 delivers no faster, the CPU is the limit: bench:deliveries). Registered with Bull
 * here rather than with `@Process`, whose concurrency is fixed when the class is declared.
 */
@Injectable()
export class OutboxDeliveryProcessor implements OnModuleInit {
  private readonly logger = new Logger(OutboxDeliveryProcessor.name);

  constructor(
    private readonly deliveries: OutboxDeliveryService,
    @InjectQueue(OUTBOX_QUEUE) private readonly queue: Queue<DeliveryJob>,
    @Inject(OUTBOX_OPTIONS) private readonly options: OutboxOptions,
  ) {}

  onModuleInit(): void {
    this.queue.process(this.options.concurrency, (job) => this.deliver(job)).catch((error: unknown) => {
      this.logger.error(`the delivery processor stopped: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  deliver(job: Job<DeliveryJob>): Promise<string> {
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
