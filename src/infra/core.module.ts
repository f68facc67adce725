import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Clock, SystemClock } from '#libs/ddd/index.js';
import { AppConfig } from '../config/index.js';
import { createRedis, REDIS } from './redis.js';

export interface CoreOptions {
  config: AppConfig;
  redisUrl: string;
  clock?: Clock;
  /** Called when the application shuts down, after everything else (stops services the process started). */
  onShutdown?: () => Promise<void>;
}

const SHUTDOWN = Symbol('SHUTDOWN');

class CoreLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SHUTDOWN) private readonly onShutdown: () => Promise<void>,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
    await this.onShutdown();
  }
}

/** Process-wide providers: configuration, clock and the shared Redis client. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreOptions): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: AppConfig, useValue: options.config },
        { provide: Clock, useValue: options.clock ?? new SystemClock() },
        { provide: REDIS, useFactory: () => createRedis(options.redisUrl) },
        { provide: SHUTDOWN, useValue: options.onShutdown ?? (async () => undefined) },
        CoreLifecycle,
      ],
      exports: [AppConfig, Clock, REDIS],
    };
  }
}
