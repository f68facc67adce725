import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import {
  Channel,
  MessageDispatcher,
  MessageKind,
  MessageStatus,
  Notifications,
  type NotifyCustomerCommand,
} from '../src/modules/notifications/index.js';
import { SmtpTestServer } from './support/smtp-test-server.js';
import { signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

const LEASE_MS = 120_000;

describe('customer messages by email and SMS', () => {
  let smtp: SmtpTestServer;
  let t: TestApp;
  let dataDir: string;
  let organizationId: string;
  let n = 0;

  beforeAll(async () => {
    smtp = await new SmtpTestServer().start();
    dataDir = mkdtempSync(path.join(tmpdir(), 'settle-notify-'));
    t = await startTestApp({
      env: { SMTP_URL: smtp.url, DATA_DIR: dataDir, NOTIFY_MAX_ATTEMPTS: '3', NOTIFY_BACKOFF_MS: '60000' },
    });
    organizationId = (await signUpOrganization(t.gql, 'Maple Pools & Spas')).organizationId;
  });
  afterAll(async () => {
    await t.close();
    await smtp.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
    smtp.reject = null;
  });

  const scoped = (): EntityManager => {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, organizationId);
    return em;
  };
  const notify = (cmd: Partial<NotifyCustomerCommand> = {}) =>
    scoped().transactional((tx) =>
      t.app.get(Notifications).notifyCustomer(tx, {
        dedupeKey: `receipt:${++n}`,
        kind: MessageKind.RECEIPT,
        recipient: { name: 'Jamie Rivera', email: 'Jamie.Rivera@example.com', phone: '(514) 555-0123' },
        channels: [Channel.EMAIL],
        data: { amount: Money.of(123450, 'USD'), date: new Date('2026-03-01T15:00:00Z'), reference: `INV-${n}` },
        ...cmd,
      }),
    );
  const dispatcher = () => t.app.get(MessageDispatcher);
  const statusOf = async (id: string) =>
    (await scoped().execute<{ status: string; attempts: number; last_error: string | null }[]>(
      'select status, attempts, last_error from message where id = ?',
      [id],
    ))[0]!;

  it('sends an HTML email with a plain-text part, formatted amounts, from the organization, and an SMS in E.164', async () => {
    const { messages } = await notify({ channels: [Channel.EMAIL, Channel.SMS] });
    expect(smtp.received).toHaveLength(0); // nothing leaves before the dispatcher runs
    expect(await dispatcher().dispatchDue()).toBe(2);

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.to).toMatchObject({ value: [{ address: 'jamie.rivera@example.com', name: 'Jamie Rivera' }] });
    expect(mail.from?.value[0]).toMatchObject({ name: 'Maple Pools & Spas' });
    expect(mail.text).toContain('$1,234.50');
    expect(mail.html).toContain('$1,234.50');
    expect(mail.messageId).toBe(`<${messages.find((m) => m.channel === Channel.EMAIL)!.id}@settle>`);

    const sms = readFileSync(path.join(dataDir, 'sms', 'outbox.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sms.at(-1)).toMatchObject({ to: '+15145550123' });
    expect(sms.at(-1).body).toContain('$1,234.50');
    for (const m of messages) expect((await statusOf(m.id)).status).toBe(MessageStatus.SENT);
  });

  it('refuses a channel the customer has no address for, and then sends nothing on any channel', async () => {
    await expect(notify({ channels: [Channel.SMS, Channel.EMAIL], recipient: { name: 'No Mail', phone: '+1 514 555 0199' } })).rejects.toMatchObject({
      reason: 'MISSING_EMAIL',
      message: expect.stringContaining('No Mail has no email address'),
    });
    await expect(notify({ channels: [Channel.SMS], recipient: { name: 'Bad Phone', phone: '12' } })).rejects.toMatchObject({
      reason: 'INVALID_PHONE',
    });
    const rows = await scoped().execute<{ c: string }[]>(
      `select count(*) as c from message where recipient_name in ('No Mail', 'Bad Phone')`,
    );
    expect(Number(rows[0]!.c)).toBe(0);
  });

  it('sends a message once however often it is asked for with the same key', async () => {
    const first = await notify({ dedupeKey: 'receipt:same' });
    const second = await notify({ dedupeKey: 'receipt:same' });
    expect(second.messages[0]!.id).toBe(first.messages[0]!.id);
    await dispatcher().dispatchDue();
    await dispatcher().dispatchDue();
    expect(smtp.received).toHaveLength(1);
  });

  it('a worker killed after sending and before recording: the retry carries the same Message-ID, so the inbox shows it once', async () => {
    const { messages } = await notify();
    // The worker claims and sends, then dies before it records SENT.
    const [claimed] = await dispatcher().claim();
    expect(claimed!.id).toBe(messages[0]!.id);
    await dispatcher().transmit(claimed!);
    expect(smtp.received).toHaveLength(1);

    // While its lease runs, no other worker touches it.
    expect(await dispatcher().dispatchDue()).toBe(0);
    t.clock.advance(LEASE_MS + 1);
    expect(await dispatcher().dispatchDue()).toBe(1);

    expect(smtp.received).toHaveLength(2);
    expect(new Set(smtp.received.map((m) => m.messageId)).size).toBe(1);
    expect(smtp.inbox).toHaveLength(1);
    expect(await statusOf(messages[0]!.id)).toMatchObject({ status: 'SENT', attempts: 2 });
  });

  it('SMTP down: the message waits with its reason, is retried after the backoff, and is delivered once SMTP is back', async () => {
    const { messages } = await notify();
    await smtp.stop();
    expect(await dispatcher().dispatchDue()).toBe(1);
    const waiting = await statusOf(messages[0]!.id);
    expect(waiting).toMatchObject({ status: 'QUEUED', attempts: 1 });
    expect(waiting.last_error).toMatch(/ECONNREFUSED|connect/i);

    await smtp.start(); // same port
    expect(await dispatcher().dispatchDue()).toBe(0); // not due yet: backoff
    t.clock.advance(60_000);
    expect(await dispatcher().dispatchDue()).toBe(1);
    expect(smtp.received).toHaveLength(1);
    expect(await statusOf(messages[0]!.id)).toMatchObject({ status: 'SENT', attempts: 2, last_error: null });
  });

  it('gives up after the last attempt and keeps the provider\'s reason', async () => {
    smtp.reject = 'Mailbox unavailable: jamie.rivera@example.com';
    const { messages } = await notify();
    for (const wait of [0, 60_000, 120_000]) {
      t.clock.advance(wait);
      await dispatcher().dispatchDue();
    }
    const failed = await statusOf(messages[0]!.id);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 3 });
    expect(failed.last_error).toContain('Mailbox unavailable');
  });

  it('respects a marketing opt-out for renewal notices but not for receipts', async () => {
    const optedOut = { name: 'Pat Opted', email: 'pat@example.com', marketingOptOut: true };
    const renewal = await notify({
      kind: MessageKind.RENEWAL_NOTICE,
      recipient: optedOut,
      data: { agreementName: 'Pool care 2026', endDate: new Date('2026-12-31T12:00:00Z') },
    });
    expect(renewal).toEqual({ messages: [], skipped: [{ channel: Channel.EMAIL, reason: 'OPTED_OUT' }] });
    const receipt = await notify({ recipient: optedOut });
    expect(receipt.messages).toHaveLength(1);
  });

  it('writes .eml files when no SMTP server is configured', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'settle-mail-'));
    const local = await startTestApp({ env: { DATA_DIR: dir } });
    try {
      const org = await signUpOrganization(local.gql);
      const em = local.app.get(MikroORM).em.fork();
      scopeToTenant(em, org.organizationId);
      await em.transactional((tx) =>
        local.app.get(Notifications).notifyCustomer(tx, {
          dedupeKey: 'receipt:file',
          kind: MessageKind.RECEIPT,
          recipient: { name: 'File Person', email: 'file@example.com' },
          channels: [Channel.EMAIL],
          data: { amount: Money.of(500, 'USD') },
        }),
      );
      await local.app.get(MessageDispatcher).dispatchDue();
      expect(existsSync(path.join(dir, 'mail'))).toBe(true);
      const eml = readdirSync(path.join(dir, 'mail')).filter((f) => f.endsWith('.eml'));
      expect(eml).toHaveLength(1);
      expect(readFileSync(path.join(dir, 'mail', eml[0]!), 'utf8')).toContain('file@example.com');
    } finally {
      await local.close();
    }
  });
});

