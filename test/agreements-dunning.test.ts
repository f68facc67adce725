import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { MikroORM } from '@mikro-orm/postgresql';
import { newId } from '#libs/ddd/index.js';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { Dunning } from '../src/modules/agreements/application/dunning.js';
import { BILLING_RUN_QUEUE } from '../src/modules/agreements/infrastructure/billing-run.queue.js';
import { PaymentRetries } from '../src/modules/payments/application/action-center-retries.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Owner['client'];

const NOW = '2026-06-15T16:00:00.000Z';
const POLICY = 'suspend when threshold notifyOfficeByEmail autoReactivateWhenPaid updatedBy updatedAt';
const GET_POLICY = `query { dunningPolicy { ${POLICY} } }`;
const SET_POLICY = `mutation($i: UpdateDunningPolicyInput!) { updateDunningPolicy(input: $i) { ${POLICY} } }`;
const REACTIVATE = `mutation($id: ID!) { reactivateAgreement(id: $id) { id status transitions { from to actorUserId reason } workOrders { scheduledFor status } } }`;
const AGREEMENT = `query($id: ID!) { agreement(id: $id) { id status transitions { from to actorUserId reason } workOrders { scheduledFor status } } }`;
const DISPATCH = `query { dispatchableWorkOrders(from: "2026-06-01", to: "2026-12-31", first: 100) { nodes { id agreementId scheduledFor status } } }`;

