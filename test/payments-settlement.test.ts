import { MikroORM } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { AppConfig } from '../src/config/index.js';
import { Payments } from '../src/modules/payments/application/payments.facade.js';
import { PaymentPurpose } from '../src/modules/payments/index.js';
import { SandboxWebhooks } from '../src/modules/payments/infrastructure/sandbox-webhooks.js';
import { createCustomer, sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const PROCESSING = `query($c: ID, $first: Int, $after: String) { processingPayments(customerId: $c, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { id customerId amount { amount currency } methodType methodLabel purpose invoiceIds attempt submittedAt expectedSettleAt customer { id name } } } }`;

/**
 * Bank debits (eChecks / ACH) through the sandbox: taken as PROCESSING (the invoice still owes it), listed in the
 * eCheck status report, and settled days later by the sandbox's simulated webhook — delivered over real HTTP to
 * /webhooks/payments once the clock has passed SANDBOX_DEBIT_SETTLE_SECONDS.
 */
describe('payments: bank-debit settlement', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let staff: Member;

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-06-01T15:00:00Z');
    owner = await signUpOrganization(t.gql, 'Prairie Pools');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  const settleMs = () => t.app.get(AppConfig).sandboxGateway.debitSettleSeconds * 1000;
  const deliverDue = () => t.app.get(SandboxWebhooks).deliverDue(t.clock.now(), { endpoint: `${t.url}/webhooks/payments` });

  async function bankMethod(customerId: string, accountNumber = '000123456789'): Promise<string> {
    const data = await manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId, token: await sandboxBankToken(t.url, accountNumber), consentGiven: true },
    });
    return data.savePaymentMethod.paymentMethod.id;
  }

  async function issuedInvoice(customerId: string, unitPrice: string): Promise<string> {
    const data = await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
      i: { customerId, issue: true, lines: [{ description: 'Pool opening', unitPrice, quantity: '1' }] },
    });
    return data.createInvoice.id;
  }

  const invoice = async (id: string) =>
    (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { id status amountDue { amount } } }`, { id })).invoice as {
      status: string;
      amountDue: { amount: string };
    };

  async function debit(customerId: string, paymentMethodId: string, invoiceId: string, amount: bigint) {
    return t.app.get(Payments).charge(owner.organizationId, {
      customerId,
      method: { paymentMethodId },
      amount: Money.of(amount, 'USD'),
      purpose: PaymentPurpose.INVOICES,
      allocations: [{ invoiceId, amount: Money.of(amount, 'USD') }],
      offSession: false,
      createdBy: manager.userId,
    });
  }

  const paymentRow = async (id: string) =>
    (
      await t.app
        .get(MikroORM)
        .em.fork()
        .execute<{ status: string; failure_message: string | null; failure_code: string | null }[]>(
          `select status, failure_message, failure_code from payment where id = ?`,
          [id],
        )
    )[0]!;

  const events = async (type: string, paymentId: string) =>
    t.app
      .get(MikroORM)
      .em.fork()
      .execute<{ payload: Record<string, unknown> }[]>(`select payload from outbox_message where type = ? and payload->>'paymentId' = ?`, [type, paymentId]);

  it('an ACH debit is PROCESSING and listed until the bank answers, then the webhook makes it SUCCEEDED and the invoice PAID with a receipt', async () => {
    const customer = await createCustomer(owner.client, { name: 'Dana Diver' });
    const method = await bankMethod(customer.id);
    const invoiceId = await issuedInvoice(customer.id, '25000');

    // Taken as staff do it, over GraphQL.
    const taken = (
      await manager.client.ok(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status } }`, {
        i: { customerId: customer.id, paymentMethodId: method, amount: { amount: '25000', currency: 'USD' }, invoices: [{ invoiceId, amount: { amount: '25000', currency: 'USD' } }] },
      })
    ).takePayment as { id: string; status: string };
    expect(taken.status).toBe('PROCESSING');
    await t.drainOutbox();
    expect(await invoice(invoiceId)).toMatchObject({ status: 'OPEN', amountDue: { amount: '25000' } });

    // The eCheck status report, for every staff role; filtered by customer.
    const listed = (await staff.client.ok(PROCESSING, { c: customer.id })).processingPayments;
    expect(listed.totalCount).toBe(1);
    const row = listed.nodes[0];
    expect(row).toMatchObject({
      id: taken.id,
      customerId: customer.id,
      amount: { amount: '25000', currency: 'USD' },
      methodType: 'BANK_ACCOUNT',
      purpose: 'INVOICES',
      invoiceIds: [invoiceId],
      attempt: 1,
      customer: { id: customer.id, name: 'Dana Diver' },
    });
    expect(new Date(row.expectedSettleAt).getTime() - new Date(row.submittedAt).getTime()).toBe(settleMs());

    // Before the settle time nothing is due: no webhook is sent, nothing moves.
    t.clock.advance(settleMs() - 60_000);
    expect(await deliverDue()).toEqual({ delivered: 0, failed: 0 });
    expect((await paymentRow(taken.id)).status).toBe('PROCESSING');

    t.clock.advance(61_000);
    expect(await deliverDue()).toEqual({ delivered: 1, failed: 0 });
    expect((await paymentRow(taken.id)).status).toBe('SUCCEEDED');
    await t.drainOutbox();
    expect(await invoice(invoiceId)).toMatchObject({ status: 'PAID', amountDue: { amount: '0' } });
    expect(await events('PaymentSucceeded', taken.id)).toHaveLength(1);
    const receipts = (await owner.client.ok(`query($c: ID) { receipts(customerId: $c, first: 5) { totalCount nodes { paymentId amount { amount } } } }`, { c: customer.id }))
      .receipts;
    expect(receipts.nodes).toEqual([{ paymentId: taken.id, amount: { amount: '25000' } }]);
    expect((await staff.client.ok(PROCESSING, { c: customer.id })).processingPayments.totalCount).toBe(0);

    // Each debit's webhook is delivered once: later runs send nothing again.
    t.clock.advance(3_600_000);
    expect(await deliverDue()).toEqual({ delivered: 0, failed: 0 });
    await t.drainOutbox();
    expect(await events('PaymentSucceeded', taken.id)).toHaveLength(1);
  });

  it('a returned debit (insufficient funds) becomes FAILED with the reason in words, PaymentFailed is published and the invoice still owes', async () => {
    const customer = await createCustomer(owner.client);
    const method = await bankMethod(customer.id, '000222222227');
    const invoiceId = await issuedInvoice(customer.id, '18000');

    const taken = await debit(customer.id, method, invoiceId, 18000n);
    expect(taken.status).toBe('PROCESSING');

    t.clock.advance(settleMs() + 1000);
    expect(await deliverDue()).toEqual({ delivered: 1, failed: 0 });
    const row = await paymentRow(taken.id);
    expect(row.status).toBe('FAILED');
    expect(row.failure_message).toMatch(/insufficient funds/i);
    await t.drainOutbox();

    const failed = await events('PaymentFailed', taken.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.payload).toMatchObject({ paymentId: taken.id, customerId: customer.id, invoiceIds: [invoiceId] });
    expect(String(failed[0]!.payload.reason)).toMatch(/insufficient funds/i);
    expect(await events('PaymentSucceeded', taken.id)).toHaveLength(0);
    expect(await invoice(invoiceId)).toMatchObject({ status: 'OPEN', amountDue: { amount: '18000' } });
    // Nothing had been recorded in Invoicing for the processing debit, so there is nothing to reverse (and the
    // consumer that would reverse it ran without error).
    expect(await events('PaymentReversed', taken.id)).toHaveLength(0);
    const deliveries = await t.app
      .get(MikroORM)
      .em.fork()
      .execute<{ status: string }[]>(`select status from outbox_delivery where handler = 'payments.settlement.reverse-failed-payment' and organization_id = ?`, [owner.organizationId]);
    expect(deliveries.map((d) => d.status)).toEqual(['PROCESSED']);
    expect((await staff.client.ok(PROCESSING, { c: customer.id })).processingPayments.totalCount).toBe(0);
  });

  it('a webhook the app could not take is sent again on the next run, and then only once', async () => {
    const customer = await createCustomer(owner.client);
    const method = await bankMethod(customer.id);
    const invoiceId = await issuedInvoice(customer.id, '9000');
    const taken = await debit(customer.id, method, invoiceId, 9000n);
    t.clock.advance(settleMs() + 1000);

    // Nobody listens there: the delivery fails and is not remembered as sent.
    const webhooks = t.app.get(SandboxWebhooks);
    expect(await webhooks.deliverDue(t.clock.now(), { endpoint: 'http://127.0.0.1:9/webhooks/payments' })).toEqual({ delivered: 0, failed: 1 });
    expect((await paymentRow(taken.id)).status).toBe('PROCESSING');

    expect(await deliverDue()).toEqual({ delivered: 1, failed: 0 });
    expect((await paymentRow(taken.id)).status).toBe('SUCCEEDED');
    expect(await deliverDue()).toEqual({ delivered: 0, failed: 0 });
  });

  it('lists processing payments oldest first, page by page, for every staff role; another customer id answers NOT_FOUND', async () => {
    const customer = await createCustomer(owner.client);
    const method = await bankMethod(customer.id);
    const ids: string[] = [];
    for (const price of ['1000', '2000', '3000']) {
      const inv = await issuedInvoice(customer.id, price);
      ids.push((await debit(customer.id, method, inv, BigInt(price))).id);
      t.clock.advance(1000);
    }
    const first = (await owner.client.ok(PROCESSING, { c: customer.id, first: 2 })).processingPayments;
    expect(first.totalCount).toBe(3);
    expect(first.nodes.map((n: { id: string }) => n.id)).toEqual(ids.slice(0, 2));
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await manager.client.ok(PROCESSING, { c: customer.id, first: 2, after: first.pageInfo.endCursor })).processingPayments;
    expect(second.nodes.map((n: { id: string }) => n.id)).toEqual(ids.slice(2));

    const other = await signUpOrganization(t.gql, 'Other Org');
    const res = await other.client.request(PROCESSING, { c: customer.id });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await other.client.ok(PROCESSING, {})).processingPayments.totalCount).toBe(0);
  });
});
