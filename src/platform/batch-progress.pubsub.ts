import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/index.js';

/** What every batch's progress message carries; each kind of batch adds its own counters. */
export interface BatchProgressEvent {
  organizationId: string;
  batchId: string;
  status: string;
  total: number;
}

interface Listener<E> {
  push(event: E): void;
  end(): void;
}

/** A client that stops reading keeps only the latest progress: older counters are superseded anyway. */
const MAX_BUFFERED = 50;

/**
 * Progress of queued batches (mass invoices, mass charges) across processes, on one Redis channel per kind of batch
 * (`<QUEUE_PREFIX>:<topic>`). The worker publishes after each committed item (throttled) and at the end; every API
 * process holds one subscriber connection per kind, opened on first use, and fans messages out to the local
 * listeners of that batch. At most once: a client that missed a message reads the batch (the subscription starts
 * with the current counters).
 *
 * Each kind subclasses it with its topic and how far a batch has got (`doneOf`), e.g. MassInvoiceProgressPubSub.
 * Not NotificationPubSub: that one is the notifications module's internals, keyed by user.
 */
export abstract class BatchProgressPubSub<E extends BatchProgressEvent> implements OnApplicationShutdown {
  private readonly logger = new Logger(this.constructor.name);
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<Listener<E>>>();
  private subscriber?: Redis;
  private ready?: Promise<void>;
  private closed = false;

  protected constructor(
    private readonly redis: Redis,
    config: AppConfig,
    topic: string,
    /** Items handled so far: what must never go backwards in what a subscriber sees. */
    private readonly doneOf: (event: E) => number,
  ) {
    this.channel = `${config.queuePrefix}:${topic}`;
  }

  /** Publishes the event as given: pass a plain object of the counters (it is sent as JSON). */
  async publish(event: E): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(event));
  }

  /**
   * Listens to one batch in this process. Resolves once the Redis subscription is live, so what the caller reads
   * from the database afterwards plus what the listener receives covers every later change.
   */
  async listen(batchId: string, listener: Listener<E>): Promise<() => void> {
    if (this.closed) throw new Error(`${this.constructor.name} is shut down`);
    let set = this.listeners.get(batchId);
    if (!set) this.listeners.set(batchId, (set = new Set()));
    set.add(listener);
    const remove = () => {
      const s = this.listeners.get(batchId);
      s?.delete(listener);
      if (s?.size === 0) this.listeners.delete(batchId);
    };
    try {
      await this.connect();
    } catch (error) {
      remove();
      throw error;
    }
    return remove;
  }

  /**
   * An async iterator over one batch's progress: `first` (the current counters, read once the subscription is live),
   * then every published change, ending after a finished status (or at shutdown). `return()` unsubscribes.
   */
  async subscribe(batchId: string, first: () => Promise<E>, isFinal: (e: E) => boolean): Promise<AsyncIterableIterator<E>> {
    const buffer: E[] = [];
    let waiting: ((r: IteratorResult<E>) => void) | undefined;
    let finished = false;
    let lastDone = -1;
    let remove = () => {};

    const finish = () => {
      if (finished) return;
      finished = true;
      remove();
      const w = waiting;
      waiting = undefined;
      w?.({ value: undefined, done: true });
    };
    const deliver = (event: E) => {
      if (finished) return;
      // Messages of concurrent publishers may arrive out of order: never show progress going backwards.
      const done = this.doneOf(event);
      if (done < lastDone && !isFinal(event)) return;
      lastDone = Math.max(lastDone, done);
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value: event, done: false });
      } else {
        buffer.push(event);
        if (buffer.length > MAX_BUFFERED) buffer.shift();
      }
    };
    // Ends the stream after its final event has been read.
    let endAfterNext = false;
    const listener: Listener<E> = {
      push: (event) => {
        if (endAfterNext) return;
        deliver(event);
        if (isFinal(event)) endAfterNext = true;
      },
      end: finish,
    };
    remove = await this.listen(batchId, listener);
    listener.push(await first());

    const iterator: AsyncIterableIterator<E> = {
      next: async () => {
        if (buffer.length) return { value: buffer.shift()!, done: false };
        if (finished || endAfterNext) {
          finish();
          return { value: undefined, done: true };
        }
        return new Promise<IteratorResult<E>>((resolve) => {
          waiting = resolve;
        });
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
      throw: async (error?: unknown) => {
        finish();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** How many listeners this process holds for a batch. */
  listenerCount(batchId: string): number {
    return this.listeners.get(batchId)?.size ?? 0;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const set of [...this.listeners.values()]) for (const listener of [...set]) listener.end();
    this.listeners.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.ready = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  /** One subscriber connection per process, opened on first use; ioredis resubscribes after a reconnect. */
  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.logger.warn(`Redis subscriber: ${error.message}`));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dispatch(message);
    });
    this.ready = subscriber.subscribe(this.channel).then(
      () => undefined,
      (error: unknown) => {
        if (this.subscriber === subscriber) {
          this.subscriber = undefined;
          this.ready = undefined;
        }
        subscriber.disconnect();
        throw error;
      },
    );
    return this.ready;
  }

  private dispatch(message: string): void {
    let event: E;
    try {
      event = JSON.parse(message) as E;
      if (typeof event?.batchId !== 'string' || typeof event.total !== 'number') throw new Error('not progress');
    } catch {
      this.logger.warn(`Ignoring a malformed message on ${this.channel}`);
      return;
    }
    for (const listener of [...(this.listeners.get(event.batchId) ?? [])]) listener.push(event);
  }
}
