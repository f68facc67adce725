import { BullModule } from '@nestjs/bull';
import type { DynamicModule, Provider, Type } from '@nestjs/common';

/**
 * One area of a large module (invoicing: invoices, reconciliation, installments, receipts, mass invoicing), with its
 * providers by process role: `providers` everywhere, `api` where GraphQL and the hosted routes are served, `worker`
 * where queues are processed, `schedule` where repeatable jobs are scheduled.
 */
export interface ModulePart {
  providers?: Provider[];
  api?: Provider[];
  controllers?: Type[];
  worker?: Provider[];
  schedule?: Provider[];
  /** Bull queues the part registers (in every role: the api role adds jobs, the worker processes them). */
  queues?: string[];
  /** Providers other modules may inject (through index.ts). */
  exports?: Provider[];
}

export interface ProcessRoleOptions {
  /** Serve GraphQL and the hosted routes (process role api or all). */
  api: boolean;
  /** Run the queue processors (process role worker or all). */
  worker: boolean;
  /** Schedule the repeatable jobs (tests run them themselves). */
  schedule: boolean;
}

/** The dynamic module made of these parts for the process role (global: its exports need no import). */
export function composeParts(
  module: Type,
  parts: readonly ModulePart[],
  options: ProcessRoleOptions,
  imports: NonNullable<DynamicModule['imports']>,
  global = false,
): DynamicModule {
  const pick = (key: 'providers' | 'api' | 'worker' | 'schedule' | 'exports'): Provider[] => parts.flatMap((p) => p[key] ?? []);
  return {
    module,
    global,
    imports: [...imports, ...parts.flatMap((p) => p.queues ?? []).map((name) => BullModule.registerQueue({ name }))],
    controllers: options.api ? parts.flatMap((p) => p.controllers ?? []) : [],
    providers: [
      ...pick('providers'),
      ...(options.api ? pick('api') : []),
      ...(options.worker ? pick('worker') : []),
      ...(options.worker && options.schedule ? pick('schedule') : []),
    ],
    exports: pick('exports'),
  };
}
