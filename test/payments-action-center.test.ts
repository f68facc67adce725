import { MikroORM } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { PaymentRetries } from '../src/modules/payments/application/action-center-retries.js';
import { Payments } from '../src/modules/payments/application/payments.facade.js';
import { PaymentPurpose } from '../src/modules/payments/index.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const DAY = 86_400_000;
const ITEM = `id status purpose purposeRefId attemptCount failureCode failureMessage methodLabel paymentMethodId resolution
  invoiceNumbers nextRetryAt completedAfterRetry resolvedBy resolvedAt resolutionNote amount { amount currency }`;
const CENTER = `query($f: PaymentActionCenterFilter, $first: Int) {
  paymentActionCenter(filter: $f, first: $first) { totalCount nodes { ${ITEM} } } }`;

/**
 * The Payment Action Center (seed 002) over GraphQL, and the automatic retry job run directly
 * (`PaymentRetries.runDue`) with the clock moved. Payments that fail are taken off-session on a saved card that
 * saves fine and is declined when charged (pm_card_chargeCustomerFail). The organization is in Los Angeles.
 */
describe('Payment Action Center', () => {
  let t: TestApp;
  let owner: Owner;
  let admin: Member;
  let manager: Member;
  let staff: Member;
  let other: Owner;
  let runDue: (now?: Date) => ReturnType<PaymentRetries['runDue']>;

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-03-02T18:00:00Z'); // 10:00 in Los Angeles
    owner = await signUpOrganization(t.gql, 'Lakeside Recreation');
    admin = await addUser(owner.client, 'ADMIN');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Elsewhere Inc');
    await t.app.get(MikroORM).em.fork().execute(`update organization set time_zone = 'America/Los_Angeles' where id = ?`, [owner.organizationId]);
    runDue = (now) => t.app.get(PaymentRetries).runDue(now);
  });
  afterAll(() => t.close());

  async function saveMethod(customerId: string, token: string, opts: { consentGiven?: boolean; makeDefault?: boolean } = {}): Promise<string> {
    const data = await manager.client.ok(
      `mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`,
      { i: { customerId, token, consentGiven: opts.consentGiven ?? true, makeDefault: opts.makeDefault ?? false } },
    );
    return data.savePaymentMethod.paymentMethod.id;
  }

  async function invoice(customerId: string, unitPrice: string): Promise<{ id: string; number: string }> {
    const data = await owner.client.ok(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number } }`,
      { i: { customerId, issue: true, paymentTermsDays: 30, lines: [{ description: 'Summer camp', quantity: '1', unitPrice }] } },
    );
    return data.createInvoice;
  }

  /** A customer whose saved, consented card is declined: one off-session payment of an invoice, failed. */
  async function failedPayment(): Promise<{ paymentId: string; customerId: string; methodId: string; invoiceNumber: string; invoiceId: string }> {
    const customer = await createCustomer(owner.client);
    const methodId = await saveMethod(customer.id, 'pm_card_chargeCustomerFail');
    const inv = await invoice(customer.id, '12000');
    const summary = await t.app.get(Payments).charge(owner.organizationId, {
      customerId: customer.id,
      method: { paymentMethodId: methodId },
      amount: Money.of(12000n, 'USD'),
      purpose: PaymentPurpose.INVOICES,
      allocations: [{ invoiceId: inv.id, amount: Money.of(12000n, 'USD') }],
      offSession: true,
      createdBy: null,
    });
    expect(summary.status).toBe('FAILED');
    await t.drainOutbox();
    return { paymentId: summary.id, customerId: customer.id, methodId, invoiceNumber: inv.number, invoiceId: inv.id };
  }

  const center = async (filter: Record<string, unknown> = {}, client = manager.client) =>
    (await client.ok(CENTER, { f: filter, first: 20 })).paymentActionCenter;
  const inCenter = async (paymentId: string, customerId: string) => (await center({ customerId })).nodes.find((n: any) => n.id === paymentId);
  const payment = async (id: string) =>
    (await owner.client.ok(`query($id: ID!) { payment(id: $id) { ${ITEM} timeline { type summary actorUserId } attempts { number status } } }`, { id })).payment;
  const retry = (id: string, client = manager.client) => client.request(`mutation($id: ID!) { retryPayment(paymentId: $id) { ${ITEM} } }`, { id });
  const resolve = (id: string, note: string | null = null, client = manager.client) =>
    client.request(`mutation($id: ID!, $n: String) { resolvePayment(paymentId: $id, note: $n) { ${ITEM} } }`, { id, n: note });
  const requestUpdate = (id: string, channels: string[], client = manager.client) =>
    client.request(`mutation($id: ID!, $c: [Channel!]!) { requestPaymentMethodUpdate(paymentId: $id, channels: $c) { id timeline { type summary } } }`, { id, c: channels });

  it('lists a failed payment with its reason, what it was for, attempts so far and the next automatic retry', async () => {
    const failedAt = t.clock.now();
    const f = await failedPayment();
    const item = await inCenter(f.paymentId, f.customerId);
    expect(item).toMatchObject({
      status: 'FAILED',
      purpose: 'INVOICES',
      invoiceNumbers: [f.invoiceNumber],
      attemptCount: 1,
      paymentMethodId: f.methodId,
      resolution: 'OPEN',
      completedAfterRetry: false,
      amount: { amount: '12000', currency: 'USD' },
    });
    expect(item.failureMessage).toEqual(expect.any(String));
    expect(item.failureMessage.length).toBeGreaterThan(5);
    // Day 1 of the default schedule (1, 3, 7): a day after the failure, at the same Los Angeles time.
    expect(new Date(item.nextRetryAt).getTime()).toBe(failedAt.getTime() + DAY);
    expect((await payment(f.paymentId)).timeline.map((e: any) => e.type)).toContain('RETRY_SCHEDULED');

    // Filters: by purpose and by failure time.
    expect((await center({ customerId: f.customerId, purpose: 'ON_ACCOUNT' })).totalCount).toBe(0);
    expect((await center({ customerId: f.customerId, from: new Date(failedAt.getTime() + 60_000).toISOString() })).totalCount).toBe(0);
    expect((await center({ customerId: f.customerId, to: new Date(failedAt.getTime() + 60_000).toISOString() })).totalCount).toBe(1);
  });

  it('retry now: declined again counts attempt 2; after the customer saves a new default card the retry succeeds and leaves the list', async () => {
    const f = await failedPayment();

    const again = await retry(f.paymentId);
    expect(again.errors).toBeUndefined();
    expect(again.data!.retryPayment).toMatchObject({ status: 'FAILED', attemptCount: 2, completedAfterRetry: false });
    await t.drainOutbox();
    const afterSecond = await payment(f.paymentId);
    expect(afterSecond.attempts.map((a: any) => [a.number, a.status])).toEqual([[1, 'FAILED'], [2, 'FAILED']]);
    expect(afterSecond.timeline.filter((e: any) => e.type === 'FAILED')).toHaveLength(2);
    expect(afterSecond.timeline.some((e: any) => e.type === 'ATTEMPT_STARTED' && e.actorUserId === manager.userId)).toBe(true);
    expect((await inCenter(f.paymentId, f.customerId)).attemptCount).toBe(2);

    // The customer gives a new card (it becomes their default): the retry charges it, not the declined one.
    const visa = await saveMethod(f.customerId, 'pm_card_visa', { makeDefault: true });
    const done = await retry(f.paymentId);
    expect(done.errors).toBeUndefined();
    expect(done.data!.retryPayment).toMatchObject({
      status: 'SUCCEEDED',
      attemptCount: 3,
      completedAfterRetry: true,
      paymentMethodId: visa,
      methodLabel: 'Visa ending in 4242',
      nextRetryAt: null,
    });
    expect(await inCenter(f.paymentId, f.customerId)).toBeUndefined();
    const timeline = (await payment(f.paymentId)).timeline.map((e: any) => e.summary);
    expect(timeline.some((s: string) => /Retrying with Visa ending in 4242/.test(s))).toBe(true);
    // The invoice is paid.
    const inv = (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status } }`, { id: f.invoiceId })).invoice;
    expect(inv.status).toBe('PAID');
    // A succeeded payment cannot be retried.
    expect((await retry(f.paymentId)).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_STATE' });
  });

  it('retries automatically on days 1, 3 and 7 after the first failure, then stops and stays in the center', async () => {
    const start = new Date('2026-04-01T17:30:00Z'); // 10:30 in Los Angeles (PDT)
    t.clock.set(start);
    const f = await failedPayment();
    const attempts = async () => (await payment(f.paymentId)).attemptCount;

    // Not yet: an hour before day 1.
    await runDue(new Date(start.getTime() + DAY - 3_600_000));
    expect(await attempts()).toBe(1);

    for (const [day, next] of [[1, 3], [3, 7], [7, null]] as const) {
      t.clock.set(new Date(start.getTime() + day * DAY + 5 * 60_000));
      await runDue();
      await t.drainOutbox();
      const p = await payment(f.paymentId);
      expect(p.status).toBe('FAILED');
      expect(p.attemptCount).toBe(day === 1 ? 2 : day === 3 ? 3 : 4);
      expect(p.nextRetryAt === null ? null : new Date(p.nextRetryAt).getTime()).toBe(next === null ? null : start.getTime() + next * DAY);
    }
    // The schedule is used up: no more retries, and it still needs attention.
    t.clock.set(new Date(start.getTime() + 30 * DAY));
    await runDue();
    expect(await attempts()).toBe(4);
    expect(await inCenter(f.paymentId, f.customerId)).toMatchObject({ attemptCount: 4, nextRetryAt: null });
    const timeline = (await payment(f.paymentId)).timeline;
    expect(timeline.filter((e: any) => e.type === 'ATTEMPT_STARTED' && e.actorUserId === null).length).toBeGreaterThanOrEqual(3);
    expect(timeline.some((e: any) => /No automatic retry left/.test(e.summary))).toBe(true);
  });

  it('two runs at the same moment retry a due payment once', async () => {
    const start = new Date('2026-05-04T17:00:00Z');
    t.clock.set(start);
    const f = await failedPayment();
    t.clock.set(new Date(start.getTime() + DAY + 60_000));
    await Promise.all([runDue(), runDue(), runDue()]);
    await t.drainOutbox();
    const p = await payment(f.paymentId);
    expect(p.attempts).toHaveLength(2);
    expect(p.attemptCount).toBe(2);
    expect(new Date(p.nextRetryAt).getTime()).toBe(start.getTime() + 3 * DAY);
  });

  it('resolve: leaves the list, records who and why, is idempotent, and is never retried automatically', async () => {
    const start = new Date('2026-06-01T16:00:00Z');
    t.clock.set(start);
    const f = await failedPayment();
    const first = await resolve(f.paymentId, 'Paid by cheque at the front desk');
    expect(first.errors).toBeUndefined();
    expect(first.data!.resolvePayment).toMatchObject({
      status: 'FAILED',
      resolution: 'RESOLVED',
      resolvedBy: manager.userId,
      resolutionNote: 'Paid by cheque at the front desk',
      nextRetryAt: null,
    });
    expect(await inCenter(f.paymentId, f.customerId)).toBeUndefined();

    t.clock.set(new Date(start.getTime() + 60_000));
    const second = await resolve(f.paymentId, 'again');
    expect(second.data!.resolvePayment).toMatchObject({ resolvedAt: first.data!.resolvePayment.resolvedAt, resolutionNote: 'Paid by cheque at the front desk' });

    t.clock.set(new Date(start.getTime() + 10 * DAY));
    await runDue();
    await t.drainOutbox();
    const p = await payment(f.paymentId);
    expect(p.attemptCount).toBe(1);
    expect(p.timeline.filter((e: any) => e.type === 'RESOLVED')).toEqual([
      expect.objectContaining({ summary: 'Marked resolved: Paid by cheque at the front desk', actorUserId: manager.userId }),
    ]);
    expect((await retry(f.paymentId)).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_STATE' });
  });

  it('does not retry automatically when the card was removed or its consent revoked, and says why on the timeline', async () => {
    const start = new Date('2026-07-01T16:00:00Z');
    t.clock.set(start);
    const removed = await failedPayment();
    await manager.client.ok(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: removed.methodId });
    const revoked = await failedPayment();
    await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`, {
      i: { id: revoked.methodId, note: 'Customer called' },
    });

    t.clock.set(new Date(start.getTime() + DAY + 60_000));
    await runDue();
    await t.drainOutbox();
    for (const [f, why] of [[removed, /removed/], [revoked, /not authorized/]] as const) {
      const p = await payment(f.paymentId);
      expect(p.attemptCount).toBe(1);
      expect(p.nextRetryAt).toBeNull();
      expect(p.timeline.find((e: any) => /Automatic retry cancelled/.test(e.summary))?.summary).toMatch(why);
      // Still needs attention.
      expect(await inCenter(f.paymentId, f.customerId)).toBeDefined();
    }
  });

  it('asks the customer for a new method: a PAYMENT_PROFILE_REQUEST to replace the declined card, noted on the timeline', async () => {
    const f = await failedPayment();
    const res = await requestUpdate(f.paymentId, ['EMAIL']);
    expect(res.errors).toBeUndefined();
    expect(res.data!.requestPaymentMethodUpdate.timeline.map((e: any) => e.type)).toContain('METHOD_UPDATE_REQUESTED');
    const messages = (await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind channel } } }`, { c: f.customerId })).messages.nodes;
    expect(messages).toContainEqual({ kind: 'PAYMENT_PROFILE_REQUEST', channel: 'EMAIL' });
    const requests = (
      await manager.client.ok(`query($c: ID) { paymentProfileRequests(customerId: $c) { nodes { purpose replacesPaymentMethodId channels } } }`, { c: f.customerId })
    ).paymentProfileRequests.nodes;
    expect(requests).toEqual([{ purpose: 'REPLACE_CARD', replacesPaymentMethodId: f.methodId, channels: ['EMAIL'] }]);

    const bad = await requestUpdate(f.paymentId, []);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('payment settings: the default schedule, changed by OWNER or ADMIN only, validated with the field named', async () => {
    const SETTINGS = `retryScheduleDays autoRetry updatedBy`;
    expect((await staff.client.ok(`{ paymentSettings { ${SETTINGS} } }`)).paymentSettings).toEqual({
      retryScheduleDays: [1, 3, 7],
      autoRetry: true,
      updatedBy: null,
    });
    const update = (input: Record<string, unknown>, client = admin.client) =>
      client.request(`mutation($i: UpdatePaymentSettingsInput!) { updatePaymentSettings(input: $i) { ${SETTINGS} } }`, { i: input });

    for (const client of [manager.client, staff.client]) {
      expect((await update({ retryScheduleDays: [2] }, client)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await update({ retryScheduleDays: [2, 5, 10] })).data!.updatePaymentSettings).toEqual({
      retryScheduleDays: [2, 5, 10],
      autoRetry: true,
      updatedBy: admin.userId,
    });

    const cases: [number[], string, RegExp][] = [
      [[3, 3], 'input.retryScheduleDays[1]', /strictly increasing/],
      [[5, 2], 'input.retryScheduleDays[1]', /strictly increasing/],
      [[0], 'input.retryScheduleDays[0]', /from 1 to 60/],
      [[61], 'input.retryScheduleDays[0]', /from 1 to 60/],
      [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'input.retryScheduleDays', /at most 10/],
    ];
    for (const [days, field, message] of cases) {
      const res = await update({ retryScheduleDays: days });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ field, message: expect.stringMatching(message) })] });
    }
    // Nothing was written by the refused updates.
    expect((await owner.client.ok(`{ paymentSettings { retryScheduleDays } }`)).paymentSettings.retryScheduleDays).toEqual([2, 5, 10]);

    // The new schedule plans the next failure: day 2.
    const start = new Date('2026-08-03T16:00:00Z');
    t.clock.set(start);
    const f = await failedPayment();
    expect(new Date((await payment(f.paymentId)).nextRetryAt).getTime()).toBe(start.getTime() + 2 * DAY);

    // Turned off: the next failure gets no retry.
    await update({ autoRetry: false }, owner.client);
    const g = await failedPayment();
    expect((await payment(g.paymentId)).nextRetryAt).toBeNull();
    await update({ autoRetry: true, retryScheduleDays: [1, 3, 7] }, owner.client);
  });

  it('is for OWNER, ADMIN and PAYMENT_MANAGER; another organization’s payment is NOT_FOUND', async () => {
    const f = await failedPayment();
    expect((await staff.client.request(CENTER, {})).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await retry(f.paymentId, staff.client)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await resolve(f.paymentId, null, staff.client)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await requestUpdate(f.paymentId, ['EMAIL'], staff.client)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await center({ customerId: f.customerId }, admin.client)).totalCount).toBe(1);
    expect((await center({ customerId: f.customerId }, owner.client)).totalCount).toBe(1);

    // The other organization sees none of it, and cannot act on it.
    expect((await center({}, other.client)).totalCount).toBe(0);
    for (const res of [await retry(f.paymentId, other.client), await resolve(f.paymentId, null, other.client), await requestUpdate(f.paymentId, ['EMAIL'], other.client)]) {
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await retry('not-an-id')).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await payment(f.paymentId)).attemptCount).toBe(1);
  });
});
