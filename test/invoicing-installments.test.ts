import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { AppConfig } from '../src/config/index.js';
import { InstallmentCharges, UNKNOWN_OUTCOME_GRACE_MS } from '../src/modules/invoicing/application/installment-charges.js';
import { JANITOR_GRACE_MS, PaymentJanitor } from '../src/modules/payments/application/payment-janitor.js';
import { TakePayment } from '../src/modules/payments/application/take-payment.use-case.js';
import { SandboxWebhooks } from '../src/modules/payments/infrastructure/sandbox-webhooks.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const PLAN = `id customerId invoiceId invoiceIds paymentMethodId paymentMethodLabel status total { amount currency }
  cancelledAt cancelledBy cancelReason completedAt
  installments { id sequence dueOn amount { amount } status attempts lastError gatewayChargeId paidAt }`;

/**
 * Installment plans over GraphQL, and the daily charge job run directly (`InstallmentCharges.runDue`) with the clock
 * moved. The organization is in Los Angeles: its "today" is what decides what is due.
 */
describe('installment plans', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let staff: Member;
  let runDue: () => ReturnType<InstallmentCharges['runDue']>;

  beforeAll(async () => {
    t = await startTestApp({ env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-installments-')) } });
    // 2026-03-02 10:00 in Los Angeles.
    t.clock.set('2026-03-02T18:00:00Z');
    owner = await signUpOrganization(t.gql, 'Lakeside Recreation');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
    await t.app.get(MikroORM).em.fork().execute(`update organization set time_zone = 'America/Los_Angeles' where id = ?`, [owner.organizationId]);
    runDue = () => t.app.get(InstallmentCharges).runDue();
  });
  afterAll(() => t.close());

  const customer = async () => (await createCustomer(owner.client)).id;

  async function saveMethod(customerId: string, token = 'pm_card_visa', consentGiven = true): Promise<string> {
    const data = await manager.client.ok(
      `mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`,
      { i: { customerId, token, consentGiven } },
    );
    return data.savePaymentMethod.paymentMethod.id;
  }

  async function invoice(customerId: string, unitPrice: string): Promise<string> {
    const data = await staff.client.ok(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`,
      { i: { customerId, issue: true, paymentTermsDays: 30, lines: [{ description: 'Summer camp', quantity: '1', unitPrice }] } },
    );
    return data.createInvoice.id;
  }

  const createPlan = (input: Record<string, unknown>, client = manager.client) =>
    client.request(`mutation($i: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $i) { ${PLAN} } }`, { i: input });
  async function createPlanOk(input: Record<string, unknown>) {
    const res = await createPlan(input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.createInstallmentPlan;
  }
  const plan = async (id: string) => (await staff.client.ok(`query($id: ID!) { installmentPlan(id: $id) { ${PLAN} } }`, { id })).installmentPlan;
  const invoiceState = async (id: string) =>
    (await staff.client.ok(`query($id: ID!) { invoice(id: $id) { status amountDue { amount } amountPaid { amount } installmentPlan { id } } }`, { id })).invoice;
  const sum = (installments: { amount: { amount: string } }[]) => installments.reduce((s, i) => s + BigInt(i.amount.amount), 0n);

  const db = () => t.app.get(MikroORM).em.fork();

  /** The charges the sandbox gateway holds for an installment: every PaymentIntent of its payments. */
  async function gatewayCharges(installmentId: string): Promise<{ id: string; status: string }[]> {
    return db().execute(
      `select o.id, o.data->>'status' as status from sandbox_gateway_object o
         join payment p on p.id::text = o.data->'metadata'->>'paymentId'
        where o.type = 'payment_intent' and p.purpose = 'INSTALLMENT' and p.purpose_ref_id = ?
        order by o.id`,
      [installmentId],
    );
  }
  /** The installment's payments in Payments (one per attempt key). */
  async function installmentPayments(installmentId: string): Promise<{ id: string; status: string; idempotency_key: string; attempt_count: number }[]> {
    return db().execute(
      `select id, status, idempotency_key, attempt_count from payment where purpose = 'INSTALLMENT' and purpose_ref_id = ? order by created_at`,
      [installmentId],
    );
  }
  /** What Invoicing recorded for a customer (Payments records each successful payment once, under its id). */
  async function receivedPayments(customerId: string): Promise<{ id: string; amount: string }[]> {
    return db().execute(`select id, amount::text as amount from received_payment where customer_id = ? order by received_at, id`, [customerId]);
  }
  async function messages(customerId: string) {
    return (await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind channel } } }`, { c: customerId })).messages.nodes;
  }
  const paymentFailedMessages = async (customerId: string) => (await messages(customerId)).filter((m: any) => m.kind === 'PAYMENT_FAILED');
  const balance = async (customerId: string) =>
    (await owner.client.ok(`query($id: ID!) { customer(id: $id) { balance { owed { amount } unallocatedPayments { amount } } } }`, { id: customerId })).customer
      .balance;
  const outboxEvents = async (type: string, installmentId: string) =>
    db().execute(`select payload from outbox_message where type = ? and payload->>'installmentId' = ?`, [type, installmentId]);

  it('splits an awkward amount into equal parts without losing a cent: the first ones take the leftover', async () => {
    const c = await customer();
    const pm = await saveMethod(c);
    const inv = await invoice(c, '100001'); // $1,000.01 in 7: 14286 × 6 + 14285
    const created = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 7, firstDueOn: '2026-03-31', interval: 'MONTHLY' });
    expect(created).toMatchObject({ customerId: c, invoiceId: inv, invoiceIds: [inv], status: 'ACTIVE', total: { amount: '100001', currency: 'USD' } });
    expect(created.paymentMethodLabel).toBe('Visa ending in 4242');
    expect(sum(created.installments)).toBe(100001n);
    expect(created.installments.map((i: any) => i.amount.amount)).toEqual(['14286', '14286', '14286', '14286', '14286', '14286', '14285']);
    // Month-end anchored: the 31st, or the month's last day.
    expect(created.installments.map((i: any) => i.dueOn)).toEqual([
      '2026-03-31', '2026-04-30', '2026-05-31', '2026-06-30', '2026-07-31', '2026-08-31', '2026-09-30',
    ]);
    expect(created.installments.every((i: any) => i.status === 'SCHEDULED')).toBe(true);
    expect((await invoiceState(inv)).installmentPlan).toEqual({ id: created.id });

    // A second plan on the same invoice is refused.
    const again = await createPlan({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-04-01', interval: 'WEEKLY' });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INSTALLMENT_PLAN_EXISTS' });
  });

  it('refuses custom parts that do not add up, naming the difference, and writes nothing', async () => {
    const c = await customer();
    const pm = await saveMethod(c);
    const inv = await invoice(c, '10000');
    const res = await createPlan({
      invoiceId: inv,
      paymentMethodId: pm,
      installments: [
        { dueOn: '2026-03-15', amount: '5000' },
        { dueOn: '2026-04-15', amount: '4000' },
      ],
    });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INSTALLMENTS_DO_NOT_ADD_UP', fields: [{ field: 'installments' }] });
    expect(res.errors?.[0]?.message).toContain('the difference is $10.00');
    expect((await invoiceState(inv)).installmentPlan).toBeNull();

    // Custom parts that do add up are kept as given.
    const ok = await createPlanOk({
      invoiceId: inv,
      paymentMethodId: pm,
      installments: [
        { dueOn: '2026-03-15', amount: '6000' },
        { dueOn: '2026-04-15', amount: '4000' },
      ],
    });
    expect(ok.installments.map((i: any) => [i.dueOn, i.amount.amount])).toEqual([['2026-03-15', '6000'], ['2026-04-15', '4000']]);
  });

  it('requires a method with consent, a manager role, a future date and something owed', async () => {
    const c = await customer();
    const noConsent = await saveMethod(c, 'pm_card_mastercard', false);
    const inv = await invoice(c, '10000');
    const refused = await createPlan({ invoiceId: inv, paymentMethodId: noConsent, count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'PAYMENT_METHOD_NOT_CHARGEABLE',
      fields: [{ field: 'paymentMethodId' }],
    });
    expect(refused.errors?.[0]?.message).toMatch(/not authorized charges/);

    const pm = await saveMethod(c);
    const asStaff = await createPlan({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' }, staff.client);
    expect(asStaff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const past = await createPlan({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-01', interval: 'WEEKLY' });
    expect(past.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'firstDueOn' }] });

    const other = await customer();
    const nothing = await createPlan({ customerId: other, paymentMethodId: await saveMethod(other), count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    expect(nothing.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOTHING_OWED' });

    // Another customer's card cannot pay this customer's invoice.
    const foreign = await createPlan({ invoiceId: inv, paymentMethodId: await saveMethod(other), count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    expect(foreign.errors?.[0]?.extensions).toMatchObject({ reason: 'CUSTOMER_MISMATCH' });
    expect((await invoiceState(inv)).installmentPlan).toBeNull();
  });

  it("plans over a customer's balance cover their unpaid invoices, and upcoming payments lists them in date order", async () => {
    const c = await customer();
    const pm = await saveMethod(c);
    const a = await invoice(c, '30000');
    const b = await invoice(c, '20001');
    const byBalance = await createPlanOk({ customerId: c, paymentMethodId: pm, count: 3, firstDueOn: '2026-03-20', interval: 'BIWEEKLY' });
    expect(byBalance).toMatchObject({ invoiceId: null, total: { amount: '50001' } });
    expect([...byBalance.invoiceIds].sort()).toEqual([a, b].sort());
    expect(byBalance.installments.map((i: any) => [i.dueOn, i.amount.amount])).toEqual([
      ['2026-03-20', '16667'],
      ['2026-04-03', '16667'],
      ['2026-04-17', '16667'],
    ]);
    // Covered by the balance plan: no second plan on one of its invoices, and nothing left for another balance plan.
    const onInvoice = await createPlan({ invoiceId: a, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    expect(onInvoice.errors?.[0]?.extensions?.reason).toBe('INSTALLMENT_PLAN_EXISTS');
    const secondBalance = await createPlan({ customerId: c, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    expect(secondBalance.errors?.[0]?.message).toMatch(/already under an active installment plan/);

    // A new invoice gets its own plan, on a bank account.
    const bank = await saveMethod(c, await sandboxBankToken(t.url));
    const later = await invoice(c, '9000');
    const own = await createPlanOk({
      invoiceId: later,
      paymentMethodId: bank,
      installments: [
        { dueOn: '2026-03-25', amount: '4500' },
        { dueOn: '2026-04-10', amount: '4500' },
      ],
    });

    const upcoming = await staff.client.ok(
      `query($c: ID!) { upcomingPayments(customerId: $c) { totalCount nodes { id planId sequence installmentCount dueOn amount { amount formatted } status paymentMethodLabel } } }`,
      { c },
    );
    expect(upcoming.upcomingPayments.totalCount).toBe(5);
    expect(upcoming.upcomingPayments.nodes.map((n: any) => [n.dueOn, n.planId === own.id ? 'bank' : 'card', n.amount.formatted, n.paymentMethodLabel])).toEqual([
      ['2026-03-20', 'card', '$166.67', 'Visa ending in 4242'],
      ['2026-03-25', 'bank', '$45.00', 'Checking account at STRIPE TEST BANK ending in 6789'],
      ['2026-04-03', 'card', '$166.67', 'Visa ending in 4242'],
      ['2026-04-10', 'bank', '$45.00', 'Checking account at STRIPE TEST BANK ending in 6789'],
      ['2026-04-17', 'card', '$166.67', 'Visa ending in 4242'],
    ]);
    expect(upcoming.upcomingPayments.nodes[0]).toMatchObject({ sequence: 1, installmentCount: 3, status: 'SCHEDULED' });

    // Another organization's customer is NOT_FOUND.
    const stranger = await signUpOrganization(t.gql, 'Elsewhere Inc');
    const hidden = await stranger.client.request(`query($c: ID!) { upcomingPayments(customerId: $c) { totalCount } }`, { c });
    expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const hiddenPlan = await stranger.client.request(`query($id: ID!) { installmentPlan(id: $id) { id } }`, { id: own.id });
    expect(hiddenPlan.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('staff skip, reschedule, change the method and cancel', async () => {
    const c = await customer();
    const pm = await saveMethod(c);
    const inv = await invoice(c, '40000');
    const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 4, firstDueOn: '2026-03-10', interval: 'WEEKLY' });
    const [first, second, third, fourth] = p.installments;

    // Skip: the amount moves onto the next scheduled installment.
    const skipped = await manager.client.ok(`mutation($id: ID!) { skipInstallment(installmentId: $id) { ${PLAN} } }`, { id: first.id });
    expect(skipped.skipInstallment.installments.map((i: any) => [i.status, i.amount.amount])).toEqual([
      ['SKIPPED', '10000'],
      ['SCHEDULED', '20000'],
      ['SCHEDULED', '10000'],
      ['SCHEDULED', '10000'],
    ]);
    const twice = await manager.client.request(`mutation($id: ID!) { skipInstallment(installmentId: $id) { id } }`, { id: first.id });
    expect(twice.errors?.[0]?.extensions?.reason).toBe('INSTALLMENT_NOT_SCHEDULED');
    // The last one has no later installment to take its amount.
    const last = await manager.client.request(`mutation($id: ID!) { skipInstallment(installmentId: $id) { id } }`, { id: fourth.id });
    expect(last.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LAST_INSTALLMENT_NOT_SKIPPABLE' });
    expect(last.errors?.[0]?.message).toMatch(/Reschedule it or cancel the plan/);

    // Reschedule: between its neighbours, not in the past.
    const reschedule = (id: string, dueOn: string) =>
      manager.client.request(`mutation($id: ID!, $d: String!) { rescheduleInstallment(installmentId: $id, dueOn: $d) { ${PLAN} } }`, { id, d: dueOn });
    const moved = await reschedule(third.id, '2026-03-27');
    expect(moved.data?.rescheduleInstallment.installments[2]).toMatchObject({ dueOn: '2026-03-27', status: 'SCHEDULED' });
    const outOfOrder = await reschedule(third.id, '2026-04-05');
    expect(outOfOrder.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'dueOn' }] });
    expect(outOfOrder.errors?.[0]?.message).toContain("before installment 4's due date 2026-03-31");
    const inPast = await reschedule(second.id, '2026-03-01');
    expect(inPast.errors?.[0]?.message).toContain('in the past');

    // Change the method: consent required.
    const noConsent = await saveMethod(c, 'pm_card_mastercard', false);
    const change = (paymentMethodId: string) =>
      manager.client.request(`mutation($p: ID!, $m: ID!) { changeInstallmentPlanMethod(planId: $p, paymentMethodId: $m) { paymentMethodId paymentMethodLabel } }`, {
        p: p.id,
        m: paymentMethodId,
      });
    expect((await change(noConsent)).errors?.[0]?.extensions?.reason).toBe('PAYMENT_METHOD_NOT_CHARGEABLE');
    const amex = await saveMethod(c, 'pm_card_amex');
    expect((await change(amex)).data?.changeInstallmentPlanMethod).toEqual({ paymentMethodId: amex, paymentMethodLabel: 'American Express ending in 0005' });
    expect((await change(amex)).errors).toBeUndefined();
    const asStaff = await staff.client.request(`mutation($id: ID!) { skipInstallment(installmentId: $id) { id } }`, { id: second.id });
    expect(asStaff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // Cancel: scheduled installments are cancelled, the invoice owes as before and can get a new plan.
    const cancelled = await manager.client.ok(
      `mutation($p: ID!, $r: String!) { cancelInstallmentPlan(planId: $p, reason: $r) { ${PLAN} } }`,
      { p: p.id, r: 'Customer will pay by cheque' },
    );
    expect(cancelled.cancelInstallmentPlan).toMatchObject({ status: 'CANCELLED', cancelReason: 'Customer will pay by cheque', cancelledBy: manager.userId });
    expect(cancelled.cancelInstallmentPlan.installments.map((i: any) => i.status)).toEqual(['SKIPPED', 'CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(await invoiceState(inv)).toMatchObject({ status: 'OPEN', amountDue: { amount: '40000' }, installmentPlan: null });
    const upcoming = await staff.client.ok(`query($c: ID!) { upcomingPayments(customerId: $c) { totalCount } }`, { c });
    expect(upcoming.upcomingPayments.totalCount).toBe(0);
    const afterCancel = await reschedule(second.id, '2026-03-20');
    expect(afterCancel.errors?.[0]?.extensions?.reason).toBe('INSTALLMENT_PLAN_NOT_ACTIVE');
  });

  describe('the daily charge job (charging through Payments)', () => {
    beforeEach(() => t.clock.set('2026-03-02T18:00:00Z'));

    it("charges what is due on the organization's today once, even when runs overlap; Payments records the money once", async () => {
      const c = await customer();
      const pm = await saveMethod(c);
      const inv = await invoice(c, '30000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 3, firstDueOn: '2026-03-03', interval: 'WEEKLY' });
      const [first, second, third] = p.installments;

      // 2026-03-03 04:00 UTC is still March 2 in Los Angeles: nothing is due there yet.
      t.clock.set('2026-03-03T04:00:00Z');
      await runDue();
      expect((await plan(p.id)).installments[0].status).toBe('SCHEDULED');
      expect(await gatewayCharges(first.id)).toEqual([]);
      expect(await installmentPayments(first.id)).toEqual([]);

      t.clock.set('2026-03-03T17:00:00Z');
      await runDue();
      await t.drainOutbox();
      let now = await plan(p.id);
      expect(now.installments.map((i: any) => i.status)).toEqual(['PAID', 'SCHEDULED', 'SCHEDULED']);
      expect(now.installments[0]).toMatchObject({ attempts: 1, lastError: null });
      expect(now.installments[0].gatewayChargeId).toMatch(/^pi_/);
      expect(await gatewayCharges(first.id)).toEqual([{ id: now.installments[0].gatewayChargeId, status: 'succeeded' }]);
      const [payment] = await installmentPayments(first.id);
      expect(await installmentPayments(first.id)).toEqual([
        { id: payment!.id, status: 'SUCCEEDED', idempotency_key: `installment:${first.id}:attempt:1`, attempt_count: 1 },
      ]);
      // Recorded once, by Payments, under the payment's id: the invoice and the balance are paid down once.
      expect(await receivedPayments(c)).toEqual([{ id: payment!.id, amount: '10000' }]);
      expect(await invoiceState(inv)).toMatchObject({ status: 'PARTIALLY_PAID', amountDue: { amount: '20000' }, amountPaid: { amount: '10000' } });
      expect(await balance(c)).toEqual({ owed: { amount: '20000' }, unallocatedPayments: { amount: '0' } });
      // The receipt follows Payments' record (one per payment).
      expect(await db().execute(`select count(*)::int as n from receipt where payment_id = ?`, [payment!.id])).toEqual([{ n: 1 }]);

      // Again the same day: nothing more is charged.
      await runDue();
      expect(await gatewayCharges(first.id)).toHaveLength(1);
      expect(await gatewayCharges(second.id)).toEqual([]);

      // A week later, two runs at once: the second installment is charged once.
      t.clock.set('2026-03-10T17:00:00Z');
      await Promise.all([runDue(), runDue()]);
      expect(await gatewayCharges(second.id)).toHaveLength(1);
      expect(await installmentPayments(second.id)).toHaveLength(1);
      expect(await gatewayCharges(third.id)).toEqual([]);
      now = await plan(p.id);
      expect(now.installments.map((i: any) => [i.status, i.attempts])).toEqual([['PAID', 1], ['PAID', 1], ['SCHEDULED', 0]]);

      t.clock.set('2026-03-17T17:00:00Z');
      await Promise.all([runDue(), runDue(), runDue()]);
      await t.drainOutbox();
      expect(await gatewayCharges(third.id)).toHaveLength(1);
      expect(await installmentPayments(third.id)).toHaveLength(1);
      now = await plan(p.id);
      expect(now.status).toBe('COMPLETED');
      expect(await invoiceState(inv)).toMatchObject({ status: 'PAID', amountDue: { amount: '0' }, amountPaid: { amount: '30000' }, installmentPlan: null });
      expect(await balance(c)).toEqual({ owed: { amount: '0' }, unallocatedPayments: { amount: '0' } });
      const received = await receivedPayments(c);
      expect(received.map((r) => r.amount)).toEqual(['10000', '10000', '10000']);
      const paymentIds = (await Promise.all([first, second, third].map((i: any) => installmentPayments(i.id)))).map((rows) => rows[0]!.id);
      expect(received.map((r) => r.id).sort()).toEqual([...paymentIds].sort());
    });

    it('a declined card: FAILED with the reason, the payment in the Action Center, one PAYMENT_FAILED email; a later retry pays it', async () => {
      const c = await customer();
      const pm = await saveMethod(c, 'pm_card_chargeCustomerFail');
      const inv = await invoice(c, '20000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-02', interval: 'MONTHLY' });
      await runDue();
      await t.drainOutbox();
      const failed = (await plan(p.id)).installments[0];
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(failed.lastError).toMatch(/declined/i);
      const [payment] = await installmentPayments(failed.id);
      expect(payment).toMatchObject({ status: 'FAILED', idempotency_key: `installment:${failed.id}:attempt:1` });

      // In the Payment Action Center, with what it was for and the same reason.
      const center = (
        await manager.client.ok(
          `query($f: PaymentActionCenterFilter) { paymentActionCenter(filter: $f, first: 20) { nodes { id purpose purposeRefId failureMessage invoiceNumbers amount { amount } } } }`,
          { f: { customerId: c } },
        )
      ).paymentActionCenter.nodes;
      expect(center).toEqual([expect.objectContaining({ id: payment!.id, purpose: 'INSTALLMENT', purposeRefId: failed.id, amount: { amount: '10000' } })]);
      expect(center[0].failureMessage).toBe(failed.lastError);

      // The customer is told once (by Payments), not twice; no event of Invoicing's own duplicates PaymentFailed.
      expect(await paymentFailedMessages(c)).toEqual([{ kind: 'PAYMENT_FAILED', channel: 'EMAIL' }]);
      expect(await outboxEvents('InstallmentPaymentFailed', failed.id)).toEqual([]);

      // Not charged again by later runs; the invoice still owes it.
      await runDue();
      await t.drainOutbox();
      expect(await gatewayCharges(failed.id)).toHaveLength(1);
      expect(await installmentPayments(failed.id)).toHaveLength(1);
      expect(await invoiceState(inv)).toMatchObject({ status: 'OPEN', amountDue: { amount: '20000' } });
      expect(await paymentFailedMessages(c)).toHaveLength(1);

      // The customer gives a new card; the Action Center retries the same payment (attempt 2): the installment follows.
      await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
        i: { customerId: c, token: 'pm_card_visa', consentGiven: true, makeDefault: true },
      });
      const retried = await manager.client.ok(`mutation($id: ID!) { retryPayment(paymentId: $id) { status attemptCount } }`, { id: payment!.id });
      expect(retried.retryPayment).toEqual({ status: 'SUCCEEDED', attemptCount: 2 });
      await t.drainOutbox();
      await t.drainOutbox(); // a repeated delivery changes nothing
      const paid = (await plan(p.id)).installments[0];
      expect(paid).toMatchObject({ status: 'PAID', attempts: 1, lastError: null });
      expect(await installmentPayments(failed.id)).toHaveLength(1);
      expect(await receivedPayments(c)).toEqual([{ id: payment!.id, amount: '10000' }]);
      expect(await invoiceState(inv)).toMatchObject({ status: 'PARTIALLY_PAID', amountDue: { amount: '10000' }, amountPaid: { amount: '10000' } });
    });

    it('a method that lost its consent fails the installment without any payment, and the customer is told once', async () => {
      const c = await customer();
      const pm = await saveMethod(c);
      const inv = await invoice(c, '20000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-02', interval: 'MONTHLY' });
      await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`, { i: { id: pm } });
      await runDue();
      await t.drainOutbox();
      const failed = (await plan(p.id)).installments[0];
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(failed.lastError).toMatch(/consent|authorized/i);
      expect(await installmentPayments(failed.id)).toEqual([]);
      expect(await gatewayCharges(failed.id)).toEqual([]);
      // Payments never saw it: Invoicing announces it (InstallmentPaymentFailed) and tells the customer itself.
      expect(await outboxEvents('InstallmentPaymentFailed', failed.id)).toHaveLength(1);
      expect(await paymentFailedMessages(c)).toEqual([{ kind: 'PAYMENT_FAILED', channel: 'EMAIL' }]);
    });

    it('a bank debit stays PROCESSING, then settles by the gateway webhook and the installment is PAID', async () => {
      const settleMs = t.app.get(AppConfig).sandboxGateway.debitSettleSeconds * 1000;
      const deliverDue = () => t.app.get(SandboxWebhooks).deliverDue(t.clock.now(), { endpoint: `${t.url}/webhooks/payments` });
      const c = await customer();
      const bank = await saveMethod(c, await sandboxBankToken(t.url));
      const inv = await invoice(c, '15000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: bank, count: 3, firstDueOn: '2026-03-02', interval: 'MONTHLY' });
      await runDue();
      await t.drainOutbox();
      let first = (await plan(p.id)).installments[0];
      expect(first).toMatchObject({ status: 'PROCESSING', attempts: 1 });
      expect(first.gatewayChargeId).toMatch(/^pi_/);
      expect(await installmentPayments(first.id)).toEqual([expect.objectContaining({ status: 'PROCESSING' })]);
      expect(await invoiceState(inv)).toMatchObject({ amountDue: { amount: '15000' } });

      // Not settled yet: a later run charges nothing more and the installment stays PROCESSING.
      t.clock.advance(settleMs - 60_000);
      expect(await deliverDue()).toEqual({ delivered: 0, failed: 0 });
      await runDue();
      await t.drainOutbox();
      expect((await plan(p.id)).installments[0].status).toBe('PROCESSING');
      expect(await gatewayCharges(first.id)).toHaveLength(1);

      t.clock.advance(61_000);
      expect(await deliverDue()).toEqual({ delivered: 1, failed: 0 });
      await t.drainOutbox();
      first = (await plan(p.id)).installments[0];
      expect(first).toMatchObject({ status: 'PAID', attempts: 1 });
      expect(await gatewayCharges(first.id)).toEqual([{ id: first.gatewayChargeId, status: 'succeeded' }]);
      expect(await receivedPayments(c)).toHaveLength(1);
      expect(await invoiceState(inv)).toMatchObject({ status: 'PARTIALLY_PAID', amountDue: { amount: '10000' } });
      await runDue();
      expect(await gatewayCharges(first.id)).toHaveLength(1);
    });

    it('an unknown outcome (a crash inside Payments after the gateway charged) is settled by the payments janitor: one charge', async () => {
      const c = await customer();
      const pm = await saveMethod(c);
      const inv = await invoice(c, '10000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-02', interval: 'MONTHLY' });
      const hooks = t.app.get(TakePayment).hooks;
      hooks.afterGatewayCall = () => {
        throw new Error('simulated crash after the gateway call');
      };
      try {
        await runDue();
      } finally {
        delete hooks.afterGatewayCall;
      }
      let first = (await plan(p.id)).installments[0];
      expect(first).toMatchObject({ status: 'PROCESSING', gatewayChargeId: null, attempts: 1 });
      expect(first.lastError).toMatch(/Outcome unknown/);
      expect(await installmentPayments(first.id)).toEqual([expect.objectContaining({ status: 'PENDING' })]);
      expect(await gatewayCharges(first.id)).toHaveLength(1);

      // Right after, another run leaves it alone (it may still be in flight).
      await runDue();
      expect((await plan(p.id)).installments[0].status).toBe('PROCESSING');

      // The payments janitor asks the gateway under the attempt's key; the installment follows PaymentSucceeded.
      t.clock.advance(JANITOR_GRACE_MS + 60_000);
      await t.app.get(PaymentJanitor).runOnce(t.clock.now());
      await t.drainOutbox();
      first = (await plan(p.id)).installments[0];
      expect(first).toMatchObject({ status: 'PAID', attempts: 1 });
      expect(await gatewayCharges(first.id)).toEqual([expect.objectContaining({ status: 'succeeded' })]);
      expect(await receivedPayments(c)).toHaveLength(1);
      expect(await invoiceState(inv)).toMatchObject({ amountDue: { amount: '5000' } });

      t.clock.advance(UNKNOWN_OUTCOME_GRACE_MS);
      await runDue();
      expect(await installmentPayments(first.id)).toHaveLength(1);
      expect(await gatewayCharges(first.id)).toHaveLength(1);
    });

    it('a worker killed after claiming (before charging) leaves it PROCESSING; a later run charges it once, same attempt key', async () => {
      const c = await customer();
      const pm = await saveMethod(c);
      const inv = await invoice(c, '10000');
      const p = await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-02', interval: 'MONTHLY' });
      const id = p.installments[0].id;
      // What the claim commits, with no charge after it: a minute ago.
      await db().execute(
        `update installment set status = 'PROCESSING', attempts = 1, idempotency_key = 'installment:' || id || ':attempt:1',
           claimed_at = ?, payment_method_id = ? where id = ?`,
        [new Date(t.clock.now().getTime() - 60_000), pm, id],
      );
      // Still within the grace period: it may be in flight on another worker, so it is left alone.
      await runDue();
      expect((await plan(p.id)).installments[0].status).toBe('PROCESSING');
      expect(await installmentPayments(id)).toEqual([]);

      t.clock.advance(UNKNOWN_OUTCOME_GRACE_MS);
      await Promise.all([runDue(), runDue()]);
      await t.drainOutbox();
      const first = (await plan(p.id)).installments[0];
      expect(first).toMatchObject({ status: 'PAID', attempts: 1 });
      expect(await installmentPayments(id)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', idempotency_key: `installment:${id}:attempt:1` })]);
      expect(await gatewayCharges(id)).toHaveLength(1);
      await runDue();
      expect(await gatewayCharges(id)).toHaveLength(1);
      expect(await receivedPayments(c)).toHaveLength(1);
    });

    it('sends an UPCOMING_INSTALLMENT reminder once, 3 days ahead', async () => {
      const c = await customer();
      const pm = await saveMethod(c);
      const inv = await invoice(c, '10000');
      await createPlanOk({ invoiceId: inv, paymentMethodId: pm, count: 2, firstDueOn: '2026-03-09', interval: 'MONTHLY' });
      await runDue();
      expect((await messages(c)).filter((m: any) => m.kind === 'UPCOMING_INSTALLMENT')).toEqual([]);
      t.clock.set('2026-03-06T18:00:00Z');
      await runDue();
      await runDue();
      expect((await messages(c)).filter((m: any) => m.kind === 'UPCOMING_INSTALLMENT')).toEqual([{ kind: 'UPCOMING_INSTALLMENT', channel: 'EMAIL' }]);
    });
  });
});
