/**
 * An integration event: a fact, in the past tense, that one module announces and others may consume.
 * It is stored in the outbox in the same transaction as the change it announces.
 */
export interface DomainEvent<TPayload extends object = Record<string, unknown>> {
  /** Past-tense name, e.g. `PaymentFailed`. Consumers subscribe by this name. */
  readonly type: string;
  /** The organization the fact belongs to; null only for platform-wide events. */
  readonly organizationId: string | null;
  readonly payload: TPayload;
}

export function domainEvent<TPayload extends object>(
  type: string,
  organizationId: string | null,
  payload: TPayload,
): DomainEvent<TPayload> {
  return { type, organizationId, payload };
}

/** The envelope a consumer receives: the event plus its outbox identity. */
export interface DeliveredEvent<TPayload extends object = Record<string, unknown>> extends DomainEvent<TPayload> {
  readonly id: string;
  readonly occurredAt: Date;
}
