import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server for tests (the `smtp-server` package): it speaks SMTP on a local port, and records every
 * message it accepted, parsed. `reject` makes it refuse mail with a permanent error, as a provider would.
 */
export class SmtpTestServer {
  readonly received: ParsedMail[] = [];
  reject: string | null = null;
  private server?: SMTPServer;
  private waiters: (() => void)[] = [];

  constructor(private port = 0) {}

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** What a mailbox would show: one message per Message-ID. */
  get inbox(): ParsedMail[] {
    const seen = new Map<string, ParsedMail>();
    for (const m of this.received) seen.set(m.messageId ?? String(seen.size), m);
    return [...seen.values()];
  }

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream).then(
          (mail) => {
            if (this.reject) return callback(Object.assign(new Error(this.reject), { responseCode: 550 }));
            this.received.push(mail);
            callback();
            this.waiters.splice(0).forEach((w) => w());
          },
          (error: Error) => callback(error),
        );
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}
