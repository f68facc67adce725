/** An email ready to send: rendered, addressed, with a Message-ID that stays the same on every attempt. */
export interface OutgoingEmail {
  /** Stable across retries, so a duplicate after a crash is recognised as the same message by mail stores. */
  messageId: string;
  from: string;
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
}

/** The email port. Throws on failure; the error message is shown to staff as the provider's reason. */
export abstract class EmailSender {
  abstract send(email: OutgoingEmail): Promise<{ providerMessageId: string }>;
  abstract close(): Promise<void>;
}
