/** Bull queue of the outbound webhooks: `send` jobs (one delivery, now) and the repeatable `sweep` (due retries). */
export const OUTBOUND_WEBHOOKS_QUEUE = 'outbound-webhooks';
/** How often the sweep looks for retries that are due (by Settle's clock). */
export const WEBHOOKS_SWEEP_EVERY_MS = 15_000;

export interface SendJob {
  deliveryId: string;
}

/**
 * A send job may run before the transaction that wrote its delivery has committed (the fan-out queues it inside the
 * outbox handler's transaction): the job then finds no row and is retried shortly.
 */
export const SEND_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 200 },
  removeOnComplete: true,
  removeOnFail: true,
} as const;
