/**
 * The public names of the integration events Settle sends to webhook endpoints: the one table from our outbox event
 * types (InvoiceIssued, …) to the names integrators subscribe to (invoice.issued, …). Adding a row here is all it
 * takes to publish another event (the consumer subscribes to every internal type listed).
 *
 * The PaymentRequest* rows name the events of the payment requests module (pay links); they are delivered as soon
 * as that module announces them under these names.
 */
export const EVENT_CATALOG = {
  InvoiceIssued: 'invoice.issued',
  InvoiceVoided: 'invoice.voided',
  InvoicePaid: 'invoice.paid',
  CreditCreated: 'credit.created',
  PaymentSucceeded: 'payment.succeeded',
  PaymentFailed: 'payment.failed',
  PaymentProcessing: 'payment.processing',
  PaymentRefunded: 'payment.refunded',
  PaymentCancelled: 'payment.cancelled',
  AgreementStatusChanged: 'agreement.status_changed',
  PaymentRequestSent: 'payment_request.sent',
  PaymentRequestPaid: 'payment_request.paid',
  PaymentRequestExpired: 'payment_request.expired',
  PaymentRequestCancelled: 'payment_request.cancelled',
} as const satisfies Record<string, string>;

export type InternalEventType = keyof typeof EVENT_CATALOG;
export type PublicEventType = (typeof EVENT_CATALOG)[InternalEventType];

/** Every internal event type the webhooks consumer subscribes to. */
export const INTERNAL_EVENT_TYPES = Object.keys(EVENT_CATALOG) as InternalEventType[];
/** Every public event name, sorted. */
export const PUBLIC_EVENT_TYPES = (Object.values(EVENT_CATALOG) as PublicEventType[]).sort();
/** The groups an endpoint may subscribe to with a pattern (`invoice.*`). */
export const EVENT_GROUPS = [...new Set(PUBLIC_EVENT_TYPES.map((n) => n.split('.')[0]!))].sort();

export function publicEventName(internalType: string): PublicEventType | null {
  return (EVENT_CATALOG as Record<string, PublicEventType>)[internalType] ?? null;
}

/** Whether a subscription (`invoice.*` or an exact name) is one an endpoint may choose. */
export function isValidSubscription(pattern: string): boolean {
  if (pattern.endsWith('.*')) return EVENT_GROUPS.includes(pattern.slice(0, -2));
  return (PUBLIC_EVENT_TYPES as string[]).includes(pattern);
}

/** Whether an endpoint subscribed to `patterns` receives the public event `name`. */
export function subscribes(patterns: readonly string[], name: string): boolean {
  const group = name.split('.')[0];
  return patterns.some((p) => p === name || p === `${group}.*`);
}
