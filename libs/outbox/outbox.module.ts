import { type DynamicModule, Inject, Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullModule, InjectQueue } from '@nestjs/bull';
import type { Queue } from 'bull';
import { EventHandlerRegistry } from './event-handler.registry.js';
import { Outbox } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import { OutboxDeliveryService } from './outbox-delivery.service.js';
import { OutboxDeliveryProcessor, OutboxRelayProcessor } from './outbox.processor.js';
import { OUTBOX_OPTIONS, OUTBOX_QUEUE, OUTBOX_RELAY_QUEUE, type OutboxOptions } from './outbox.constants.js';

export interface OutboxModuleOptions extends OutboxOptions {
  /** Run the delivery and relay processors in this process (process role worker or all). */
  worker: boolean;
  /** Schedule the relay every `pollMs`. Tests turn it off and drain the outbox themselves. */
  scheduleRelay: boolean;
}

@Injectable()
class RelaySchedule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(OUTBOX_RELAY_QUEUE) private readonly queue: Queue,
    @Inject(OUTBOX_OPTIONS) private readonly options: OutboxOptions,
    private readonly relay: OutboxRelay,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    void this.relay.requeueUndelivered().catch(() => undefined);
    // A Redis that restarted empty forgot the schedule and the queued deliveries: add them again whenever the
    // connection comes back (deliveries keep their job ids, so those Redis still holds are not added twice).
    this.queue.client.on('ready', () => void this.schedule().then(() => this.relay.requeueUndelivered()).catch(() => undefined));
  }

  // Repeatable jobs are keyed by their repeat options, so every worker adding it schedules one job, not N.
  private schedule() {
    return this.queue.add({}, { repeat: { every: this.options.pollMs }, removeOnComplete: true, removeOnFail: true });
  }
}

@Module({})
export class OutboxModule {
  static forRoot(options: OutboxModuleOptions): DynamicModule {
    const { worker, scheduleRelay, ...outboxOptions } = options;
    return {
      module: OutboxModule,
      global: true,
      imports: [DiscoveryModule, BullModule.registerQueue({ name: OUTBOX_QUEUE }, { name: OUTBOX_RELAY_QUEUE })],
      providers: [
        { provide: OUTBOX_OPTIONS, useValue: outboxOptions },
        Outbox,
        EventHandlerRegistry,
        OutboxRelay,
        OutboxDeliveryService,
        ...(worker ? [OutboxDeliveryProcessor, OutboxRelayProcessor] : []),
        ...(worker && scheduleRelay ? [RelaySchedule] : []),
      ],
      exports: [Outbox, OutboxRelay, OutboxDeliveryService, EventHandlerRegistry, BullModule],
    };
  }
}
