import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { EmailSender, type OutgoingEmail } from './email-sender.js';

/** Sends through an SMTP server (SMTP_URL), e.g. the provider's relay or Mailpit in docker-compose. */
export class SmtpEmailSender extends EmailSender {
  private readonly transport: Transporter;

  constructor(smtpUrl: string) {
    super();
    this.transport = nodemailer.createTransport(smtpUrl, {
      // Fail fast when the server is down: the dispatcher retries with backoff.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    } as object);
  }

  async send(email: OutgoingEmail): Promise<{ providerMessageId: string }> {
    const info = await this.transport.sendMail(toMail(email));
    return { providerMessageId: String(info.messageId ?? email.messageId) };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/**
 * The default with no SMTP_URL: each message becomes an .eml file under DATA_DIR/mail, so nothing leaves the machine
 * and a developer can open what a customer would have received.
 */
export class FileEmailSender extends EmailSender {
  private readonly logger = new Logger('Email');
  private readonly transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });

  constructor(private readonly dir: string) {
    super();
  }

  async send(email: OutgoingEmail): Promise<{ providerMessageId: string }> {
    const info = (await this.transport.sendMail(toMail(email))) as { message: Buffer };
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, `${email.messageId.replace(/[<>@]/g, '_')}.eml`);
    writeFileSync(file, info.message);
    this.logger.log(`email "${email.subject}" to ${email.to.address} written to ${file}`);
    return { providerMessageId: file };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

function toMail(email: OutgoingEmail) {
  return {
    messageId: email.messageId,
    from: email.from,
    to: { name: email.to.name, address: email.to.address },
    subject: email.subject,
    text: email.text,
    html: email.html,
  };
}
