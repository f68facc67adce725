import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Channel, MessageDispatcher, MessageKind, Notifications } from '../src/modules/notifications/index.js';
import { SmtpTestServer } from './support/smtp-test-server.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const FIELDS = 'id kind channel recipient recipientName customerId status attempts lastError sentAt createdAt';

describe('delivery log: messages and resendMessage', () => {
  let smtp: SmtpTestServer;
  let t: TestApp;
  let owner: Owner;
  let admin: Member;
  let n = 0;
  const customerA = randomUUID();
  const customerB = randomUUID();
  /** The rows the test made, by what they are. */
  const ids: Record<'aSms' | 'aEmail' | 'bSms' | 'otherOrgEmail', string> = { aSms: '', aEmail: '', bSms: '', otherOrgEmail: '' };
  let other: Owner;

  beforeAll(async () => {
    smtp = await new SmtpTestServer().start();
    t = await startTestApp({
      env: {
        SMTP_URL: smtp.url,
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-delivery-log-')),
        NOTIFY_MAX_ATTEMPTS: '1',
      },
    });
    owner = await signUpOrganization(t.gql, 'Ledger Landscaping');
    admin = await addUser(owner.client, 'ADMIN');
    other = await signUpOrganization(t.gql, 'Other Outfit');

    // Real rows through the facade, sent by the real dispatcher: the provider refuses email, so emails end FAILED
    // (one attempt allowed) and SMS end SENT.
    smtp.reject = 'Mailbox unavailable';
    const a = await notify(owner.organizationId, customerA, [Channel.EMAIL, Channel.SMS], -3);
    const b = await notify(owner.organizationId, customerB, [Channel.SMS], -2);
    const o = await notify(other.organizationId, customerA, [Channel.EMAIL], -1);
    expect(await t.app.get(MessageDispatcher).dispatchDue()).toBe(4);
    ids.aEmail = a.find((m) => m.channel === Channel.EMAIL)!.id;
    ids.aSms = a.find((m) => m.channel === Channel.SMS)!.id;
    ids.bSms = b[0]!.id;
    ids.otherOrgEmail = o[0]!.id;
  });
  afterAll(async () => {
    await t.close();
    await smtp.stop();
  });

  /** notifyCustomer in a transaction scoped to the organization; `ageMinutes` back-dates the rows (for ordering). */
  async function notify(organizationId: string, customerId: string, channels: Channel[], ageMinutes: number) {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, organizationId);
    return em.transactional(async (tx) => {
      const { messages } = await t.app.get(Notifications).notifyCustomer(tx, {
        dedupeKey: `profile-request:${++n}`,
        kind: MessageKind.PAYMENT_PROFILE_REQUEST,
        recipient: { customerId, name: `Customer ${n}`, email: `customer${n}@example.com`, phone: '+1 514 555 0123' },
        channels,
        data: { secureLink: `https://pay.example.com/p/${n}`, expiresAt: new Date('2026-12-31T00:00:00Z') },
      });
      for (const m of messages) m.createdAt = new Date(Date.now() + ageMinutes * 60_000);
      return messages;
    });
  }

  const list = async (client: Owner['client'], args = '') =>
    (await client.ok(`{ messages${args} { totalCount nodes { ${FIELDS} } pageInfo { hasNextPage endCursor } } }`)).messages;

  it('lists what was sent, newest first, to an OWNER or ADMIN, with the status and the provider\'s reason', async () => {
    const all = await list(admin.client);
    expect(all.totalCount).toBe(3);
    expect(all.nodes.map((m: { id: string }) => m.id)).toEqual([ids.bSms, expect.any(String), expect.any(String)]);
    expect(new Set(all.nodes.slice(1).map((m: { id: string }) => m.id))).toEqual(new Set([ids.aEmail, ids.aSms]));
    const email = all.nodes.find((m: { id: string }) => m.id === ids.aEmail);
    expect(email).toMatchObject({
      kind: 'PAYMENT_PROFILE_REQUEST',
      channel: 'EMAIL',
      customerId: customerA,
      status: 'FAILED',
      attempts: 1,
      sentAt: null,
    });
    expect(email.lastError).toContain('Mailbox unavailable');
    expect(all.nodes.find((m: { id: string }) => m.id === ids.aSms)).toMatchObject({
      channel: 'SMS',
      recipient: '+15145550123',
      status: 'SENT',
      lastError: null,
      sentAt: expect.any(String),
    });
    expect((await list(owner.client)).totalCount).toBe(3);
  });

  it('filters by customer and by status, and pages', async () => {
    const ofA = await list(admin.client, `(customerId: "${customerA}")`);
    expect(new Set(ofA.nodes.map((m: { id: string }) => m.id))).toEqual(new Set([ids.aEmail, ids.aSms]));
    expect(ofA.totalCount).toBe(2);

    const failed = await list(admin.client, '(status: FAILED)');
    expect(failed.nodes.map((m: { id: string }) => m.id)).toEqual([ids.aEmail]);
    const sentToA = await list(admin.client, `(customerId: "${customerA}", status: SENT)`);
    expect(sentToA.nodes.map((m: { id: string }) => m.id)).toEqual([ids.aSms]);
    expect((await list(admin.client, `(customerId: "${randomUUID()}")`)).totalCount).toBe(0);

    const first = await list(admin.client, '(first: 2)');
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await list(admin.client, `(first: 2, after: "${first.pageInfo.endCursor}")`);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect([...first.nodes, ...second.nodes].map((m: { id: string }) => m.id).sort()).toEqual(
      [ids.aEmail, ids.aSms, ids.bSms].sort(),
    );

    const badCustomer = await admin.client.request(`{ messages(customerId: "not-an-id") { totalCount } }`);
    expect(badCustomer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('is only for OWNERs and ADMINs', async () => {
    for (const role of ['STAFF', 'PAYMENT_MANAGER']) {
      const user = await addUser(owner.client, role);
      const listed = await user.client.request(`{ messages { totalCount } }`);
      expect(listed.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_REQUIRED' });
      expect(listed.data ?? null).toBeNull();
      const resent = await user.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id: ids.aEmail });
      expect(resent.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_REQUIRED' });
    }
    expect((await t.gql.request(`{ messages { totalCount } }`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Nothing was requeued by the refused attempts.
    expect((await list(admin.client, '(status: FAILED)')).nodes.map((m: { id: string }) => m.id)).toEqual([ids.aEmail]);
  });

  it('never shows or resends another organization\'s messages', async () => {
    const res = await admin.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id status } }`, { id: ids.otherOrgEmail });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(res.data ?? null).toBeNull();
    // The other organization filters by the same customer id and sees only its own row, still FAILED.
    const theirs = await list(other.client, `(customerId: "${customerA}")`);
    expect(theirs.nodes).toEqual([expect.objectContaining({ id: ids.otherOrgEmail, status: 'FAILED', attempts: 1 })]);

    for (const id of [randomUUID(), 'not-a-uuid']) {
      const missing = await admin.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id });
      expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('resends a FAILED message with fresh attempts, keeping the last error until it is sent; anything else is a CONFLICT', async () => {
    const sent = await admin.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id: ids.aSms });
    expect(sent.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_RESENDABLE' });
    expect(sent.errors?.[0]?.message).toContain('SENT');

    const resent = await admin.client.ok(`mutation($id: ID!) { resendMessage(id: $id) { ${FIELDS} } }`, { id: ids.aEmail });
    expect(resent.resendMessage).toMatchObject({ id: ids.aEmail, status: 'QUEUED', attempts: 0 });
    expect(resent.resendMessage.lastError).toContain('Mailbox unavailable');
    const [row] = await t.app
      .get(MikroORM)
      .em.fork()
      .execute<{ next_attempt_at: Date; lease_until: Date | null }[]>('select next_attempt_at, lease_until from message where id = ?', [ids.aEmail]);
    expect(new Date(row!.next_attempt_at).getTime()).toBe(t.clock.now().getTime());
    expect(row!.lease_until).toBeNull();

    // Queued again: a second resend is a conflict, not a second set of attempts.
    const twice = await owner.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id: ids.aEmail });
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_RESENDABLE' });

    // The dispatcher picks it up at once; this time the provider accepts it.
    smtp.reject = null;
    expect(await t.app.get(MessageDispatcher).dispatchDue()).toBe(1);
    expect(smtp.received.map((m) => m.messageId)).toEqual([`<${ids.aEmail}@settle>`]);
    const [after] = (await list(admin.client, `(status: SENT, customerId: "${customerA}")`)).nodes.filter(
      (m: { id: string }) => m.id === ids.aEmail,
    );
    expect(after).toMatchObject({ status: 'SENT', attempts: 1, lastError: null, sentAt: expect.any(String) });
  });
});