describe('SMS through Twilio', () => {
  let twilio: Server;
  let requests: { path: string; auth: string; form: URLSearchParams }[] = [];
  let t: TestApp;
  let organizationId: string;
  const sid = 'AC' + 'a'.repeat(32);

  beforeAll(async () => {
    // A local stand-in for Twilio's Messages endpoint, answering as Twilio does (201 with a sid, or an error body).
    twilio = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        requests.push({ path: req.url!, auth: req.headers.authorization ?? '', form });
        res.setHeader('content-type', 'application/json');
        if (form.get('To') === '+15145550000') {
          res.statusCode = 400;
          res.end(JSON.stringify({ code: 21610, message: 'Attempt to send to unsubscribed recipient', status: 400 }));
          return;
        }
        res.statusCode = 201;
        res.end(JSON.stringify({ sid: `SM${requests.length}`, status: 'queued' }));
      });
    });
    await new Promise<void>((r) => twilio.listen(0, '127.0.0.1', () => r()));
    t = await startTestApp({
      env: {
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: sid,
        TWILIO_AUTH_TOKEN: 'test-auth-token-0123456789',
        TWILIO_FROM_NUMBER: '+15145559999',
        TWILIO_API_URL: `http://127.0.0.1:${(twilio.address() as AddressInfo).port}`,
        NOTIFY_MAX_ATTEMPTS: '1',
      },
    });
    organizationId = (await signUpOrganization(t.gql)).organizationId;
  });
  afterAll(async () => {
    await t.close();
    await new Promise((r) => twilio.close(r));
  });

  const send = async (phone: string, key: string) => {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, organizationId);
    const { messages } = await em.transactional((tx) =>
      t.app.get(Notifications).notifyCustomer(tx, {
        dedupeKey: key,
        kind: MessageKind.PAYMENT_PROFILE_REQUEST,
        recipient: { name: 'Sam', phone },
        channels: [Channel.SMS],
        data: { secureLink: 'https://pay.example.com/p/abc', expiresAt: new Date('2026-03-02T15:00:00Z') },
      }),
    );
    await t.app.get(MessageDispatcher).dispatchDue();
    return (await em.execute<{ status: string; last_error: string | null; provider_message_id: string | null }[]>(
      'select status, last_error, provider_message_id from message where id = ?',
      [messages[0]!.id],
    ))[0]!;
  };

  it('posts to the Messages resource with the account credentials and records the sid', async () => {
    requests = [];
    const row = await send('514-555-0123', 'profile:1');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.path).toBe(`/2010-04-01/Accounts/${sid}/Messages.json`);
    expect(Buffer.from(requests[0]!.auth.replace('Basic ', ''), 'base64').toString()).toBe(`${sid}:test-auth-token-0123456789`);
    expect(requests[0]!.form.get('To')).toBe('+15145550123');
    expect(requests[0]!.form.get('From')).toBe('+15145559999');
    expect(requests[0]!.form.get('Body')).toContain('https://pay.example.com/p/abc');
    expect(row).toMatchObject({ status: 'SENT', provider_message_id: 'SM1' });
  });

  it("keeps Twilio's reason when it refuses a message", async () => {
    const row = await send('+1 514 555 0000', 'profile:2');
    expect(row.status).toBe('FAILED');
    expect(row.last_error).toContain('21610');
    expect(row.last_error).toContain('unsubscribed recipient');
  });
});
