import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Refunds } from '../src/modules/payments/application/refunds.use-case.js';
import { Refund } from '../src/modules/payments/domain/refund.entity.js';
import { Payment } from '../src/modules/payments/domain/payment.entity.js';
import { Reconciliation } from '../src/modules/invoicing/index.js';
import { SandboxWebhooks } from '../src/modules/payments/infrastructure/sandbox-webhooks.js';
import { AppConfig } from '../src/config/index.js';
import { PaymentGateway } from '../src/infra/payment-gateway/index.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Member['client'];

const PAYMENT = `id status amount { amount } amountRefunded { amount } timeline { type summary }
  refunds { id amount { amount currency } status reason reopenInvoices gatewayRefundId failureMessage createdBy }`;
const TAKE = `mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status } }`;
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { id paymentId amount { amount } status reason reopenInvoices gatewayRefundId } }`;
const CANCEL = `mutation($id: ID!, $r: String!) { cancelPayment(paymentId: $id, reason: $r) { id status } }`;
const usd = (amount: number) => ({ amount: String(amount), currency: 'USD' });

describe('payments: refunds and cancellation of processing bank debits (sandbox gateway)', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let admin: Member;
  let staff: Member;
  let other: Owner;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUpOrganization(t.gql, 'Lakeside Plumbing');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    admin = await addUser(owner.client, 'ADMIN');
    staff = await addUser(owner.client, 'STAFF');
    other = await signUpOrganization(t.gql, 'Other Plumbing');
  });
  afterAll(() => t.close());

  const db = () => t.app.get(MikroORM).em.fork();
  const issueInvoice = async (customerId: string, unitPrice: number) =>
    (
      await owner.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId, issue: true, lines: [{ description: 'Water heater', quantity: '1', unitPrice: String(unitPrice) }] },
      })
    ).createInvoice.id as string;
  const invoice = async (id: string) =>
    (
      await owner.client.ok(`query($id: ID!) { invoice(id: $id) { status amountPaid { amount } amountCredited { amount } amountDue { amount } credits { kind amount { amount } reason } } }`, {
        id,
      })
    ).invoice;
  const owed = async (customerId: string) => (await owner.client.ok(`query($id: ID!) { customer(id: $id) { balanceOwed } }`, { id: customerId })).customer.balanceOwed as string;
  const payment = async (id: string, client: Client = owner.client) => (await client.ok(`query($id: ID!) { payment(id: $id) { ${PAYMENT} } }`, { id })).payment;
  /** A card payment of `amount` for a new invoice of the same amount (or on account). */
  const cardPayment = async (amount: number, opts: { onAccount?: boolean; token?: string } = {}) => {
    const customer = await createCustomer(owner.client);
    const invoiceId = opts.onAccount ? null : await issueInvoice(customer.id, amount);
    const res = await manager.client.ok(TAKE, {
      i: { customerId: customer.id, token: opts.token ?? 'pm_card_visa', amount: usd(amount), invoices: invoiceId ? [{ invoiceId, amount: usd(amount) }] : [] },
    });
    return { customer, invoiceId, paymentId: res.takePayment.id as string, status: res.takePayment.status as string };
  };
  const refund = (client: Client, input: Record<string, unknown>) => client.request(REFUND, { i: { reason: 'Job cancelled', ...input } });
  const refundOk = async (client: Client, input: Record<string, unknown>) => {
    const res = await refund(client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.refundPayment;
  };
  const chargeOf = async (paymentId: string) => (await db().findOneOrFail(Payment, { id: paymentId }, { filters: { tenant: false } })).gatewayChargeId!;
  /** The refunds the sandbox gateway holds for the payment's charge. */
  const gatewayRefunds = async (paymentId: string) =>
    (
      await db().execute<{ amount: string }[]>(`select data->>'amount' as amount from sandbox_gateway_object where type = 'refund' and data->>'paymentIntentId' = ? order by created_at`, [
        await chargeOf(paymentId),
      ])
    ).map((r) => Number(r.amount));
  const outbox = async (type: string, paymentId: string) =>
    (await db().execute<{ payload: Record<string, any> }[]>(`select payload from outbox_message where type = ? and payload->>'paymentId' = ?`, [type, paymentId])).map((r) => r.payload);
  const messages = async (customerId: string) =>
    (await db().execute<{ kind: string; channel: string }[]>(`select kind, channel from message where customer_id = ? order by created_at`, [customerId])).map((m) => m.kind);
  const received = async (paymentId: string) => {
    const em = db();
    scopeToTenant(em, owner.organizationId);
    return t.app.get(Reconciliation).payment(em, paymentId);
  };

  it('a full refund: REFUNDED, the money back at the gateway once, the invoice stays PAID with a REFUND credit note, the customer is emailed', async () => {
    const { customer, invoiceId, paymentId, status } = await cardPayment(12_000);
    expect(status).toBe('SUCCEEDED');
    const r = await refundOk(manager.client, { paymentId, reason: 'Duplicate booking' });
    expect(r).toMatchObject({ paymentId, amount: { amount: '12000' }, status: 'SUCCEEDED', reason: 'Duplicate booking', reopenInvoices: false, gatewayRefundId: expect.stringMatching(/^re_/) });

    const p = await payment(paymentId);
    expect(p).toMatchObject({ status: 'REFUNDED', amountRefunded: { amount: '12000' } });
    expect(p.refunds).toEqual([expect.objectContaining({ id: r.id, status: 'SUCCEEDED', amount: { amount: '12000', currency: 'USD' }, createdBy: manager.userId })]);
    expect(p.timeline.map((e: { type: string }) => e.type)).toContain('REFUNDED');
    expect(await gatewayRefunds(paymentId)).toEqual([12_000]);

    expect(await invoice(invoiceId!)).toMatchObject({
      status: 'PAID',
      amountPaid: { amount: '0' },
      amountCredited: { amount: '12000' },
      amountDue: { amount: '0' },
      credits: [{ kind: 'REFUND', amount: { amount: '12000' }, reason: expect.stringContaining('Duplicate booking') }],
    });
    expect(await owed(customer.id)).toBe('0');
    expect(await received(paymentId)).toMatchObject({ refunded: { amount: 12_000n }, allocated: { amount: 0n }, unallocated: { amount: 0n } });
    expect(await outbox('PaymentRefunded', paymentId)).toEqual([
      expect.objectContaining({ refundId: r.id, customerId: customer.id, amount: { amount: '12000', currency: 'USD' }, totalRefunded: { amount: '12000', currency: 'USD' } }),
    ]);
    expect(await outbox('PaymentRefundRecorded', paymentId)).toEqual([
      expect.objectContaining({ refundId: r.id, reopenInvoices: false, fromInvoices: [expect.objectContaining({ invoiceId, amount: { amount: '12000', currency: 'USD' } })] }),
    ]);
    expect(await messages(customer.id)).toContain('REFUND_ISSUED');

    // Nothing is left to give back.
    const again = await refund(manager.client, { paymentId, amount: usd(1) });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_STATE' });
    expect(await gatewayRefunds(paymentId)).toEqual([12_000]);
  });

  it('with reopenInvoices the invoice owes it again (OPEN) and the customer owes it again', async () => {
    const { customer, invoiceId, paymentId } = await cardPayment(8_000);
    await refundOk(admin.client, { paymentId, reopenInvoices: true });
    expect((await payment(paymentId)).status).toBe('REFUNDED');
    expect(await invoice(invoiceId!)).toMatchObject({ status: 'OPEN', amountPaid: { amount: '0' }, amountCredited: { amount: '0' }, amountDue: { amount: '8000' }, credits: [] });
    expect(await owed(customer.id)).toBe('8000');
  });

  it('partial refunds add up to at most the payment: 60 + 30 is fine, 20 more is refused, and the gateway holds exactly those two', async () => {
    const { invoiceId, paymentId } = await cardPayment(100);
    expect((await refundOk(manager.client, { paymentId, amount: usd(60) })).status).toBe('SUCCEEDED');
    expect((await payment(paymentId)).status).toBe('PARTIALLY_REFUNDED');
    expect((await refundOk(manager.client, { paymentId, amount: usd(30), reopenInvoices: true })).status).toBe('SUCCEEDED');

    const refused = await refund(manager.client, { paymentId, amount: usd(20) });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'REFUND_EXCEEDS_PAYMENT', refundable: '10' });
    expect(refused.errors?.[0]?.message).toMatch(/more than is left to refund/);

    expect(await payment(paymentId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', amountRefunded: { amount: '90' } });
    expect(await gatewayRefunds(paymentId)).toEqual([60, 30]);
    // 60 kept settled by a credit note, 30 owed again.
    expect(await invoice(invoiceId!)).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: { amount: '10' }, amountCredited: { amount: '60' }, amountDue: { amount: '30' } });
    expect((await refundOk(manager.client, { paymentId })).amount).toEqual({ amount: '10' });
    expect((await payment(paymentId)).status).toBe('REFUNDED');
  });

  it('two refunds of 60 racing on a payment of 100: one is refused, the gateway refunds 60 once', async () => {
    const { paymentId } = await cardPayment(100);
    const results = await Promise.all([refund(manager.client, { paymentId, amount: usd(60) }), refund(admin.client, { paymentId, amount: usd(60) })]);
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.errors![0]!.extensions).toMatchObject({ reason: 'REFUND_EXCEEDS_PAYMENT' });
    expect(await gatewayRefunds(paymentId)).toEqual([60]);
    expect(await payment(paymentId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', amountRefunded: { amount: '60' } });
  });

  it('an on-account payment is refunded out of its unallocated part', async () => {
    const { customer, paymentId } = await cardPayment(5_000, { onAccount: true });
    await refundOk(manager.client, { paymentId, amount: usd(2_000) });
    expect(await received(paymentId)).toMatchObject({ refunded: { amount: 2_000n }, unallocated: { amount: 3_000n }, status: 'UNRECONCILED' });
    const balance = (await owner.client.ok(`query($id: ID!) { customer(id: $id) { balance { unallocatedPayments { amount } } } }`, { id: customer.id })).customer.balance;
    expect(balance.unallocatedPayments).toEqual({ amount: '3000' });
  });

  it('refuses to refund a FAILED payment, and refuses bad input without writing anything', async () => {
    const { paymentId, status } = await cardPayment(4_000, { token: 'pm_card_chargeCustomerFail' });
    expect(status).toBe('FAILED');
    const res = await refund(manager.client, { paymentId });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_STATE' });
    expect(res.errors?.[0]?.message).toMatch(/only a succeeded payment/i);

    const ok = await cardPayment(4_000);
    const blank = await refund(manager.client, { paymentId: ok.paymentId, reason: '   ' });
    expect(blank.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ field: 'reason' })] });
    const zero = await refund(manager.client, { paymentId: ok.paymentId, amount: usd(0) });
    expect(zero.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await gatewayRefunds(ok.paymentId)).toEqual([]);
    expect((await payment(ok.paymentId)).refunds).toEqual([]);
  });

  it('replays a refund for the same idempotency key instead of refunding twice', async () => {
    const { paymentId } = await cardPayment(900);
    const first = await refundOk(manager.client, { paymentId, amount: usd(300), idempotencyKey: 'refund-1' });
    const again = await refundOk(manager.client, { paymentId, amount: usd(300), idempotencyKey: 'refund-1' });
    expect(again.id).toBe(first.id);
    expect(await gatewayRefunds(paymentId)).toEqual([300]);
    const misuse = await refund(manager.client, { paymentId, amount: usd(200), idempotencyKey: 'refund-1' });
    expect(misuse.errors?.[0]?.extensions).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('a refund whose request crashed after committing its row is finished later under the same key, once', async () => {
    const { paymentId } = await cardPayment(700);
    const em = db();
    scopeToTenant(em, owner.organizationId);
    const p = await em.findOneOrFail(Payment, { id: paymentId });
    // What a crash right after step (1) leaves: a PENDING refund the gateway never heard of.
    const row = em.create(Refund, {
      organizationId: owner.organizationId,
      paymentId,
      customerId: p.customerId,
      amount: 250n,
      currency: 'USD',
      reason: 'Crashed request',
      idempotencyKey: 'crashed-1',
      createdBy: manager.userId,
      createdAt: t.clock.now(),
      updatedAt: t.clock.now(),
    } as Refund);
    await em.flush();
    // While pending it counts against what is left: 700 - 250 = 450 at most.
    expect((await refund(manager.client, { paymentId, amount: usd(451) })).errors?.[0]?.extensions).toMatchObject({ reason: 'REFUND_EXCEEDS_PAYMENT' });

    const refunds = t.app.get(Refunds);
    expect(await refunds.resumePendingRefunds()).toBe(0); // within the grace period: its request may still be running
    t.clock.advance(5 * 60_000);
    expect(await refunds.resumePendingRefunds()).toBe(1);
    expect(await refunds.resumePendingRefunds()).toBe(0);
    expect(await gatewayRefunds(paymentId)).toEqual([250]);
    expect(await payment(paymentId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', amountRefunded: { amount: '250' }, refunds: [expect.objectContaining({ id: row.id, status: 'SUCCEEDED' })] });
  });

  it('cancels a processing bank debit: CANCELLED, it never settles into a payment, nothing reaches Invoicing, the customer is told', async () => {
    const customer = await createCustomer(owner.client);
    const saved = await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId: customer.id, token: await sandboxBankToken(t.url), consentGiven: true },
    });
    const invoiceId = await issueInvoice(customer.id, 25_000);
    const taken = (
      await manager.client.ok(TAKE, {
        i: { customerId: customer.id, paymentMethodId: saved.savePaymentMethod.paymentMethod.id, amount: usd(25_000), invoices: [{ invoiceId, amount: usd(25_000) }] },
      })
    ).takePayment;
    expect(taken.status).toBe('PROCESSING');
    // A processing debit is not refundable (it has not been paid yet).
    expect((await refund(manager.client, { paymentId: taken.id })).errors?.[0]?.extensions).toMatchObject({ reason: 'INVALID_STATE' });
    expect((await staff.client.request(CANCEL, { id: taken.id, r: 'Customer paid by cheque' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const cancelled = await manager.client.ok(CANCEL, { id: taken.id, r: 'Customer paid by cheque' });
    expect(cancelled.cancelPayment).toEqual({ id: taken.id, status: 'CANCELLED' });
    expect((await payment(taken.id)).timeline.map((e: { type: string }) => e.type)).toContain('CANCELLED');
    expect(await outbox('PaymentCancelled', taken.id)).toEqual([expect.objectContaining({ customerId: customer.id, reason: 'Customer paid by cheque', invoiceIds: [invoiceId] })]);
    expect(await messages(customer.id)).toContain('PAYMENT_CANCELLED');

    // The bank's settle time passes: no webhook, the gateway says canceled, the payment stays CANCELLED.
    t.clock.advance((t.app.get(AppConfig).sandboxGateway.debitSettleSeconds + 60) * 1000);
    expect(await t.app.get(SandboxWebhooks).deliverDue(t.clock.now(), { endpoint: `${t.url}/webhooks/payments` })).toEqual({ delivered: 0, failed: 0 });
    expect((await t.app.get(PaymentGateway).getCharge(await chargeOf(taken.id))).status).toBe('canceled');
    await t.drainOutbox();
    expect((await payment(taken.id)).status).toBe('CANCELLED');
    expect(await received(taken.id)).toBeNull();
    expect(await invoice(invoiceId)).toMatchObject({ status: 'OPEN', amountDue: { amount: '25000' } });

    // Cancelling again changes nothing; a card payment cannot be cancelled (refund it).
    expect((await manager.client.ok(CANCEL, { id: taken.id, r: 'again' })).cancelPayment.status).toBe('CANCELLED');
    const card = await cardPayment(1_000);
    const res = await manager.client.request(CANCEL, { id: card.paymentId, r: 'oops' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_STATE' });
    expect(res.errors?.[0]?.message).toMatch(/refund it instead/);
  });

  it('only OWNER, ADMIN and PAYMENT_MANAGER refund; another organization\'s payment is NOT_FOUND', async () => {
    const { paymentId } = await cardPayment(3_000);
    expect((await refund(staff.client, { paymentId, amount: usd(100) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await refundOk(owner.client, { paymentId, amount: usd(100) })).status).toBe('SUCCEEDED');
    expect((await refundOk(admin.client, { paymentId, amount: usd(100) })).status).toBe('SUCCEEDED');

    const theirs = await refund(other.client, { paymentId, amount: usd(100) });
    expect(theirs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await other.client.request(CANCEL, { id: paymentId, r: 'x' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await refund(manager.client, { paymentId: 'not-a-uuid' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await gatewayRefunds(paymentId)).toEqual([100, 100]);
  });
});
