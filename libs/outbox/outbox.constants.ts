export const OUTBOX_QUEUE = 'outbox';
export const OUTBOX_RELAY_QUEUE = 'outbox-relay';
/** How long a relay owns the rows it claimed; after that another relay may publish them again. */
export const RELAY_LEASE_MS = 30_000;
export const RELAY_BATCH = 200;

export interface DeliveryJob {
  messageId: string;
  handler: string;
}

export interface OutboxOptions {
  maxAttempts: number;
  backoffMs: number;
  pollMs: number;
}

export const OUTBOX_OPTIONS = Symbol('OUTBOX_OPTIONS');
