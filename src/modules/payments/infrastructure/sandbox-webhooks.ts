import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { Queue } from 'bull';
import { Clock } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { PaymentGateway, SandboxGateway, signWebhook } from '../../../infra/payment-gateway/index.js';

export const SANDBOX_WEBHOOKS_QUEUE = 'payments-sandbox-webhooks';
/** How often the sandbox looks for bank debits whose settle time has passed. */
export const SANDBOX_WEBHOOKS_EVERY_MS = 60_000;

export interface SandboxWebhookRun {
  /** Answered 2xx: not sent again. */
  delivered: number;
  /** Refused or unreachable: sent again on the next run (as Stripe retries). */
  failed: number;
}

/**
 * Sandbox mode's stand-in for Stripe's webhooks on bank debits: when a processing debit's settle time has passed
 * (SANDBOX_DEBIT_SETTLE_SECONDS by Settle's clock), the sandbox POSTs the signed payment_intent.succeeded /
 * payment_intent.payment_failed event to the app's own endpoint (PUBLIC_URL + /webhooks/payments) over real HTTP, so
 * it goes through the same controller and verification as Stripe's. Each debit's webhook is sent until it is answered
 * 2xx, then never again; its event id is stable, so a copy sent twice (two runs racing) is handled once by the inbox.
 * In Stripe mode this does nothing: Stripe sends its own webhooks, and the core's janitor covers lost ones.
 */
@Injectable()
export class SandboxWebhooks {
  private readonly logger = new Logger(SandboxWebhooks.name);

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.gateway instanceof SandboxGateway;
  }

  /** Delivers the webhooks due by `now`. `endpoint` overrides PUBLIC_URL + /webhooks/payments (tests: a random port). */
  async deliverDue(now: Date = this.clock.now(), options: { endpoint?: string; limit?: number } = {}): Promise<SandboxWebhookRun> {
    const run: SandboxWebhookRun = { delivered: 0, failed: 0 };
    if (!(this.gateway instanceof SandboxGateway)) return run;
    const sandbox = this.gateway;
    const endpoint = options.endpoint ?? `${this.config.http.publicUrl}/webhooks/payments`;
    const secret = sandbox.webhookSecret();
    for (const hook of await sandbox.settledDebitWebhooks(now, options.limit ?? 100)) {
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signWebhook(hook.body, secret, this.clock.now()) },
          body: hook.body,
          signal: AbortSignal.timeout(20_000),
        });
        if (!res.ok) throw new Error(`answered ${res.status}`);
        await sandbox.webhookDelivered(hook.chargeId);
        run.delivered += 1;
      } catch (error) {
        run.failed += 1;
        this.logger.warn(`sandbox webhook ${hook.eventId} (${hook.type}) for ${hook.chargeId} to ${endpoint} failed, retried on the next run: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return run;
  }
}

/** Runs deliverDue on a worker; a repeatable job, one run at a time per worker (overlaps are harmless anyway). */
@Processor(SANDBOX_WEBHOOKS_QUEUE)
export class SandboxWebhooksProcessor {
  constructor(private readonly webhooks: SandboxWebhooks) {}

  @Process()
  run(): Promise<SandboxWebhookRun> {
    return this.webhooks.deliverDue();
  }
}

/** Schedules the job every minute, only when the sandbox is the gateway. */
@Injectable()
export class SandboxWebhooksSchedule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(SANDBOX_WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly webhooks: SandboxWebhooks,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.webhooks.enabled) return;
    await this.schedule();
    // A Redis that restarted empty forgot the schedule: add it again whenever the connection comes back.
    this.queue.client.on('ready', () => void this.schedule().catch(() => undefined));
  }

  private schedule() {
    return this.queue.add({}, { repeat: { every: SANDBOX_WEBHOOKS_EVERY_MS }, removeOnComplete: true, removeOnFail: 50 });
  }
}
