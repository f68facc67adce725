import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { SmsSender, type OutgoingSms } from './sms-sender.js';

/** The default: appends each SMS as a JSON line to DATA_DIR/sms/outbox.jsonl and logs it. Nothing leaves the machine. */
export class LocalSmsSender extends SmsSender {
  private readonly logger = new Logger('Sms');

  constructor(private readonly dir: string) {
    super();
  }

  async send(sms: OutgoingSms): Promise<{ providerMessageId: string }> {
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, 'outbox.jsonl');
    appendFileSync(file, JSON.stringify({ id: sms.messageId, to: sms.to, body: sms.body, at: new Date().toISOString() }) + '\n');
    this.logger.log(`SMS to ${sms.to} written to ${file}`);
    return { providerMessageId: `local-${sms.messageId}` };
  }
}

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  fromNumber: string;
  /** https://api.twilio.com, or a local stand-in in tests. */
  apiUrl: string;
}

/** Twilio's Programmable Messaging REST API (Messages resource), over plain HTTPS. */
export class TwilioSmsSender extends SmsSender {
  constructor(private readonly options: TwilioOptions) {
    super();
  }

  async send(sms: OutgoingSms): Promise<{ providerMessageId: string }> {
    const { accountSid, authToken, fromNumber, apiUrl } = this.options;
    const response = await fetch(`${apiUrl}/2010-04-01/Accounts/${accountSid}/Messages.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: sms.to, From: fromNumber, Body: sms.body }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json().catch(() => ({}))) as { sid?: string; code?: number; message?: string };
    if (!response.ok || !body.sid) {
      // Twilio's error body: { code, message, more_info, status }.
      throw new Error(`Twilio ${response.status}${body.code ? ` error ${body.code}` : ''}: ${body.message ?? response.statusText}`);
    }
    return { providerMessageId: body.sid };
  }
}
