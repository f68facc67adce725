export interface OutgoingSms {
  /** Our message id (the provider call carries no idempotency key, see the README's delivery guarantee). */
  messageId: string;
  /** E.164, e.g. +15145550123. */
  to: string;
  body: string;
}

/** The SMS port. Throws on failure; the error message is shown to staff as the provider's reason. */
export abstract class SmsSender {
  abstract send(sms: OutgoingSms): Promise<{ providerMessageId: string }>;
}
