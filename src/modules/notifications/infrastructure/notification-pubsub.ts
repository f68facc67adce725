import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';

/** What is pushed to a subscribed client: one in-app notification, as it was when it was created. */
export interface PushedNotification {
  id: string;
  organizationId: string;
  userId: string;
  title: string;
  body: string;
  link: string | null;
  createdAt: Date;
}

interface Listener {
  push(notification: PushedNotification): void;
  end(error?: Error): void;
}

/** A client that stops reading gets at most this many notifications buffered; older ones are dropped. */
const MAX_BUFFERED = 500;

/**
 * Cross-process pub/sub of in-app notifications on one Redis channel (`<QUEUE_PREFIX>:notifications`).
 * Any process publishes (the worker, after the notification is committed); every API process holds one subscriber
 * connection, opened on first use, and fans each message out to the local listeners of its user only.
 * Delivery is at most once per connected client: a client that was offline reads `myNotifications` instead.
 */
@Injectable()
export class NotificationPubSub implements OnApplicationShutdown {
  private readonly logger = new Logger(NotificationPubSub.name);
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscriber?: Redis;
  private ready?: Promise<void>;
  private closed = false;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(AppConfig) config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:notifications`;
  }

  async publish(notification: PushedNotification): Promise<void> {
    const { id, organizationId, userId, title, body, link, createdAt } = notification;
    await this.redis.publish(
      this.channel,
      JSON.stringify({ id, organizationId, userId, title, body, link, createdAt: createdAt.toISOString() }),
    );
  }

  /**
   * The notifications of one user, from now on, in this process. `return()` (the client unsubscribed or went away)
   * removes the listener. The iterator ends when the application shuts down, and throws if Redis cannot be subscribed.
   */
  subscribe(userId: string): AsyncIterableIterator<PushedNotification> {
    if (this.closed) throw new Error('NotificationPubSub is shut down');
    const buffer: PushedNotification[] = [];
    let waiting: { resolve: (r: IteratorResult<PushedNotification>) => void; reject: (e: Error) => void } | undefined;
    let finished = false;
    let failure: Error | undefined;

    const remove = () => {
      const set = this.listeners.get(userId);
      set?.delete(listener);
      if (set?.size === 0) this.listeners.delete(userId);
    };
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      failure = error;
      remove();
      buffer.length = 0;
      const w = waiting;
      waiting = undefined;
      if (w) {
        if (error) w.reject(error);
        else w.resolve({ value: undefined, done: true });
      }
    };
    const listener: Listener = {
      push: (notification) => {
        if (finished) return;
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w.resolve({ value: notification, done: false });
          return;
        }
        buffer.push(notification);
        if (buffer.length > MAX_BUFFERED) buffer.shift();
      },
      end: finish,
    };

    let set = this.listeners.get(userId);
    if (!set) this.listeners.set(userId, (set = new Set()));
    set.add(listener);
    const ready = this.connect().then(
      () => this.wake(userId),
      (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
    );

    const iterator: AsyncIterableIterator<PushedNotification> = {
      next: async () => {
        await ready;
        if (buffer.length) return { value: buffer.shift()!, done: false };
        if (finished) {
          if (failure) {
            const error = failure;
            failure = undefined;
            throw error;
          }
          return { value: undefined, done: true };
        }
        return new Promise<IteratorResult<PushedNotification>>((resolve, reject) => {
          waiting = { resolve, reject };
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

  /** How many subscriptions of this user are open in this process. */
  listenerCount(userId: string): number {
    return this.listeners.get(userId)?.size ?? 0;
  }

  /**
   * Resolves once `userId` has a subscription in this process and the Redis subscription is live. graphql-ws does not
   * acknowledge a subscription, so a client (a test) that must not miss the next notification waits for this.
   */
  whenSubscribed(userId: string, timeoutMs = 5_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.get(userId)?.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.get(userId)?.delete(done);
        reject(new Error(`No subscription of user ${userId} within ${timeoutMs} ms`));
      }, timeoutMs);
      let set = this.waiters.get(userId);
      if (!set) this.waiters.set(userId, (set = new Set()));
      set.add(done);
      if (this.listenerCount(userId) > 0 && this.ready) void this.ready.then(() => this.wake(userId), () => undefined);
    });
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
        // The next subscription tries again with a fresh connection.
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
    let notification: PushedNotification;
    try {
      const raw = JSON.parse(message) as Omit<PushedNotification, 'createdAt'> & { createdAt: string };
      if (typeof raw?.userId !== 'string' || typeof raw.id !== 'string') throw new Error('not a notification');
      notification = { ...raw, createdAt: new Date(raw.createdAt) };
    } catch {
      this.logger.warn(`Ignoring a malformed message on ${this.channel}`);
      return;
    }
    const set = this.listeners.get(notification.userId);
    if (!set) return;
    for (const listener of [...set]) listener.push(notification);
  }

  private wake(userId: string): void {
    if (this.listenerCount(userId) === 0) return;
    for (const done of [...(this.waiters.get(userId) ?? [])]) done();
  }
}
