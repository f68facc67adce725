import { getQueueToken } from '@nestjs/bull';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bull';
import type { DeliveredEvent } from '#libs/ddd/index.js';
import { waitForQueueIdle } from '#libs/testing/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { AppModule, type AppModuleOptions } from '../src/app.module.js';
import { IntegrationsModule } from '../src/modules/integrations/index.js';
import { AccountingSyncConsumer } from '../src/modules/integrations/accounting/application/accounting-sync.consumer.js';
import { AccountingSyncRunner } from '../src/modules/integrations/accounting/application/accounting-sync.runner.js';
import { ACCOUNTING_SYNC_QUEUE } from '../src/modules/integrations/accounting/application/quickbooks-connection.js';
import { createCustomer } from './support/builders.js';
import { QboTestServer } from './support/qbo-test-server.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

// Until the composition root imports IntegrationsModule (src/app.module.ts, the lead's), add it here; a no-op after.
const forRoot = AppModule.forRoot.bind(AppModule);
AppModule.forRoot = (options: AppModuleOptions) => {
  const root = forRoot(options);
  const wired = root.imports!.some((m) => (m as { module?: unknown }).module === IntegrationsModule);
  if (!wired) {
    root.imports!.push(IntegrationsModule.forRoot({ api: options.config.runsApi, worker: options.config.runsWorker, schedule: options.scheduleJobs ?? true }));
  }
  return root;
};

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;

const CONNECTION = `{ accountingConnection { status realmId pendingCount failedCount lastError } }`;
const ERRORS = `query($r: Boolean) { accountingSyncErrors(first: 50, includeRetrying: $r) { totalCount nodes {
  id eventType entityType entityId status attempts httpStatus lastError fault { status type errors { code message detail } } } } }`;
const usd = (amount: number) => ({ amount: String(amount), currency: 'USD' });

