import { randomUUID } from 'node:crypto';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Reconciliation } from '../src/modules/invoicing/application/reconciliation.facade.js';
import { PaymentSource } from '../src/modules/invoicing/domain/received-payment.entity.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;
type Client = Member['client'];

const PAYMENT = `id customerId source method reference status receivedAt recordedBy reversedAt reversalReason
  amount { amount currency } amountAllocated { amount } amountCredited { amount } unallocated { amount }
  allocations { invoiceId amount { amount } reversedAt }`;
const CREDIT = `id customerId invoiceId kind reason sourcePaymentId cancelledAt amount { amount } remaining { amount }
  applications { invoiceId amount { amount } reversedAt }`;
const INVOICE = `id number status total { amount } amountPaid { amount } amountCredited { amount } amountDue { amount }
  payments { paymentId amount { amount } method reference source }
  credits { creditId kind amount { amount } reason }`;

const usd = (amount: string | number) => ({ amount: String(amount), currency: 'USD' });

describe('invoicing: payments received, reconciliation and credits', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let admin: Member;
  let staff: Member;

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-05-04T14:00:00Z');
    owner = await signUpOrganization(t.gql, 'Harbor HVAC');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    admin = await addUser(owner.client, 'ADMIN');
    staff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  /** Runs `fn` as the Payments module would: in a transaction of a tenant-scoped EntityManager. */
  const inOrg = <T>(fn: (em: EntityManager) => Promise<T>): Promise<T> => {
    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, owner.organizationId);
    return em.transactional(fn);
  };
  const facade = () => t.app.get(Reconciliation);

  const issued = async (customerId: string, unitPrice: string | number) =>
    (
      await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId, issue: true, lines: [{ description: 'Furnace service', unitPrice: String(unitPrice), quantity: '1' }] },
      })
    ).createInvoice.id as string;
  const draft = async (customerId: string) =>
    (
      await staff.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId, lines: [{ description: 'Estimate', unitPrice: '5000', quantity: '1' }] },
      })
    ).createInvoice.id as string;
  const invoice = async (id: string) => (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { ${INVOICE} } }`, { id })).invoice;
  const payment = async (id: string, client: Client = owner.client) =>
    (await client.ok(`query($id: ID!) { receivedPayment(id: $id) { ${PAYMENT} } }`, { id })).receivedPayment;
  const balance = async (customerId: string) =>
    (
      await owner.client.ok(
        `query($id: ID!) { customer(id: $id) { balanceOwed balance { owed { amount } creditAvailable { amount } unallocatedPayments { amount } } } }`,
        { id: customerId },
      )
    ).customer;
  const expectBalance = async (customerId: string, owed: string, credit = '0', unallocated = '0') =>
    expect(await balance(customerId)).toEqual({
      balanceOwed: owed,
      balance: { owed: { amount: owed }, creditAvailable: { amount: credit }, unallocatedPayments: { amount: unallocated } },
    });
  const unreconciled = async (customerId?: string, client: Client = manager.client) =>
    (
      await client.ok(`query($c: ID) { unreconciledPayments(customerId: $c, first: 50) { totalCount nodes { id unallocated { amount } } } }`, {
        c: customerId ?? null,
      })
    ).unreconciledPayments;
  const events = async (type: string, key: string, value: string) => {
    const em = t.app.get(MikroORM).em.fork();
    const rows = await em.execute<{ n: string }[]>(
      `select count(*)::text as n from outbox_message where organization_id = ? and type = ? and payload ->> ? = ?`,
      [owner.organizationId, type, key, value],
    );
    return Number(rows[0]!.n);
  };

  const recordOffline = (input: Record<string, unknown>, client: Client = manager.client) =>
    client.request<{ recordOfflinePayment: Record<string, any> }>(
      `mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { ${PAYMENT} } }`,
      { i: { method: 'CHEQUE', ...input } },
    );
  const recordOfflineOk = async (input: Record<string, unknown>) => {
    const res = await recordOffline(input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.recordOfflinePayment;
  };
  const allocate = (paymentId: string, allocations: { invoiceId: string; amount: unknown }[], client: Client = manager.client, creditRemainder = false) =>
    client.request<{ allocatePayment: Record<string, any> }>(
      `mutation($i: AllocatePaymentInput!) { allocatePayment(input: $i) { payment { ${PAYMENT} } allocations { invoiceId amount { amount } } credit { ${CREDIT} } } }`,
      { i: { paymentId, allocations, creditRemainder } },
    );
  const reasonOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => [res.errors?.[0]?.extensions?.code, res.errors?.[0]?.extensions?.reason];

  describe('recording payments', () => {
    it('a payment from Payments without allocation stays UNRECONCILED, is listed, and recording it again changes nothing', async () => {
      const customer = await createCustomer(owner.client);
      const invoiceId = await issued(customer.id, 12000);
      const paymentId = randomUUID();
      const cmd = {
        paymentId,
        customerId: customer.id,
        amount: Money.of(5000, 'USD'),
        method: 'Visa ending in 4242',
        receivedAt: t.clock.now(),
        source: PaymentSource.PAYMENTS,
      };
      const recorded = await inOrg((em) => facade().recordPayment(em, cmd));
      expect(recorded).toMatchObject({ paymentId, status: 'UNRECONCILED' });
      expect(recorded.unallocated.amount).toBe(5000n);

      const again = await inOrg((em) => facade().recordPayment(em, cmd));
      expect(again.paymentId).toBe(paymentId);
      expect(await events('PaymentRecorded', 'paymentId', paymentId)).toBe(1);

      const list = await unreconciled(customer.id);
      expect(list).toEqual({ totalCount: 1, nodes: [{ id: paymentId, unallocated: { amount: '5000' } }] });
      await expectBalance(customer.id, '12000', '0', '5000');
      expect((await invoice(invoiceId)).status).toBe('OPEN');

      const conflict = await inOrg((em) => facade().recordPayment(em, { ...cmd, amount: Money.of(5001, 'USD') })).catch((e: unknown) => e);
      expect(conflict).toMatchObject({ code: 'CONFLICT', reason: 'PAYMENT_ID_CONFLICT' });
      expect((await payment(paymentId)).amount.amount).toBe('5000');
    });

    it('a payment recorded with allocations pays the invoices in the same transaction and announces it', async () => {
      const customer = await createCustomer(owner.client);
      const a = await issued(customer.id, 3000);
      const b = await issued(customer.id, 7000);
      const paymentId = randomUUID();
      await inOrg((em) =>
        facade().recordPayment(em, {
          paymentId,
          customerId: customer.id,
          amount: Money.of(10000, 'USD'),
          method: 'Visa ending in 4242',
          receivedAt: t.clock.now(),
          source: PaymentSource.PAYMENTS,
          allocations: [
            { invoiceId: a, amount: Money.of(3000, 'USD') },
            { invoiceId: b, amount: Money.of(7000, 'USD') },
          ],
        }),
      );
      expect((await payment(paymentId)).status).toBe('RECONCILED');
      for (const id of [a, b]) {
        const inv = await invoice(id);
        expect(inv).toMatchObject({ status: 'PAID', amountDue: { amount: '0' } });
        expect(inv.payments).toEqual([
          { paymentId, amount: { amount: inv.total.amount }, method: 'Visa ending in 4242', reference: null, source: 'PAYMENTS' },
        ]);
        expect(await events('InvoicePaid', 'invoiceId', id)).toBe(1);
        expect(await events('PaymentAllocated', 'invoiceId', id)).toBe(1);
      }
      await expectBalance(customer.id, '0');
      expect((await unreconciled(customer.id)).totalCount).toBe(0);
    });

    it('staff record an offline cheque over GraphQL; a retry with the same paymentId records it once', async () => {
      const customer = await createCustomer(owner.client);
      const invoiceId = await issued(customer.id, 8000);
      const paymentId = randomUUID();
      const input = { paymentId, customerId: customer.id, amount: usd(2500), reference: 'Cheque #1042', allocations: [{ invoiceId, amount: usd(2500) }] };
      const recorded = await recordOfflineOk(input);
      expect(recorded).toMatchObject({
        id: paymentId,
        source: 'OFFLINE',
        method: 'CHEQUE',
        reference: 'Cheque #1042',
        status: 'RECONCILED',
        recordedBy: manager.userId,
        allocations: [{ invoiceId, amount: { amount: '2500' }, reversedAt: null }],
      });
      await recordOfflineOk(input);
      const inv = await invoice(invoiceId);
      expect(inv).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: { amount: '2500' }, amountDue: { amount: '5500' } });
      expect(inv.payments).toHaveLength(1);
      await expectBalance(customer.id, '5500');
    });

    it('bad input is refused naming the field, and nothing is recorded', async () => {
      const customer = await createCustomer(owner.client);
      const negative = await recordOffline({ customerId: customer.id, amount: usd(-5) });
      expect(reasonOf(negative)).toEqual(['BAD_USER_INPUT', 'INVALID_INPUT']);
      expect(negative.errors![0]!.extensions!.fields).toEqual([{ field: 'amount', message: 'must be more than zero' }]);
      const euros = await recordOffline({ customerId: customer.id, amount: { amount: '500', currency: 'EUR' } });
      expect(reasonOf(euros)).toEqual(['BAD_USER_INPUT', 'CURRENCY_MISMATCH']);
      const future = await recordOffline({ customerId: customer.id, amount: usd(500), receivedAt: '2026-06-01T00:00:00Z' });
      expect(reasonOf(future)).toEqual(['BAD_USER_INPUT', 'INVALID_INPUT']);
      const unknown = await recordOffline({ customerId: randomUUID(), amount: usd(500) });
      expect(reasonOf(unknown)).toEqual(['NOT_FOUND', 'CUSTOMER_NOT_FOUND']);
      expect(
        (await owner.client.ok(`query($c: ID!) { receivedPayments(customerId: $c) { totalCount } }`, { c: customer.id })).receivedPayments.totalCount,
      ).toBe(0);
    });
  });

  describe('allocation', () => {
    it('allocates partly, then fully across several invoices; the payment leaves the list when nothing is left', async () => {
      const customer = await createCustomer(owner.client);
      const a = await issued(customer.id, 4000);
      const b = await issued(customer.id, 6000);
      const p = await recordOfflineOk({ customerId: customer.id, amount: usd(9000) });
      expect(p.status).toBe('UNRECONCILED');
      await expectBalance(customer.id, '10000', '0', '9000');

      const first = await allocate(p.id, [{ invoiceId: a, amount: usd(1500) }]);
      expect(first.errors).toBeUndefined();
      expect(first.data!.allocatePayment.payment).toMatchObject({ status: 'UNRECONCILED', unallocated: { amount: '7500' } });
      expect((await invoice(a)).status).toBe('PARTIALLY_PAID');
      await expectBalance(customer.id, '8500', '0', '7500');
      expect((await unreconciled(customer.id)).nodes).toEqual([{ id: p.id, unallocated: { amount: '7500' } }]);

      const second = await allocate(
        p.id,
        [
          { invoiceId: a, amount: usd(2500) },
          { invoiceId: b, amount: usd(5000) },
        ],
        admin.client,
      );
      expect(second.errors).toBeUndefined();
      expect(second.data!.allocatePayment.payment).toMatchObject({ status: 'RECONCILED', unallocated: { amount: '0' }, amountAllocated: { amount: '9000' } });
      expect(await invoice(a)).toMatchObject({ status: 'PAID', amountPaid: { amount: '4000' } });
      expect(await invoice(b)).toMatchObject({ status: 'PARTIALLY_PAID', amountDue: { amount: '1000' } });
      await expectBalance(customer.id, '1000');
      expect((await unreconciled(customer.id)).totalCount).toBe(0);
      expect((await payment(p.id)).allocations).toHaveLength(3);
    });

    it('refuses too much, unissued, another customer’s invoice and another currency — and changes nothing', async () => {
      const customer = await createCustomer(owner.client);
      const other = await createCustomer(owner.client);
      const inv = await issued(customer.id, 5000);
      const draftId = await draft(customer.id);
      const othersInvoice = await issued(other.id, 5000);
      const p = await recordOfflineOk({ customerId: customer.id, amount: usd(6000) });

      expect(reasonOf(await allocate(p.id, [{ invoiceId: inv, amount: usd(6001) }]))).toEqual(['CONFLICT', 'ALLOCATION_EXCEEDS_PAYMENT']);
      const exceedsDue = await allocate(p.id, [{ invoiceId: inv, amount: usd(5001) }]);
      expect(reasonOf(exceedsDue)).toEqual(['CONFLICT', 'ALLOCATION_EXCEEDS_DUE']);
      expect(exceedsDue.errors![0]!.extensions!.fields).toEqual([{ field: 'allocations.0.amount', message: expect.stringContaining('$50.00') }]);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: draftId, amount: usd(100) }]))).toEqual(['CONFLICT', 'INVOICE_NOT_ISSUED']);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: othersInvoice, amount: usd(100) }]))).toEqual(['BAD_USER_INPUT', 'CUSTOMER_MISMATCH']);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: inv, amount: { amount: '100', currency: 'CAD' } }]))).toEqual([
        'BAD_USER_INPUT',
        'CURRENCY_MISMATCH',
      ]);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: randomUUID(), amount: usd(100) }]))).toEqual(['NOT_FOUND', 'INVOICE_NOT_FOUND']);
      expect(reasonOf(await allocate(randomUUID(), [{ invoiceId: inv, amount: usd(100) }]))).toEqual(['NOT_FOUND', 'PAYMENT_NOT_FOUND']);
      // All or nothing: the first allocation is fine, the second is not, so neither is made.
      expect(
        reasonOf(
          await allocate(p.id, [
            { invoiceId: inv, amount: usd(1000) },
            { invoiceId: othersInvoice, amount: usd(1000) },
          ]),
        ),
      ).toEqual(['BAD_USER_INPUT', 'CUSTOMER_MISMATCH']);

      expect(await payment(p.id)).toMatchObject({ status: 'UNRECONCILED', unallocated: { amount: '6000' }, allocations: [] });
      expect(await invoice(inv)).toMatchObject({ status: 'OPEN', amountDue: { amount: '5000' }, payments: [] });
      expect((await invoice(othersInvoice)).amountDue.amount).toBe('5000');
      await expectBalance(customer.id, '5000', '0', '6000');
      await expectBalance(other.id, '5000');
    });

    it('only OWNER, ADMIN and PAYMENT_MANAGER reconcile; STAFF gets FORBIDDEN but may look', async () => {
      const customer = await createCustomer(owner.client);
      const inv = await issued(customer.id, 1000);
      const p = await recordOfflineOk({ customerId: customer.id, amount: usd(1000) });
      expect(reasonOf(await allocate(p.id, [{ invoiceId: inv, amount: usd(1000) }], staff.client))[0]).toBe('FORBIDDEN');
      expect((await recordOffline({ customerId: customer.id, amount: usd(1) }, staff.client)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await staff.client.request(`{ unreconciledPayments { totalCount } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const reverse = await staff.client.request(`mutation($p: ID!) { reversePayment(paymentId: $p, reason: "bounced") { id } }`, { p: p.id });
      expect(reverse.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const credit = await staff.client.request(`mutation($p: ID!) { creditUnallocatedPayment(paymentId: $p) { credit { id } } }`, { p: p.id });
      expect(credit.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await payment(p.id, staff.client)).status).toBe('UNRECONCILED');
      expect((await unreconciled(customer.id, owner.client)).totalCount).toBe(1);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: inv, amount: usd(1000) }], owner.client))).toEqual([undefined, undefined]);
    });

    it('turns the unallocated rest into account credit the customer can apply to another invoice', async () => {
      const customer = await createCustomer(owner.client);
      const a = await issued(customer.id, 7000);
      const p = await recordOfflineOk({ customerId: customer.id, amount: usd(10000) });
      const res = await allocate(p.id, [{ invoiceId: a, amount: usd(7000) }], manager.client, true);
      expect(res.errors).toBeUndefined();
      const { payment: paid, credit } = res.data!.allocatePayment;
      expect(paid).toMatchObject({ status: 'RECONCILED', amountCredited: { amount: '3000' }, unallocated: { amount: '0' } });
      expect(credit).toMatchObject({ kind: 'OVERPAYMENT', sourcePaymentId: p.id, amount: { amount: '3000' }, remaining: { amount: '3000' } });
      await expectBalance(customer.id, '0', '3000');
      expect(await events('CreditCreated', 'creditId', credit.id)).toBe(1);

      const again = await manager.client.request(`mutation($p: ID!) { creditUnallocatedPayment(paymentId: $p) { credit { id } } }`, { p: p.id });
      expect(reasonOf(again)).toEqual(['CONFLICT', 'NOTHING_UNALLOCATED']);

      const b = await issued(customer.id, 2000);
      await manager.client.ok(`mutation($i: ApplyCreditInput!) { applyCredit(input: $i) { id } }`, {
        i: { creditId: credit.id, invoiceId: b, amount: usd(2000) },
      });
      expect((await invoice(b)).status).toBe('PAID');
      await expectBalance(customer.id, '0', '1000');
    });

    it('two payments racing for one invoice: exactly one allocation succeeds and the invoice is paid once', async () => {
      for (let round = 0; round < 3; round++) {
        const customer = await createCustomer(owner.client);
        const inv = await issued(customer.id, 4200);
        const p1 = await recordOfflineOk({ customerId: customer.id, amount: usd(4200) });
        const p2 = await recordOfflineOk({ customerId: customer.id, amount: usd(4200) });
        const results = await Promise.all([
          allocate(p1.id, [{ invoiceId: inv, amount: usd(4200) }], manager.client),
          allocate(p2.id, [{ invoiceId: inv, amount: usd(4200) }], admin.client),
        ]);
        const ok = results.filter((r) => !r.errors);
        const refused = results.filter((r) => r.errors);
        expect(ok).toHaveLength(1);
        expect(refused.map(reasonOf)).toEqual([['CONFLICT', 'ALLOCATION_EXCEEDS_DUE']]);
        expect(await invoice(inv)).toMatchObject({ status: 'PAID', amountPaid: { amount: '4200' }, total: { amount: '4200' } });
        const [row] = await t.app
          .get(MikroORM)
          .em.fork()
          .execute<{ paid: string; total: string }[]>(`select amount_paid::text as paid, total::text as total from invoice where id = ?`, [inv]);
        expect(row!.paid).toBe(row!.total);
        expect(await events('InvoicePaid', 'invoiceId', inv)).toBe(1);
        expect((await unreconciled(customer.id)).totalCount).toBe(1); // the loser's payment is still to reconcile
        await expectBalance(customer.id, '0', '0', '4200');
      }
    });
  });

  describe('reversal', () => {
    it('reversing a payment undoes its allocations and the credit made from it, and restores the balance', async () => {
      const customer = await createCustomer(owner.client);
      const a = await issued(customer.id, 3000);
      const b = await issued(customer.id, 4000);
      const c = await issued(customer.id, 2500);
      await expectBalance(customer.id, '9500');
      const p = await recordOfflineOk({
        customerId: customer.id,
        amount: usd(9000),
        allocations: [
          { invoiceId: a, amount: usd(3000) },
          { invoiceId: b, amount: usd(1000) },
        ],
      });
      const { credit } = (await manager.client.ok(`mutation($p: ID!) { creditUnallocatedPayment(paymentId: $p) { credit { id } } }`, { p: p.id }))
        .creditUnallocatedPayment;
      await manager.client.ok(`mutation($i: ApplyCreditInput!) { applyCredit(input: $i) { id } }`, {
        i: { creditId: credit.id, invoiceId: c, amount: usd(2500) },
      });
      await expectBalance(customer.id, '3000', '2500');
      expect((await invoice(c)).credits).toEqual([{ creditId: credit.id, kind: 'OVERPAYMENT', amount: { amount: '2500' }, reason: expect.any(String) }]);

      t.clock.advance(60_000);
      const reversed = await manager.client.ok(`mutation($p: ID!) { reversePayment(paymentId: $p, reason: "Cheque bounced") { ${PAYMENT} } }`, {
        p: p.id,
      });
      expect(reversed.reversePayment).toMatchObject({ status: 'REVERSED', reversalReason: 'Cheque bounced', unallocated: { amount: '0' } });
      expect(reversed.reversePayment.allocations.every((x: { reversedAt: string | null }) => x.reversedAt !== null)).toBe(true);
      expect(await invoice(a)).toMatchObject({ status: 'OPEN', amountDue: { amount: '3000' }, payments: [] });
      expect(await invoice(b)).toMatchObject({ status: 'OPEN', amountDue: { amount: '4000' } });
      expect(await invoice(c)).toMatchObject({ status: 'OPEN', amountDue: { amount: '2500' }, credits: [] });
      const cancelled = (await owner.client.ok(`query($id: ID!) { credit(id: $id) { ${CREDIT} } }`, { id: credit.id })).credit;
      expect(cancelled.cancelledAt).not.toBeNull();
      expect(cancelled.remaining.amount).toBe('0');
      await expectBalance(customer.id, '9500');
      expect(await events('PaymentReversed', 'paymentId', p.id)).toBe(1);
      expect(await events('PaymentAllocationReversed', 'paymentId', p.id)).toBe(2);
      expect(await events('CreditApplicationReversed', 'creditId', credit.id)).toBe(1);

      // Idempotent; and a reversed payment takes no allocation, its credit no application.
      await manager.client.ok(`mutation($p: ID!) { reversePayment(paymentId: $p, reason: "again") { id } }`, { p: p.id });
      expect(await events('PaymentReversed', 'paymentId', p.id)).toBe(1);
      expect(reasonOf(await allocate(p.id, [{ invoiceId: a, amount: usd(100) }]))).toEqual(['CONFLICT', 'PAYMENT_REVERSED']);
      const apply = await manager.client.request(`mutation($i: ApplyCreditInput!) { applyCredit(input: $i) { id } }`, {
        i: { creditId: credit.id, invoiceId: a, amount: usd(100) },
      });
      expect(reasonOf(apply)).toEqual(['CONFLICT', 'CREDIT_CANCELLED']);
    });

    it('a card payment is reversed by Payments through the facade, not by staff over GraphQL', async () => {
      const customer = await createCustomer(owner.client);
      const inv = await issued(customer.id, 1500);
      const paymentId = randomUUID();
      await inOrg((em) =>
        facade().recordPayment(em, {
          paymentId,
          customerId: customer.id,
          amount: Money.of(1500, 'USD'),
          method: 'Visa ending in 4242',
          receivedAt: t.clock.now(),
          source: PaymentSource.PAYMENTS,
          allocations: [{ invoiceId: inv, amount: Money.of(1500, 'USD') }],
        }),
      );
      const refused = await manager.client.request(`mutation($p: ID!) { reversePayment(paymentId: $p, reason: "refund") { id } }`, { p: paymentId });
      expect(reasonOf(refused)).toEqual(['CONFLICT', 'PAYMENT_NOT_OFFLINE']);
      await expectBalance(customer.id, '0');
      const reversed = await inOrg((em) => facade().reversePayment(em, paymentId, 'Refunded at the customer’s request'));
      expect(reversed.status).toBe('REVERSED');
      expect((await inOrg((em) => facade().reversePayment(em, paymentId, 'again'))).status).toBe('REVERSED');
      expect((await invoice(inv)).status).toBe('OPEN');
      await expectBalance(customer.id, '1500');
    });
  });

  describe('credits', () => {
    const creditNote = (input: Record<string, unknown>, client: Client = manager.client) =>
      client.request<{ createCreditNote: Record<string, any> }>(`mutation($i: CreateCreditNoteInput!) { createCreditNote(input: $i) { ${CREDIT} } }`, {
        i: { kind: 'ADJUSTMENT', reason: 'Wrong part price', ...input },
      });

    it('a credit note settles its invoice at once; credit notes never exceed the invoice; the rest stays as credit', async () => {
      const customer = await createCustomer(owner.client);
      const inv = await issued(customer.id, 10000);

      const adj = await creditNote({ invoiceId: inv, amount: usd(3000) });
      expect(adj.errors).toBeUndefined();
      expect(adj.data!.createCreditNote).toMatchObject({ kind: 'ADJUSTMENT', invoiceId: inv, remaining: { amount: '0' } });
      expect(await invoice(inv)).toMatchObject({ status: 'PARTIALLY_PAID', amountCredited: { amount: '3000' }, amountDue: { amount: '7000' } });
      await expectBalance(customer.id, '7000');

      expect(reasonOf(await creditNote({ invoiceId: inv, kind: 'REFUND', amount: usd(7001) }))).toEqual(['CONFLICT', 'CREDIT_NOTE_EXCEEDS_INVOICE']);
      expect((await invoice(inv)).amountDue.amount).toBe('7000');

      // The customer pays the rest; a refund credit note afterwards is credit in their favour (Payments refunds it).
      await recordOfflineOk({ customerId: customer.id, amount: usd(7000), allocations: [{ invoiceId: inv, amount: usd(7000) }] });
      expect((await invoice(inv)).status).toBe('PAID');
      const refund = await creditNote({ invoiceId: inv, kind: 'REFUND', amount: usd(2000), reason: 'Returned thermostat' });
      expect(refund.data!.createCreditNote).toMatchObject({ kind: 'REFUND', remaining: { amount: '2000' }, applications: [] });
      await expectBalance(customer.id, '0', '2000');
      expect(reasonOf(await creditNote({ invoiceId: inv, amount: usd(5001) }))).toEqual(['CONFLICT', 'CREDIT_NOTE_EXCEEDS_INVOICE']);
      expect((await invoice(inv)).credits.map((c: { kind: string }) => c.kind)).toEqual(['ADJUSTMENT']);
    });

    it('refuses credit notes against drafts, of an account-credit kind, or without a reason; STAFF cannot credit', async () => {
      const customer = await createCustomer(owner.client);
      const draftId = await draft(customer.id);
      const inv = await issued(customer.id, 1000);
      expect(reasonOf(await creditNote({ invoiceId: draftId, amount: usd(100) }))).toEqual(['CONFLICT', 'INVOICE_NOT_ISSUED']);
      expect(reasonOf(await creditNote({ invoiceId: inv, kind: 'GOODWILL', amount: usd(100) }))).toEqual(['BAD_USER_INPUT', 'INVALID_INPUT']);
      expect(reasonOf(await creditNote({ invoiceId: inv, amount: usd(100), reason: '  ' }))).toEqual(['BAD_USER_INPUT', 'INVALID_INPUT']);
      expect(reasonOf(await creditNote({ invoiceId: inv, amount: usd(100) }, staff.client))[0]).toBe('FORBIDDEN');
      const account = await staff.client.request(`mutation($i: CreateAccountCreditInput!) { createAccountCredit(input: $i) { id } }`, {
        i: { customerId: customer.id, amount: usd(100), reason: 'Sorry' },
      });
      expect(account.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(await invoice(inv)).toMatchObject({ status: 'OPEN', amountDue: { amount: '1000' } });
      await expectBalance(customer.id, '1000');
    });

    it('account credit is applied within what it has left and what the invoice owes, to the same customer only', async () => {
      const customer = await createCustomer(owner.client);
      const other = await createCustomer(owner.client);
      const inv = await issued(customer.id, 2000);
      const othersInvoice = await issued(other.id, 2000);
      const created = await admin.client.ok(`mutation($i: CreateAccountCreditInput!) { createAccountCredit(input: $i) { ${CREDIT} } }`, {
        i: { customerId: customer.id, amount: usd(5000), reason: 'Late technician' },
      });
      const creditId = created.createAccountCredit.id;
      expect(created.createAccountCredit).toMatchObject({ kind: 'GOODWILL', invoiceId: null, remaining: { amount: '5000' } });
      await expectBalance(customer.id, '2000', '5000');

      const apply = (invoiceId: string, amount: unknown, client: Client = manager.client) =>
        client.request(`mutation($i: ApplyCreditInput!) { applyCredit(input: $i) { ${CREDIT} } }`, { i: { creditId, invoiceId, amount } });
      expect(reasonOf(await apply(inv, usd(5001)))).toEqual(['CONFLICT', 'CREDIT_EXCEEDS_REMAINING']);
      expect(reasonOf(await apply(inv, usd(2001)))).toEqual(['CONFLICT', 'ALLOCATION_EXCEEDS_DUE']);
      expect(reasonOf(await apply(othersInvoice, usd(100)))).toEqual(['BAD_USER_INPUT', 'CUSTOMER_MISMATCH']);
      expect(reasonOf(await apply(inv, usd(100), staff.client))[0]).toBe('FORBIDDEN');
      await expectBalance(customer.id, '2000', '5000');
      await expectBalance(other.id, '2000');

      const applied = await apply(inv, usd(2000));
      expect(applied.errors).toBeUndefined();
      expect(applied.data!.applyCredit).toMatchObject({ remaining: { amount: '3000' }, applications: [{ invoiceId: inv, amount: { amount: '2000' } }] });
      expect(await invoice(inv)).toMatchObject({ status: 'PAID', amountCredited: { amount: '2000' } });
      expect(await events('InvoicePaid', 'invoiceId', inv)).toBe(1);
      await expectBalance(customer.id, '0', '3000');

      const list = async (includeSpent: boolean) =>
        (
          await staff.client.ok(`query($c: ID!, $s: Boolean!) { credits(customerId: $c, includeSpent: $s) { totalCount nodes { id remaining { amount } } } }`, {
            c: customer.id,
            s: includeSpent,
          })
        ).credits;
      expect(await list(false)).toEqual({ totalCount: 1, nodes: [{ id: creditId, remaining: { amount: '3000' } }] });
      await apply((await issued(customer.id, 3000)) as string, usd(3000));
      expect((await list(false)).totalCount).toBe(0);
      expect((await list(true)).totalCount).toBe(1);
    });
  });
});
