import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { Channel } from '../domain/message-kind.js';
import { MessageStatus } from '../domain/message.entity.js';
import { EmailSender } from '../infrastructure/email-sender.js';
import { SmsSender } from '../infrastructure/sms-sender.js';
import { SealedLinks } from './sealed-links.js';

/** A claimed row, as the dispatcher reads it (raw SQL: the dispatcher works across organizations). */
export interface ClaimedMessage {
  id: string;
  organization_id: string;
  channel: Channel;
  recipient: string;
  recipient_name: string;
  sender_name: string;
  subject: string | null;
  text: string;
  html: string | null;
  attempts: number;
}

const MAX_BACKOFF_MS = 3_600_000;

/**
 * Sends the messages that are due. Claim (commit SENDING with a lease) → send → record SENT, or schedule a retry
 * with exponential backoff, or FAILED after the last attempt.
 *
 * Guarantee: at least once, and at most once except in one window. A send that fails is retried and never counted
 * as sent; a worker that dies after the provider accepted a message but before SENT was recorded leaves the row
 * SENDING, and when its lease runs out the message is sent again, with the same Message-ID (mail stores collapse
 * such duplicates; SMS providers offer no such key, so one duplicate SMS is possible in that window).
 */
@Injectable()
export class MessageDispatcher {
  private readonly logger = new Logger(MessageDispatcher.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly email: EmailSender,
    private readonly sms: SmsSender,
    private readonly sealed: SealedLinks,
  ) {}

  /** Sends one batch of due messages; returns how many it claimed. */
  async dispatchDue(limit = 20): Promise<number> {
    const claimed = await this.claim(limit);
    await Promise.all(claimed.map((m) => this.deliver(m)));
    return claimed.length;
  }

  /** Queued rows that are due, and SENDING rows whose worker's lease ran out. SKIP LOCKED: workers share the work. */
  async claim(limit = 20): Promise<ClaimedMessage[]> {
    const now = this.clock.now();
    return this.orm.em.fork().execute<ClaimedMessage[]>(
      `update message set status = 'SENDING', attempts = attempts + 1, lease_until = ?, updated_at = ?
        where id in (select id from message
                      where (status = 'QUEUED' and next_attempt_at <= ?) or (status = 'SENDING' and lease_until < ?)
                      order by next_attempt_at limit ? for update skip locked)
        returning id, organization_id, channel, recipient, recipient_name, sender_name, subject, text, html, attempts`,
      [new Date(now.getTime() + this.config.notifications.leaseMs), now, now, now, limit],
    );
  }

  async deliver(m: ClaimedMessage): Promise<void> {
    try {
      const { providerMessageId } = await this.transmit(m);
      await this.record(m.id, {
        status: MessageStatus.SENT,
        sent_at: this.clock.now(),
        provider_message_id: providerMessageId,
        last_error: null,
        lease_until: null,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const { maxAttempts, backoffMs } = this.config.notifications;
      const last = m.attempts >= maxAttempts;
      this.logger.warn(`${m.channel} ${m.id} attempt ${m.attempts} failed${last ? ' (giving up)' : ''}: ${reason}`);
      await this.record(m.id, {
        status: last ? MessageStatus.FAILED : MessageStatus.QUEUED,
        last_error: reason.slice(0, 1000),
        lease_until: null,
        next_attempt_at: new Date(this.clock.now().getTime() + Math.min(backoffMs * 2 ** (m.attempts - 1), MAX_BACKOFF_MS)),
      });
    }
  }

  /** Hands a claimed message to its provider without recording anything: `deliver` records the outcome. */
  transmit(m: ClaimedMessage): Promise<{ providerMessageId: string }> {
    // Secret links are stored as markers and get their token only here, on the way out (see SealedLinks).
    const text = this.sealed.unseal(m.text);
    if (m.channel === Channel.SMS) return this.sms.send({ messageId: m.id, to: m.recipient, body: text });
    return this.email.send({
      messageId: `<${m.id}@settle>`,
      from: `"${m.sender_name.replace(/"/g, '')}" <${this.config.notifications.mailFrom}>`,
      to: { name: m.recipient_name, address: m.recipient },
      subject: m.subject ?? '',
      text,
      html: this.sealed.unseal(m.html) ?? text,
    });
  }

  /** Only a row this worker still holds (SENDING) is updated: a resend by staff in the meantime wins. */
  private async record(id: string, fields: Record<string, unknown>): Promise<void> {
    const columns = Object.keys(fields);
    await this.orm.em.fork().execute(
      `update message set ${columns.map((c) => `${c} = ?`).join(', ')}, updated_at = ? where id = ? and status = 'SENDING'`,
      [...Object.values(fields), this.clock.now(), id],
    );
  }
}