describe('accounting sync to QuickBooks Online (local QuickBooks test server)', () => {
  let qbo: QboTestServer;
  let t: TestApp;
  let owner: Owner;
  let other: Owner;
  let unconnected: Owner;
  const REALM_A = '9130350000000101';
  const REALM_B = '9130350000000202';

  beforeAll(async () => {
    qbo = await new QboTestServer().start();
    // The settings read AppConfig.quickbooks once src/config has it, else the environment: give both.
    Object.assign(process.env, qbo.env());
    t = await startTestApp({ env: qbo.env() });
    owner = await signUpOrganization(t.gql, 'Maple Pools');
    other = await signUpOrganization(t.gql, 'Birch Pools');
    unconnected = await signUpOrganization(t.gql, 'Cedar Pools');
  });
  afterAll(async () => {
    await t.close();
    await qbo.stop();
  });

  const db = () => t.app.get(MikroORM).em.fork();
  const syncQueue = () => t.app.get<Queue>(getQueueToken(ACCOUNTING_SYNC_QUEUE));
  /** Delivers every event, then runs the organization's sync queue as the worker would. */
  const sync = async (org: Owner) => {
    await t.drainOutbox();
    await waitForQueueIdle(syncQueue());
    return t.app.get(AccountingSyncRunner).runOrganization(org.organizationId);
  };
  const items = (org: Owner) =>
    db().execute<{ id: string; event_type: string; entity_type: string; entity_id: string; status: string; attempts: number; event_id: string }[]>(
      `select id, event_type, entity_type, entity_id, status, attempts, event_id from accounting_sync_item where organization_id = ? order by created_at, id`,
      [org.organizationId],
    );
  const addMinutes = (m: number) => t.clock.advance(m * 60_000);

  /** What a user does: connectQuickBooks, Intuit's page (approve), back to Settle's callback. */
  async function connect(org: Owner, realmId: string): Promise<Response> {
    qbo.nextRealmId = realmId;
    const started = await org.client.ok<{ connectQuickBooks: { authorizeUrl: string } }>(`mutation { connectQuickBooks { authorizeUrl } }`);
    const authorize = await fetch(started.connectQuickBooks.authorizeUrl, { redirect: 'manual' });
    expect(authorize.status).toBe(302);
    const location = new URL(authorize.headers.get('location')!);
    expect(location.pathname).toBe('/integrations/quickbooks/callback');
    // Back to PUBLIC_URL (http://localhost:3000 in tests); the app listens on a random port.
    const res = await fetch(`${t.url}${location.pathname}${location.search}`);
    await waitForQueueIdle(syncQueue());
    return res;
  }

  async function issueInvoice(org: Owner, customerId: string, unitPrice: number, taxRate?: string) {
    const data = await org.client.ok<{ createInvoice: { id: string; number: string; total: { amount: string } } }>(
      `mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id number total { amount } } }`,
      { i: { customerId, issue: true, lines: [{ description: 'Pool opening', quantity: '1', unitPrice: String(unitPrice), ...(taxRate ? { taxRate } : {}) }] } },
    );
    return data.createInvoice;
  }

  it('an organization without a connection syncs nothing: status NONE, nothing queued, nothing sent', async () => {
    await createCustomer(unconnected.client);
    await t.drainOutbox();
    expect((await unconnected.client.ok(CONNECTION)).accountingConnection).toEqual({ status: 'NONE', realmId: null, pendingCount: 0, failedCount: 0, lastError: null });
    expect(await items(unconnected)).toEqual([]);
    expect(await t.app.get(AccountingSyncRunner).runOrganization(unconnected.organizationId)).toMatchObject({ synced: 0, failed: 0 });
    expect(qbo.requests).toEqual([]);
  });

  it('connects through the OAuth flow; a forged or expired state is refused', async () => {
    const forged = await fetch(`${t.url}/integrations/quickbooks/callback?code=x&state=${'a'.repeat(20)}.${'b'.repeat(43)}&realmId=1`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('invalid or has expired');

    const res = await connect(owner, REALM_A);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('QuickBooks is connected');
    expect((await owner.client.ok(CONNECTION)).accountingConnection).toMatchObject({ status: 'CONNECTED', realmId: REALM_A });
    // Tokens are stored sealed, never in clear.
    const [row] = await db().execute<{ access_token_sealed: string }[]>(`select access_token_sealed from accounting_connection where organization_id = ?`, [owner.organizationId]);
    expect(row!.access_token_sealed).toMatch(/^v1\./);
    expect(qbo.tokenRequests).toEqual([{ grantType: 'authorization_code', status: 200 }]);

    const staff = await addUser(owner.client, 'PAYMENT_MANAGER');
    const refused = await staff.client.request(`mutation { connectQuickBooks { authorizeUrl } }`);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("a payment's journey reaches QuickBooks once per record, even when every event is delivered twice; the payment is applied to the invoice", async () => {
    const customer = await createCustomer(owner.client, { name: 'Ada Lovelace' });
    const invoice = await issueInvoice(owner, customer.id, 12_000, '10');
    expect(invoice.total.amount).toBe('13200');
    const paid = await owner.client.ok<{ takePayment: { id: string; status: string } }>(
      `mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status } }`,
      { i: { customerId: customer.id, token: 'pm_card_visa', amount: usd(13_200), invoices: [{ invoiceId: invoice.id, amount: usd(13_200) }] } },
    );
    expect(paid.takePayment.status).toBe('SUCCEEDED');
    const run = await sync(owner);
    expect(run).toMatchObject({ failed: 0, paused: false });

    const check = () => {
      const customers = qbo.records(REALM_A, 'Customer').filter((c) => String(c.Notes).includes(customer.id));
      const invoices = qbo.records(REALM_A, 'Invoice').filter((i) => i.DocNumber === invoice.number);
      const payments = qbo.records(REALM_A, 'Payment').filter((p) => String(p.PrivateNote).includes(paid.takePayment.id));
      expect(customers).toHaveLength(1);
      expect(invoices).toHaveLength(1);
      expect(payments).toHaveLength(1);
      expect(qbo.records(REALM_A, 'Item').filter((i) => i.Name === 'Services')).toHaveLength(1);
      expect(customers[0]).toMatchObject({ DisplayName: 'Ada Lovelace', PrimaryEmailAddr: { Address: customer.email }, BillAddr: { City: 'Burlington', PostalCode: '05401' } });
      expect(invoices[0]).toMatchObject({ TotalAmt: 132, Balance: 0, CustomerRef: { value: customers[0]!.Id } });
      expect((invoices[0]!.Line as { Amount: number }[]).map((l) => l.Amount)).toEqual([120, 12]);
      expect(payments[0]).toMatchObject({
        TotalAmt: 132,
        UnappliedAmt: 0,
        CustomerRef: { value: customers[0]!.Id },
        Line: [{ Amount: 132, LinkedTxn: [{ TxnId: invoices[0]!.Id, TxnType: 'Invoice' }] }],
      });
      return { customer: customers[0]!, invoice: invoices[0]!, payment: payments[0]! };
    };
    const first = check();
    const creates = qbo.apiRequests(REALM_A).filter((r) => r.body && r.body.Id === undefined).length;
    const updatesBefore = qbo.apiRequests(REALM_A).filter((r) => r.body?.Id !== undefined).length;
    const before = await items(owner);
    expect(before.every((i) => i.status === 'SYNCED' || i.status === 'SKIPPED')).toBe(true);
    expect(new Set(before.map((i) => i.event_type))).toEqual(new Set(['CustomerCreated', 'InvoiceIssued', 'PaymentRecorded', 'PaymentAllocated']));

    // 1. The same event handed to the consumer again (a redelivery the inbox did not catch): nothing new is queued.
    const consumer = t.app.get(AccountingSyncConsumer);
    const messages = await db().execute<{ id: string; type: string; payload: Record<string, unknown>; occurred_at: Date }[]>(
      `select id, type, payload, occurred_at from outbox_message where organization_id = ? and id in (${before.map(() => '?').join(',')})`,
      [owner.organizationId, ...before.map((i) => i.event_id)],
    );
    for (const m of messages) {
      const event: DeliveredEvent = { id: m.id, type: m.type, organizationId: owner.organizationId, payload: m.payload, occurredAt: m.occurred_at };
      const em = db();
      scopeToTenant(em, owner.organizationId);
      await em.transactional((tx) => consumer.handle(event, tx));
    }
    expect(await items(owner)).toHaveLength(before.length);

    // 2. The same facts published again as new events (replayed outbox): each record is updated with its SyncToken, never created twice.
    await db().execute(
      `insert into outbox_message (id, organization_id, type, payload, occurred_at, relay_attempts)
       select gen_random_uuid(), organization_id, type, payload, occurred_at, 0 from outbox_message where id in (${before.map(() => '?').join(',')})`,
      before.map((i) => i.event_id),
    );
    expect(await sync(owner)).toMatchObject({ failed: 0 });
    const second = check();
    expect(qbo.apiRequests(REALM_A).filter((r) => r.body && r.body.Id === undefined)).toHaveLength(creates);
    const updates = qbo.apiRequests(REALM_A).filter((r) => r.body?.Id !== undefined).slice(updatesBefore);
    expect(updates.map((r) => r.path).sort()).toEqual(['customer', 'invoice', 'payment', 'payment']);
    expect(updates.every((r) => typeof r.body!.SyncToken === 'string' && r.body!.sparse === true)).toBe(true);
    expect(Number(second.customer.SyncToken)).toBeGreaterThan(Number(first.customer.SyncToken));
    // Every call carried QuickBooks' idempotency key and the minor version.
    expect(qbo.apiRequests(REALM_A).every((r) => /^[0-9a-f]{40}$/.test(r.query.requestid ?? '') && r.query.minorversion === '75')).toBe(true);
  });

  it('a voided invoice is voided in QuickBooks (created first if it never got there); account credit becomes a Credit Memo', async () => {
    const customer = await createCustomer(owner.client, { name: 'Void And Credit' });
    const invoice = await issueInvoice(owner, customer.id, 4_000);
    await owner.client.ok(`mutation($id: ID!) { voidInvoice(id: $id, reason: "Wrong customer") { status } }`, { id: invoice.id });
    await owner.client.ok(`mutation($i: CreateAccountCreditInput!) { createAccountCredit(input: $i) { id } }`, {
      i: { customerId: customer.id, amount: usd(2_500), reason: 'Goodwill' },
    });
    expect(await sync(owner)).toMatchObject({ failed: 0 });
    const qboCustomer = qbo.records(REALM_A, 'Customer').find((c) => c.DisplayName === 'Void And Credit')!;
    const voided = qbo.records(REALM_A, 'Invoice').filter((i) => i.DocNumber === invoice.number);
    expect(voided).toHaveLength(1);
    expect(voided[0]).toMatchObject({ TotalAmt: 0, Balance: 0, PrivateNote: 'Voided' });
    const memos = qbo.records(REALM_A, 'CreditMemo').filter((m) => (m.CustomerRef as { value: string }).value === qboCustomer.Id);
    expect(memos).toHaveLength(1);
    expect(memos[0]).toMatchObject({ TotalAmt: 25, Line: [{ Amount: 25, Description: 'GOODWILL credit' }] });
  });

  it('a create whose answer was lost is answered again by QuickBooks (same requestid), not made twice', async () => {
    const customer = await createCustomer(owner.client, { name: 'Lost Answer' });
    qbo.failNext({ status: 503, afterWork: true });
    expect(await sync(owner)).toMatchObject({ retrying: 1, synced: 0 });
    expect(qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'Lost Answer')).toHaveLength(1);
    addMinutes(1);
    expect(await sync(owner)).toMatchObject({ synced: 1 });
    expect(qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'Lost Answer')).toHaveLength(1);
    const [mapping] = await db().execute<{ external_id: string }[]>(`select external_id from accounting_mapping where entity_id = ?`, [customer.id]);
    expect(mapping!.external_id).toBe(qbo.records(REALM_A, 'Customer').find((c) => c.DisplayName === 'Lost Answer')!.Id);
  });

  it('two customers with the same name: QuickBooks answers 6240 Duplicate Name, the second gets a suffix', async () => {
    const first = await createCustomer(owner.client, { name: 'Sam Smith' });
    const second = await createCustomer(owner.client, { name: 'Sam Smith' });
    expect(await sync(owner)).toMatchObject({ synced: 2, failed: 0 });
    // Whichever event was handled first keeps the plain name; the other gets its id's first 8 characters.
    const names = qbo.records(REALM_A, 'Customer').map((c) => String(c.DisplayName)).filter((n) => n.startsWith('Sam Smith'));
    expect(names).toHaveLength(2);
    expect(names).toContain('Sam Smith');
    expect([`Sam Smith (${first.id.slice(0, 8)})`, `Sam Smith (${second.id.slice(0, 8)})`]).toContain(names.find((n) => n !== 'Sam Smith'));
  });

  it('an expired access token is refreshed (ahead of time by its expiry, and on a 401), with the rotated refresh token kept', async () => {
    const customer = await createCustomer(owner.client, { name: 'Token Tester' });
    await sync(owner);
    const refreshes = () => qbo.tokenRequests.filter((r) => r.grantType === 'refresh_token' && r.status === 200).length;
    const before = refreshes();

    addMinutes(61); // our record of the token says it has expired: refreshed before the call
    await owner.client.ok(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { id } }`, { id: customer.id, i: { phone: '+15145550123' } });
    expect(await sync(owner)).toMatchObject({ synced: 1, failed: 0 });
    expect(refreshes()).toBe(before + 1);

    qbo.expireAccessTokens(); // QuickBooks says 401 though our clock says it is valid: refresh once and try again
    await owner.client.ok(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { id } }`, { id: customer.id, i: { phone: '+15145550124' } });
    expect(await sync(owner)).toMatchObject({ synced: 1, failed: 0 });
    expect(refreshes()).toBe(before + 2);
    expect(qbo.records(REALM_A, 'Customer').find((c) => c.DisplayName === 'Token Tester')).toMatchObject({ PrimaryPhone: { FreeFormNumber: '+15145550124' } });
    expect((await owner.client.ok(CONNECTION)).accountingConnection.status).toBe('CONNECTED');
  });

  it('a 429 then a 503 are retried with backoff, visible meanwhile with the QuickBooks fault; then it syncs', async () => {
    const customer = await createCustomer(owner.client, { name: 'Throttled Customer' });
    qbo.failNext({ status: 429 }, { status: 503 });
    expect(await sync(owner)).toMatchObject({ retrying: 1 });
    const retrying = (await owner.client.ok(ERRORS, { r: true })).accountingSyncErrors.nodes.find((n: { entityId: string }) => n.entityId === customer.id);
    expect(retrying).toMatchObject({ status: 'PENDING', attempts: 1, httpStatus: 429, fault: { status: 429, errors: [{ code: '3001' }] } });
    expect((await owner.client.ok(ERRORS, { r: false })).accountingSyncErrors.nodes.some((n: { entityId: string }) => n.entityId === customer.id)).toBe(false);

    expect(await sync(owner)).toMatchObject({ retrying: 0, synced: 0 }); // not due yet: 30 s backoff
    addMinutes(0.5);
    expect(await sync(owner)).toMatchObject({ retrying: 1 }); // the 503
    addMinutes(0.5);
    expect(await sync(owner)).toMatchObject({ retrying: 0, synced: 0 }); // 60 s after the second failure
    addMinutes(0.5);
    expect(await sync(owner)).toMatchObject({ synced: 1 });
    expect(qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'Throttled Customer')).toHaveLength(1);
  });

  it('a fault QuickBooks keeps answering fails at once, is listed for OWNER/ADMIN, and retryAccountingSync retries it', async () => {
    const customer = await createCustomer(owner.client, { name: 'Closed Period' });
    qbo.failNext({ status: 400 });
    expect(await sync(owner)).toMatchObject({ failed: 1 });
    const errors = (await owner.client.ok(ERRORS, { r: false })).accountingSyncErrors;
    const failed = errors.nodes.find((n: { entityId: string }) => n.entityId === customer.id);
    expect(failed).toMatchObject({ status: 'FAILED', eventType: 'CustomerCreated', entityType: 'CUSTOMER', httpStatus: 400, fault: { type: 'ValidationFault', errors: [{ code: '6000' }] } });
    expect(failed.lastError).toContain('6000');
    expect((await owner.client.ok(CONNECTION)).accountingConnection.failedCount).toBe(1);

    const manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    expect((await manager.client.request(ERRORS, { r: false })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const notOurs = await other.client.request(`mutation($id: ID!) { retryAccountingSync(id: $id) { id } }`, { id: failed.id });
    expect(notOurs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const retried = await owner.client.ok(`mutation($id: ID!) { retryAccountingSync(id: $id) { id status attempts } }`, { id: failed.id });
    expect(retried.retryAccountingSync).toMatchObject({ status: 'PENDING', attempts: 0 });
    await waitForQueueIdle(syncQueue()); // the retry runs the queue on the worker
    expect((await items(owner)).find((i) => i.id === failed.id)!.status).toBe('SYNCED');
    expect(qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'Closed Period')).toHaveLength(1);
    const again = await owner.client.request(`mutation($id: ID!) { retryAccountingSync(id: $id) { id } }`, { id: failed.id });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('a revoked refresh token marks the connection EXPIRED: events pile up PENDING, reconnecting syncs them all', async () => {
    qbo.revokeGrants(REALM_A);
    addMinutes(61);
    const customer = await createCustomer(owner.client, { name: 'While Expired' });
    expect(await sync(owner)).toMatchObject({ paused: true, synced: 0, failed: 0 });
    const status = (await owner.client.ok(CONNECTION)).accountingConnection;
    expect(status).toMatchObject({ status: 'EXPIRED', pendingCount: 1 });
    expect(status.lastError).toContain('invalid_grant');

    const invoice = await issueInvoice(owner, customer.id, 5_000);
    await owner.client.ok(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { id } }`, {
      i: { customerId: customer.id, token: 'pm_card_visa', amount: usd(5_000), invoices: [{ invoiceId: invoice.id, amount: usd(5_000) }] },
    });
    expect(await sync(owner)).toMatchObject({ synced: 0 });
    addMinutes(120);
    expect(await t.app.get(AccountingSyncRunner).runDue()).toBe(0); // the sweep leaves an expired connection alone
    const pending = (await items(owner)).filter((i) => i.status === 'PENDING');
    expect(pending.length).toBeGreaterThanOrEqual(4);
    expect(pending.every((i) => i.attempts === 0)).toBe(true);
    expect(qbo.records(REALM_A, 'Customer').some((c) => c.DisplayName === 'While Expired')).toBe(false);

    const res = await connect(owner, REALM_A); // reconnecting resumes the queue at once
    expect(res.status).toBe(200);
    expect((await items(owner)).filter((i) => i.status === 'PENDING')).toEqual([]);
    expect((await owner.client.ok(CONNECTION)).accountingConnection).toMatchObject({ status: 'CONNECTED', pendingCount: 0, lastError: null });
    const qboCustomer = qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'While Expired');
    expect(qboCustomer).toHaveLength(1);
    const qboInvoice = qbo.records(REALM_A, 'Invoice').find((i) => i.DocNumber === invoice.number)!;
    expect(qboInvoice).toMatchObject({ TotalAmt: 50, Balance: 0, CustomerRef: { value: qboCustomer[0]!.Id } });
  });

  it('disconnecting pauses too (DISCONNECTED), and another organization never uses this connection', async () => {
    expect((await owner.client.ok(`mutation { disconnectQuickBooks { status } }`)).disconnectQuickBooks.status).toBe('DISCONNECTED');
    const waiting = await createCustomer(owner.client, { name: 'Waits For Reconnect' });
    expect(await sync(owner)).toMatchObject({ synced: 0 });

    // Birch Pools connects its own company; its records go there, with its own tokens, and never to Maple's.
    await connect(other, REALM_B);
    const theirs = await createCustomer(other.client, { name: 'Birch Customer' });
    const invoice = await issueInvoice(other, theirs.id, 7_500);
    expect(await sync(other)).toMatchObject({ failed: 0 });
    expect(qbo.records(REALM_B, 'Customer').map((c) => c.DisplayName)).toEqual(['Birch Customer']);
    expect(qbo.records(REALM_B, 'Invoice').map((i) => i.DocNumber)).toEqual([invoice.number]);
    expect(qbo.records(REALM_A, 'Customer').some((c) => c.DisplayName === 'Birch Customer')).toBe(false);
    expect(qbo.records(REALM_B, 'Customer').some((c) => c.DisplayName === 'Waits For Reconnect')).toBe(false);
    expect(qbo.requests.filter((r) => r.realmId === REALM_B && r.status === 401)).toEqual([]);
    // Maple's waiting customer is still PENDING, untouched by Birch's run.
    expect((await items(owner)).find((i) => i.entity_id === waiting.id)!.status).toBe('PENDING');

    await connect(owner, REALM_A);
    expect(qbo.records(REALM_A, 'Customer').filter((c) => c.DisplayName === 'Waits For Reconnect')).toHaveLength(1);
  });
});
