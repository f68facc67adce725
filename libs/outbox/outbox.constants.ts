export const OUTBOX_QUEUE = 'outbox';
export const OUTBOX_RELAY_QUEUE = 'outbox-relay';
/** How long a relay owns the rows it claimed; after that another relay may publish them again. */
export const RELAY_LEASE_MS = 30_000;
export const RELAY_BATCH = 200;
/** How far back requeueUndelivered looks for published events whose delivery jobs Redis may have lost. */
export const REQUEUE_WINDOW_MS = 24 * 3_600_000;

export interface DeliveryJob {
  messageId: string;
  handler: string;
}

export interface OutboxOptions {
  maxAttempts: number;
  backoffMs: number;
  pollMs: number;
  /** Deliveries a worker process runs at once (OUTBOX_CONCURRENCY). */
  concurrency: number;
}

export const OUTBOX_OPTIONS = Symbol('OUTBOX_OPTIONS');