describe('dunning and suspension', () => {
  let t: TestApp;
  let orm: MikroORM;
  let billingQueue: Queue;

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set(NOW);
    orm = t.app.get(MikroORM);
    billingQueue = t.app.get<Queue>(getQueueToken(BILLING_RUN_QUEUE));
  });
  afterAll(async () => {
    await purgeQueue(billingQueue);
    await t.close();
  });
  beforeEach(() => t.clock.set(NOW));

  // --- helpers ------------------------------------------------------------------------------------------------------

  interface Org {
    id: string;
    owner: Owner;
    admin: Member;
    manager: Member;
    staff: Member;
  }
  async function organization(policy: Record<string, unknown> | null = { suspend: true, when: 'IMMEDIATELY' }): Promise<Org> {
    const owner = await signUpOrganization(t.gql, 'Blue Lagoon Pools');
    const org = {
      id: owner.organizationId,
      owner,
      admin: await addUser(owner.client, 'ADMIN'),
      manager: await addUser(owner.client, 'PAYMENT_MANAGER'),
      staff: await addUser(owner.client, 'STAFF'),
    };
    if (policy) await owner.client.ok(SET_POLICY, { i: policy });
    return org;
  }
  const sql = <T>(query: string, params: unknown[] = []) => orm.em.fork().execute<T[]>(query, params);

  async function saveMethod(org: Org, customerId: string, token: string, makeDefault = false): Promise<string> {
    const data = await org.manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId, token, consentGiven: true, makeDefault },
    });
    return data.savePaymentMethod.paymentMethod.id;
  }

  /** A customer whose card saves fine but declines every charge, with an agreement SIGNED on it and APPROVED (visits scheduled). */
  async function activeAgreement(org: Org, token = 'pm_card_chargeCustomerFail') {
    const customer = await createCustomer(org.owner.client);
    const methodId = await saveMethod(org, customer.id, token);
    const id = newId();
    await sql(
      `insert into service_agreement (id, organization_id, created_at, updated_at, customer_id, name, terms, lines, currency, frequency, billing_day,
                                      start_date, payment_method_id, status, version, signed_at, signed_version)
       values (?, ?, now(), now(), ?, 'Pool care', 'Weekly pool care', ?::jsonb, 'USD', 'MONTHLY', 1, '2026-06-01', ?, 'SIGNED', 1, now(), 1)`,
      [id, org.id, customer.id, JSON.stringify([{ description: 'Weekly pool service', quantity: '1', unitPrice: '12000' }]), methodId],
    );
    await org.admin.client.ok(`mutation($id: ID!) { approveAgreement(id: $id) { status } }`, { id });
    return { id, customer, methodId };
  }

  /** "Bill all unbilled agreements up to today", run to the end, and every event handled. */
  async function billNow(org: Org) {
    const run = (await org.manager.client.ok(`mutation { billAgreements { id } }`)).billAgreements;
    await waitForQueueIdle(billingQueue);
    await t.drainOutbox();
    return run.id as string;
  }

  const agreement = async (org: Org, id: string) => (await org.owner.client.ok(AGREEMENT, { id })).agreement as Record<string, any>;
  const dispatchable = async (org: Org, client: Client = org.staff.client) =>
    ((await client.ok(DISPATCH)).dispatchableWorkOrders.nodes as { agreementId: string; scheduledFor: string; status: string }[]);
  const visits = (a: Record<string, any>) => (a.workOrders as { scheduledFor: string; status: string }[]).map((w) => `${w.scheduledFor} ${w.status}`).sort();

  const paymentOf = async (agreementId: string) =>
    (await sql<{ payment_id: string; invoice_id: string }>(`select payment_id, invoice_id from billed_period where agreement_id = ? order by period_start`, [agreementId]))[0]!;
  /** What the customer was sent, in order (the wallet's "method saved" confirmations of the setup left out). */
  const customerMessages = async (customerId: string) =>
    (
      await sql<{ kind: string }>(`select kind from message where customer_id = ? and kind <> 'PAYMENT_METHOD_SAVED' order by created_at, kind`, [customerId])
    ).map((m) => m.kind);
  const officeNotices = async (org: Org, userId: string) =>
    (await sql<{ title: string }>(`select title from in_app_notification where organization_id = ? and user_id = ? order by created_at`, [org.id, userId])).map((n) => n.title);

  /** Delivers a copy of a PaymentFailed already delivered (a duplicate, or a stale one when the payment has moved on). */
  async function redeliverPaymentFailed(paymentId: string, attempt = 1) {
    const [original] = await sql<{ id: string }>(
      `select id from outbox_message where type = 'PaymentFailed' and payload->>'paymentId' = ? and (payload->>'attempt')::int = ?`,
      [paymentId, attempt],
    );
    expect(original).toBeDefined();
    await sql(
      `insert into outbox_message (id, organization_id, type, payload, occurred_at, relay_attempts)
       select ?, organization_id, type, payload, now(), 0 from outbox_message where id = ?`,
      [newId(), original!.id],
    );
    await t.drainOutbox();
  }

  const retry = async (org: Org, paymentId: string) =>
    (await org.manager.client.ok(`mutation($id: ID!) { retryPayment(paymentId: $id) { status attemptCount } }`, { id: paymentId })).retryPayment;

  const errorOf = async (client: Client, query: string, variables: Record<string, unknown> = {}) => {
    const res = await client.request(query, variables);
    expect(res.errors).toBeDefined();
    return res.errors![0]!;
  };

  // --- the rules ----------------------------------------------------------------------------------------------------

  it('IMMEDIATELY: a declined agreement charge tells the office, sends the customer ONE link, suspends the agreement and its visits ahead', async () => {
    const org = await organization({ suspend: true, when: 'IMMEDIATELY', notifyOfficeByEmail: true });
    const { id, customer } = await activeAgreement(org);
    expect(visits(await agreement(org, id))).toEqual(['2026-06-01 SCHEDULED', '2026-07-01 SCHEDULED', '2026-08-01 SCHEDULED']);
    expect((await dispatchable(org)).filter((w) => w.agreementId === id)).toHaveLength(3);

    await billNow(org);

    const a = await agreement(org, id);
    expect(a.status).toBe('SUSPENDED');
    expect(a.transitions.at(-1)).toMatchObject({ from: 'ACTIVE', to: 'SUSPENDED', actorUserId: null });
    expect(a.transitions.at(-1).reason).toMatch(/^Payment overdue — INV-\d+ \(\$120\.00\): .*declined/);
    // Visits from today on are suspended (the past one keeps its status); technicians no longer see them.
    expect(visits(a)).toEqual(['2026-06-01 SCHEDULED', '2026-07-01 SUSPENDED', '2026-08-01 SUSPENDED']);
    expect((await dispatchable(org)).filter((w) => w.agreementId === id).map((w) => w.scheduledFor)).toEqual(['2026-06-01']);

    // The customer: one message about the failure (the secure link to update the card), then the suspension —
    // Payments' own PAYMENT_FAILED email is not sent for agreement charges.
    expect(await customerMessages(customer.id)).toEqual(['AGREEMENT_APPROVED', 'PAYMENT_PROFILE_REQUEST', 'AGREEMENT_SUSPENDED']);
    const [link] = await sql<{ text: string }>(`select text from message where customer_id = ? and kind = 'PAYMENT_PROFILE_REQUEST'`, [customer.id]);
    expect(link!.text).toMatch(/\/p\//);
    const [request] = await sql<{ note: string; purpose: string }>(`select note, purpose from payment_profile_request where customer_id = ?`, [customer.id]);
    expect(request).toMatchObject({ purpose: 'REPLACE_CARD' });
    expect(request!.note).toMatch(/failed: .*Please update your payment method/);

    // The office: in-app for OWNER, ADMIN and PAYMENT_MANAGER (not STAFF), and by email as the policy says.
    for (const user of [org.owner, org.admin, org.manager]) {
      const titles = await officeNotices(org, user.userId);
      expect(titles).toEqual(expect.arrayContaining([expect.stringMatching(/^Payment for "Pool care" from .* failed$/), `"Pool care" for ${customer.name} is suspended`]));
    }
    expect(await officeNotices(org, org.staff.userId)).toEqual([]);
    const [emails] = await sql<{ n: number }>(`select count(*)::int as n from message where organization_id = ? and kind = 'STAFF_ALERT' and text like '%Pool care%'`, [org.id]);
    expect(emails!.n).toBe(6); // 3 office users × (failure, suspension)

    // One click is refused while the invoice is still overdue.
    const refused = await errorOf(org.manager.client, REACTIVATE, { id });
    expect(refused.extensions).toMatchObject({ code: 'CONFLICT', reason: 'AGREEMENT_OVERDUE' });
    expect(refused.message).toMatch(/cannot be reactivated yet/);

    // The same PaymentFailed delivered again: nothing new (no second link, no second suspension).
    const { payment_id: paymentId } = await paymentOf(id);
    await redeliverPaymentFailed(paymentId);
    expect(await customerMessages(customer.id)).toEqual(['AGREEMENT_APPROVED', 'PAYMENT_PROFILE_REQUEST', 'AGREEMENT_SUSPENDED']);
    expect((await agreement(org, id)).transitions.filter((x: { to: string }) => x.to === 'SUSPENDED')).toHaveLength(1);
  });

  it('one-click reactivation once the payment is collected: ACTIVE, visits SCHEDULED again, customer told; a stale failure changes nothing', async () => {
    const org = await organization();
    const { id, customer } = await activeAgreement(org);
    await billNow(org);
    expect((await agreement(org, id)).status).toBe('SUSPENDED');

    // The customer puts a working card on file; the retry charges it.
    await saveMethod(org, customer.id, 'pm_card_visa', true);
    const { payment_id: paymentId, invoice_id: invoiceId } = await paymentOf(id);
    expect(await retry(org, paymentId)).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
    await t.drainOutbox();
    // Not automatic under this policy.
    expect((await agreement(org, id)).status).toBe('SUSPENDED');
    const [invoice] = await sql<{ status: string }>(`select status from invoice where id = ?`, [invoiceId]);
    expect(invoice!.status).toBe('PAID');

    const staffRefused = await errorOf(org.staff.client, REACTIVATE, { id });
    expect(staffRefused.extensions?.code).toBe('FORBIDDEN');

    const reactivated = (await org.manager.client.ok(REACTIVATE, { id })).reactivateAgreement;
    expect(reactivated.status).toBe('ACTIVE');
    expect(reactivated.transitions.at(-1)).toMatchObject({ from: 'SUSPENDED', to: 'ACTIVE', actorUserId: org.manager.userId });
    expect(visits(reactivated)).toEqual(['2026-06-01 SCHEDULED', '2026-07-01 SCHEDULED', '2026-08-01 SCHEDULED']);
    expect((await dispatchable(org)).filter((w) => w.agreementId === id)).toHaveLength(3);
    expect(await customerMessages(customer.id)).toEqual(['AGREEMENT_APPROVED', 'PAYMENT_PROFILE_REQUEST', 'AGREEMENT_SUSPENDED', 'RECEIPT', 'AGREEMENT_REACTIVATED']);

    // A PaymentFailed arriving late (the payment has succeeded since): the facts say paid, nothing happens.
    await redeliverPaymentFailed(paymentId);
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    expect(await customerMessages(customer.id)).toHaveLength(5);
    expect(await t.app.get(Dunning).runDaily()).toMatchObject({ suspended: 0, reactivated: 0 });

    // Reactivating an active agreement is an illegal transition.
    const again = await errorOf(org.manager.client, REACTIVATE, { id });
    expect(again.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ILLEGAL_TRANSITION', from: 'ACTIVE', to: 'ACTIVE' });
  });

  it('AFTER_FAILED_ATTEMPTS 3: the first attempt and a manual retry fail, the automatic retry is the third: then it is suspended', async () => {
    const org = await organization({ suspend: true, when: 'AFTER_FAILED_ATTEMPTS', threshold: 3 });
    const { id, customer } = await activeAgreement(org);
    await billNow(org);
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    const { payment_id: paymentId } = await paymentOf(id);

    expect(await retry(org, paymentId)).toMatchObject({ status: 'FAILED', attemptCount: 2 });
    await t.drainOutbox();
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    // A duplicate of attempt 1's event after attempt 2: still two failed attempts, still active.
    await redeliverPaymentFailed(paymentId, 1);
    expect((await agreement(org, id)).status).toBe('ACTIVE');

    // The organization's retry schedule (1, 3, 7 days after the first failure): the third attempt on June 18.
    t.clock.set('2026-06-19T09:00:00.000Z');
    await t.app.get(PaymentRetries).runDue();
    await t.drainOutbox();
    const [payment] = await sql<{ status: string; attempt_count: number }>(`select status, attempt_count from payment where id = ?`, [paymentId]);
    expect(payment).toEqual({ status: 'FAILED', attempt_count: 3 });
    const a = await agreement(org, id);
    expect(a.status).toBe('SUSPENDED');
    expect(a.transitions.at(-1).reason).toMatch(/\(3 failed attempts\)$/);
    // One link for the card, however many times it was declined.
    expect(await customerMessages(customer.id)).toEqual(['AGREEMENT_APPROVED', 'PAYMENT_PROFILE_REQUEST', 'AGREEMENT_SUSPENDED']);
  });

  it('AFTER_DAYS_UNPAID 5: the daily job suspends once the invoice has been unpaid for 5 days since the charge failed', async () => {
    const org = await organization({ suspend: true, when: 'AFTER_DAYS_UNPAID', threshold: 5 });
    const { id } = await activeAgreement(org);
    await billNow(org);
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    const dunning = t.app.get(Dunning);

    t.clock.set('2026-06-19T16:00:00.000Z');
    await dunning.runDaily();
    expect((await agreement(org, id)).status).toBe('ACTIVE');

    t.clock.set('2026-06-20T16:00:00.000Z');
    const run = await dunning.runDaily();
    expect(run.suspended).toBeGreaterThanOrEqual(1);
    const a = await agreement(org, id);
    expect(a.status).toBe('SUSPENDED');
    expect(a.transitions.at(-1).reason).toMatch(/unpaid for 5 days$/);
    // Running it again (a second worker, a repeated job) changes nothing.
    await dunning.runDaily();
    expect((await agreement(org, id)).transitions.filter((x: { to: string }) => x.to === 'SUSPENDED')).toHaveLength(1);
  });

  it('suspend = false (the default) never suspends, but still tells the office and sends the customer the link', async () => {
    const org = await organization(null);
    expect((await org.owner.client.ok(GET_POLICY)).dunningPolicy).toEqual({
      suspend: false,
      when: 'IMMEDIATELY',
      threshold: null,
      notifyOfficeByEmail: false,
      autoReactivateWhenPaid: false,
      updatedBy: null,
      updatedAt: null,
    });
    const { id, customer } = await activeAgreement(org);
    await billNow(org);
    t.clock.set('2026-09-01T16:00:00.000Z');
    await t.app.get(Dunning).runDaily();
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    expect(await customerMessages(customer.id)).toEqual(['AGREEMENT_APPROVED', 'PAYMENT_PROFILE_REQUEST']);
    expect(await officeNotices(org, org.manager.userId)).toEqual(expect.arrayContaining([expect.stringMatching(/^Payment for "Pool care" .* failed$/)]));
    // No email to the office unless the policy asks for it.
    const [emails] = await sql<{ n: number }>(`select count(*)::int as n from message where organization_id = ? and kind = 'STAFF_ALERT'`, [org.id]);
    expect(emails!.n).toBe(0);
  });

  it('autoReactivateWhenPaid: the paid retry reactivates the agreement by itself; the stale failure does not suspend it again', async () => {
    const org = await organization({ suspend: true, when: 'IMMEDIATELY', autoReactivateWhenPaid: true });
    const { id, customer } = await activeAgreement(org);
    await billNow(org);
    expect((await agreement(org, id)).status).toBe('SUSPENDED');
    expect((await dispatchable(org)).filter((w) => w.agreementId === id)).toHaveLength(1);

    await saveMethod(org, customer.id, 'pm_card_visa', true);
    const { payment_id: paymentId } = await paymentOf(id);
    expect(await retry(org, paymentId)).toMatchObject({ status: 'SUCCEEDED' });
    await t.drainOutbox();

    const a = await agreement(org, id);
    expect(a.status).toBe('ACTIVE');
    expect(a.transitions.at(-1)).toMatchObject({ from: 'SUSPENDED', to: 'ACTIVE', actorUserId: null, reason: 'Reactivated automatically: the overdue invoices are paid' });
    expect(visits(a)).toEqual(['2026-06-01 SCHEDULED', '2026-07-01 SCHEDULED', '2026-08-01 SCHEDULED']);
    expect((await dispatchable(org)).filter((w) => w.agreementId === id)).toHaveLength(3);
    // The receipt and the reactivation come from two handlers of the same payment: either may be first.
    expect((await customerMessages(customer.id)).sort()).toEqual(['AGREEMENT_APPROVED', 'AGREEMENT_REACTIVATED', 'AGREEMENT_SUSPENDED', 'PAYMENT_PROFILE_REQUEST', 'RECEIPT']);

    await redeliverPaymentFailed(paymentId);
    expect((await agreement(org, id)).status).toBe('ACTIVE');
    expect(await customerMessages(customer.id)).toHaveLength(5);
  });

  it('the policy: OWNER and ADMIN only, validated field by field', async () => {
    const org = await organization(null);
    for (const member of [org.manager, org.staff]) {
      expect((await errorOf(member.client, GET_POLICY)).extensions?.code).toBe('FORBIDDEN');
      expect((await errorOf(member.client, SET_POLICY, { i: { suspend: true } })).extensions?.code).toBe('FORBIDDEN');
    }
    const bad = async (i: Record<string, unknown>) => {
      const e = await errorOf(org.admin.client, SET_POLICY, { i });
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      return (e.extensions?.fields as { field: string; message: string }[]).map((f) => `${f.field}: ${f.message}`);
    };
    expect(await bad({ when: 'AFTER_DAYS_UNPAID' })).toEqual(['threshold: required with AFTER_DAYS_UNPAID']);
    expect(await bad({ when: 'AFTER_FAILED_ATTEMPTS', threshold: 0 })).toEqual(['threshold: must be a whole number from 1 to 365']);
    expect(await bad({ when: 'AFTER_FAILED_ATTEMPTS', threshold: 366 })).toEqual(['threshold: must be a whole number from 1 to 365']);
    expect(await bad({ threshold: 3 })).toEqual(['threshold: only with AFTER_FAILED_ATTEMPTS or AFTER_DAYS_UNPAID']);
    expect((await org.owner.client.ok(GET_POLICY)).dunningPolicy.updatedAt).toBeNull(); // nothing was written

    const set = (await org.admin.client.ok(SET_POLICY, { i: { suspend: true, when: 'AFTER_DAYS_UNPAID', threshold: 10, notifyOfficeByEmail: true } })).updateDunningPolicy;
    expect(set).toMatchObject({ suspend: true, when: 'AFTER_DAYS_UNPAID', threshold: 10, notifyOfficeByEmail: true, autoReactivateWhenPaid: false, updatedBy: org.admin.userId });
    // Only the fields given change; the threshold stays with its trigger.
    expect((await org.owner.client.ok(SET_POLICY, { i: { threshold: 14 } })).updateDunningPolicy).toMatchObject({ when: 'AFTER_DAYS_UNPAID', threshold: 14, notifyOfficeByEmail: true });
    expect((await org.owner.client.ok(SET_POLICY, { i: { when: 'IMMEDIATELY' } })).updateDunningPolicy).toMatchObject({ when: 'IMMEDIATELY', threshold: null, suspend: true });
  });

  it("tenancy: another organization's agreement is NOT_FOUND for reactivateAgreement, and so is a malformed id", async () => {
    const org = await organization();
    const other = await organization();
    const { id } = await activeAgreement(org);
    await billNow(org);
    expect((await agreement(org, id)).status).toBe('SUSPENDED');
    expect((await errorOf(other.owner.client, REACTIVATE, { id })).extensions?.code).toBe('NOT_FOUND');
    expect((await errorOf(other.owner.client, REACTIVATE, { id: 'nope' })).extensions?.code).toBe('NOT_FOUND');
    expect((await agreement(org, id)).status).toBe('SUSPENDED');
    // The other organization's policy is its own.
    expect((await other.owner.client.ok(GET_POLICY)).dunningPolicy).toMatchObject({ suspend: true, when: 'IMMEDIATELY' });
  });
});
