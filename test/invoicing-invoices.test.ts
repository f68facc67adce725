import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Invoices } from '../src/modules/invoicing/application/invoices.use-case.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const INVOICE = `id number status customerId currency issueDate dueDate paymentTermsDays daysOverdue memo voidReason
  subtotal { amount currency formatted } tax { amount } total { amount formatted } amountDue { amount } amountPaid { amount }
  billedRef { type id label }
  lines { position description quantity unitPrice { amount } taxRate subtotal { amount } tax { amount } total { amount } }`;

const DAY = 86_400_000;

describe('invoicing: invoices, numbering, lifecycle, balances', () => {
  let t: TestApp;
  let owner: Owner;
  let staff: Member;
  let manager: Member;

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set('2026-03-10T15:00:00Z');
    owner = await signUpOrganization(t.gql, 'Lakeside Pools');
    staff = await addUser(owner.client, 'STAFF');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
  });
  afterAll(() => t.close());

  const create = (client: Member['client'], input: Record<string, unknown>) =>
    client.request<{ createInvoice: Record<string, any> }>(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { ${INVOICE} } }`, { i: input });
  const createOk = async (input: Record<string, unknown>, client = staff.client) => {
    const res = await create(client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.createInvoice;
  };
  const issue = (id: string, client = staff.client) =>
    client.request<{ issueInvoice: Record<string, any> }>(`mutation($id: ID!) { issueInvoice(id: $id) { ${INVOICE} } }`, { id });
  const getInvoice = async (id: string) => (await owner.client.ok(`query($id: ID!) { invoice(id: $id) { ${INVOICE} } }`, { id })).invoice;
  const countInvoices = async (customerId: string) =>
    (await owner.client.ok(`query($c: ID!) { invoices(filter: { customerId: $c }) { totalCount } }`, { c: customerId })).invoices.totalCount;
  const line = (unitPrice: string, quantity = '1', taxRate: string | null = null) => ({ description: 'Pool opening', unitPrice, quantity, taxRate });

  it('a STAFF user drafts an invoice: lines rounded half up per line, totals are the sums of the printed lines, no number yet', async () => {
    const customer = await createCustomer(owner.client);
    // 3 × 19.99 = 59.97; tax 8.875% of 59.97 = 5.3223… → 5.32. 1.5 h × 45.33 = 67.995 → 68.00; tax 14.975% → 10.183 → 10.18.
    const invoice = await createOk({
      customerId: customer.id,
      lines: [line('1999', '3', '8.875'), { description: 'Labour', unitPrice: '4533', quantity: '1.5', taxRate: '14.975' }, line('-500')],
      memo: 'Spring opening',
    });
    expect(invoice).toMatchObject({ number: null, status: 'DRAFT', currency: 'USD', issueDate: null, memo: 'Spring opening' });
    expect(invoice.lines.map((l: any) => [l.quantity, l.subtotal.amount, l.tax.amount, l.total.amount, l.taxRate])).toEqual([
      ['3', '5997', '532', '6529', '8.875'],
      ['1.5', '6800', '1018', '7818', '14.975'],
      ['1', '-500', '0', '-500', null],
    ]);
    expect(invoice.subtotal.amount).toBe('12297');
    expect(invoice.tax.amount).toBe('1550');
    expect(invoice.total).toEqual({ amount: '13847', formatted: '$138.47' });
    expect(invoice.amountDue.amount).toBe('0'); // a draft owes nothing
  });

  it('bad lines are refused naming each field, and nothing is written', async () => {
    const customer = await createCustomer(owner.client);
    const res = await create(staff.client, {
      customerId: customer.id,
      lines: [
        { description: '  ', unitPrice: '100', quantity: '1' },
        { description: 'Too precise', unitPrice: '100', quantity: '1.2345' },
        { description: 'Tax too high', unitPrice: '100', quantity: '1', taxRate: '101' },
        { description: 'Zero quantity', unitPrice: '100', quantity: '0' },
      ],
      dueDate: '2026-02-30',
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const fields = (res.errors![0]!.extensions!.fields as { field: string }[]).map((f) => f.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['lines.0.description', 'lines.1.quantity', 'lines.2.taxRate', 'lines.3.quantity', 'dueDate']));
    expect(await countInvoices(customer.id)).toBe(0);
  });

  it('issuing numbers the invoice, dates it in the organization, and from then on it is immutable', async () => {
    const customer = await createCustomer(owner.client);
    const draft = await createOk({ customerId: customer.id, lines: [line('10000')] });
    const edited = await staff.client.ok(`mutation($id: ID!, $i: UpdateInvoiceDraftInput!) { updateInvoiceDraft(id: $id, input: $i) { ${INVOICE} } }`, {
      id: draft.id,
      i: { lines: [line('12000'), line('3000')], paymentTermsDays: 15 },
    });
    expect(edited.updateInvoiceDraft.total.amount).toBe('15000');
    expect(edited.updateInvoiceDraft.lines).toHaveLength(2);

    const issued = (await issue(draft.id)).data!.issueInvoice;
    expect(issued).toMatchObject({ status: 'OPEN', issueDate: '2026-03-10', dueDate: '2026-03-25', amountDue: { amount: '15000' } });
    expect(issued.number).toMatch(/^INV-\d{6}$/);

    const refused = await staff.client.request(`mutation($id: ID!) { updateInvoiceDraft(id: $id, input: { memo: "changed" }) { id } }`, { id: draft.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVOICE_NOT_DRAFT' });
    expect(refused.errors?.[0]?.message).toMatch(/credit note/);
    const again = await issue(draft.id);
    expect(again.errors?.[0]?.extensions?.reason).toBe('INVOICE_NOT_DRAFT');
    expect((await getInvoice(draft.id)).memo).toBeNull();
  });

  it('an empty draft or one totalling zero cannot be issued; a due date before today is refused at issue', async () => {
    const customer = await createCustomer(owner.client);
    const empty = await createOk({ customerId: customer.id, lines: [] });
    expect((await issue(empty.id)).errors?.[0]?.extensions?.reason).toBe('EMPTY_INVOICE');
    const zero = await createOk({ customerId: customer.id, lines: [line('1000'), line('-1000')] });
    expect((await issue(zero.id)).errors?.[0]?.extensions?.reason).toBe('TOTAL_NOT_POSITIVE');
    const late = await createOk({ customerId: customer.id, lines: [line('1000')], dueDate: '2026-03-01' });
    const res = await issue(late.id);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'DUE_BEFORE_ISSUE' });
    expect((await getInvoice(late.id)).status).toBe('DRAFT');
  });

  it('numbers are gap-free and unique when many invoices are issued at the same moment, and a rolled-back issue gives its number back', async () => {
    const org = await signUpOrganization(t.gql, 'Concurrent Co');
    const customers = await Promise.all(Array.from({ length: 5 }, () => createCustomer(org.client)));
    const drafts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        org.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
          i: { customerId: customers[i % 5]!.id, lines: [line(String(1000 + i))] },
        }),
      ),
    );
    // 20 issues of existing drafts and 20 create-and-issue, all at once, over HTTP.
    const results = await Promise.all([
      ...drafts.map((d) => org.client.ok(`mutation($id: ID!) { issueInvoice(id: $id) { number } }`, { id: d.createInvoice.id })),
      ...Array.from({ length: 20 }, (_, i) =>
        org.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { number } }`, {
          i: { customerId: customers[i % 5]!.id, lines: [line('2500')], issue: true },
        }),
      ),
    ]);
    const numbers = results.map((r: any) => (r.issueInvoice ?? r.createInvoice).number as string).sort();
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => `INV-${String(i + 1).padStart(6, '0')}`));

    // A transaction that issues and then fails returns its number: the next invoice gets it.
    const orm = t.app.get(MikroORM);
    const em = orm.em.fork();
    scopeToTenant(em, org.organizationId);
    const invoices = t.app.get(Invoices);
    await expect(
      em.transactional(async (tx) => {
        await invoices.createAndIssue(tx, { customerId: customers[0]!.id, lines: [{ description: 'x', quantity: '1', unitPrice: 100n }] }, null);
        throw new Error('crash after issuing');
      }),
    ).rejects.toThrow('crash after issuing');
    const next = await org.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { number } }`, {
      i: { customerId: customers[0]!.id, lines: [line('100')], issue: true },
    });
    expect(next.createInvoice.number).toBe('INV-000041');
    // Each organization has its own sequence.
    const other = await signUpOrganization(t.gql, 'Other Co');
    const otherCustomer = await createCustomer(other.client);
    const first = await other.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { number } }`, {
      i: { customerId: otherCustomer.id, lines: [line('100')], issue: true },
    });
    expect(first.createInvoice.number).toBe('INV-000001');
  });

  it('voiding needs a payment manager, a reason, and takes the invoice off the balance; its number stays', async () => {
    const customer = await createCustomer(owner.client);
    const invoice = await createOk({ customerId: customer.id, lines: [line('5000')], issue: true });
    const balance = async () =>
      (await owner.client.ok(`query($id: ID!) { customer(id: $id) { balanceOwed balance { owed { amount } unpaidInvoices } } }`, { id: customer.id }))
        .customer;
    expect(await balance()).toEqual({ balanceOwed: '5000', balance: { owed: { amount: '5000' }, unpaidInvoices: 1 } });

    const voidIt = (client: Member['client'], reason: string) =>
      client.request(`mutation($id: ID!, $r: String!) { voidInvoice(id: $id, reason: $r) { status number voidReason amountDue { amount } } }`, {
        id: invoice.id,
        r: reason,
      });
    expect((await voidIt(staff.client, 'mistake')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await voidIt(manager.client, '   ')).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const voided = (await voidIt(manager.client, 'Billed the wrong customer')).data!.voidInvoice;
    expect(voided).toEqual({ status: 'VOID', number: invoice.number, voidReason: 'Billed the wrong customer', amountDue: { amount: '0' } });
    expect(await balance()).toEqual({ balanceOwed: '0', balance: { owed: { amount: '0' }, unpaidInvoices: 0 } });
    expect((await voidIt(manager.client, 'again')).errors?.[0]?.extensions?.reason).toBe('ALREADY_VOID');
  });

  it('the balance filters find customers owing more than an amount and overdue by more than N days', async () => {
    const org = await signUpOrganization(t.gql, 'Filters Co');
    const [small, big, paidUp] = await Promise.all([createCustomer(org.client), createCustomer(org.client), createCustomer(org.client)]);
    const bill = (customerId: string, amount: string, extra: Record<string, unknown> = {}) =>
      org.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id dueDate } }`, {
        i: { customerId, lines: [line(amount)], issue: true, ...extra },
      });
    await bill(small.id, '2000', { paymentTermsDays: 0 });
    await bill(big.id, '90000', { paymentTermsDays: 30 });
    const ids = async (filter: Record<string, unknown>) =>
      (await org.client.ok(`query($f: CustomerFilterInput) { customers(filter: $f, first: 100) { nodes { id } } }`, { f: filter })).customers.nodes
        .map((n: { id: string }) => n.id)
        .sort();

    expect(await ids({ balanceOwedAbove: '0' })).toEqual([small.id, big.id].sort());
    expect(await ids({ balanceOwedAbove: '50000' })).toEqual([big.id]);
    expect(await ids({ overdueByMoreThanDays: 0 })).toEqual([]); // nothing is past due on the day of issue
    void paidUp;

    const start = t.clock.now();
    try {
      t.clock.advance(10 * DAY); // small's invoice was due on the 10th: now 10 days overdue; big's is due in 20 days
      expect(await ids({ overdueByMoreThanDays: 5 })).toEqual([small.id]);
      expect(await ids({ overdueByMoreThanDays: 10 })).toEqual([]);
      const overdue = await org.client.ok(`{ invoices(filter: { overdue: true }) { nodes { customerId daysOverdue } } }`);
      expect(overdue.invoices.nodes).toEqual([{ customerId: small.id, daysOverdue: 10 }]);
      const view = await org.client.ok(`query($id: ID!) { customer(id: $id) { balance { owed { amount } overdue { amount } oldestUnpaidDueDate } } }`, {
        id: small.id,
      });
      expect(view.customer.balance).toEqual({ owed: { amount: '2000' }, overdue: { amount: '2000' }, oldestUnpaidDueDate: '2026-03-10' });
    } finally {
      t.clock.set(start);
    }
  });

  it('an invoice, its lines and its customer are shown in the organization read with the user: no statement of their own', async () => {
    const customer = await createCustomer(owner.client);
    const draft = await createOk({ customerId: customer.id, lines: [line('1999', '2'), line('500')] });
    t.queries.length = 0;
    const { invoice } = await owner.client.ok(`query($id: ID!) { invoice(id: $id) { total { formatted } daysOverdue customer { id }
      lines { unitPrice { formatted } total { formatted } } } }`, { id: draft.id });
    expect(invoice).toEqual({
      total: { formatted: '$44.98' },
      daysOverdue: 0,
      customer: { id: customer.id },
      lines: [{ unitPrice: { formatted: '$19.99' }, total: { formatted: '$39.98' } }, { unitPrice: { formatted: '$5.00' }, total: { formatted: '$5.00' } }],
    });
    expect(t.queries.filter((sql) => /from "organization"/i.test(sql))).toEqual([]);
    const listed = await owner.client.ok(`query($c: ID!) { invoices(filter: { customerId: $c }) { nodes { total { formatted } } } }`, { c: customer.id });
    expect(listed.invoices.nodes).toEqual([{ total: { formatted: '$44.98' } }]);
    expect(t.queries.filter((sql) => /from "organization"/i.test(sql))).toEqual([]);
  });

  it('an archived customer cannot be invoiced, and another organization cannot see or issue our invoices', async () => {
    const customer = await createCustomer(owner.client);
    const draft = await createOk({ customerId: customer.id, lines: [line('100')] });
    await owner.client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: customer.id });
    const res = await create(staff.client, { customerId: customer.id, lines: [line('100')] });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CUSTOMER_ARCHIVED' });
    expect((await issue(draft.id)).errors?.[0]?.extensions?.reason).toBe('CUSTOMER_ARCHIVED');

    const stranger = await signUpOrganization(t.gql, 'Stranger Co');
    const seen = await stranger.client.request(`query($id: ID!) { invoice(id: $id) { id } }`, { id: draft.id });
    expect(seen.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const unknownCustomer = await create(stranger.client, { customerId: customer.id, lines: [line('100')] });
    expect(unknownCustomer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
