import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import type { Redis } from 'ioredis';
import { MikroORM } from '@mikro-orm/postgresql';
import { newId } from '#libs/ddd/index.js';
import { Money } from '#libs/money/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { AppConfig } from '../src/config/index.js';
import { REDIS } from '../src/infra/redis.js';
import { BillingRunRunner } from '../src/modules/agreements/application/billing-run-runner.js';
import { BILLING_RUN_QUEUE } from '../src/modules/agreements/infrastructure/billing-run.queue.js';
import { BillingRuns } from '../src/modules/agreements/application/billing-runs.use-case.js';
import { BilledRefType, Invoicing } from '../src/modules/invoicing/index.js';
import { PaymentPurpose, Payments } from '../src/modules/payments/index.js';
import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const NOW = '2026-06-15T16:00:00.000Z';
const RUN = `id upTo status scheduled agreementsTotal agreementsDone invoiced charged failed skipped upToDate pendingCharges
  amountInvoiced { amount } amountCharged { amount } startedAt finishedAt`;

describe('billing runs', () => {
  let t: TestApp;
  let orm: MikroORM;
  let queue: Queue;
  let runner: BillingRunRunner;
  const clients: Client[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    t.clock.set(NOW);
    orm = t.app.get(MikroORM);
    queue = t.app.get<Queue>(getQueueToken(BILLING_RUN_QUEUE));
    runner = t.app.get(BillingRunRunner);
    runner.batchSize = 3; // several batches even for a handful of agreements
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.dispose()));
    await purgeQueue(queue);
    await t.close();
  });

  interface Org {
    owner: Owner;
    manager: Member;
  }
  async function organization(): Promise<Org> {
    const owner = await signUpOrganization(t.gql, 'Blue Lagoon Pools');
    return { owner, manager: await addUser(owner.client, 'PAYMENT_MANAGER') };
  }
  async function saveMethod(org: Org, customerId: string, token = 'pm_card_visa', consentGiven = true): Promise<string> {
    const data = await org.manager.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
      i: { customerId, token, consentGiven },
    });
    return data.savePaymentMethod.paymentMethod.id;
  }
  interface AgreementSpec {
    frequency?: string;
    start: string;
    end?: string | null;
    status?: string;
    token?: string | null;
    consent?: boolean;
    price?: string;
    name?: string;
  }
  /** A customer with a saved method and an agreement in the given state (written directly: the lifecycle is tested elsewhere). */
  async function agreement(org: Org, spec: AgreementSpec): Promise<{ id: string; customerId: string }> {
    const { id: customerId } = await createCustomer(org.owner.client);
    const token = spec.token === undefined ? 'pm_card_visa' : spec.token;
    const methodId = token ? await saveMethod(org, customerId, token, spec.consent ?? true) : null;
    const id = newId();
    const day = Number(spec.start.slice(8, 10));
    await orm.em.fork().execute(
      `insert into service_agreement (id, organization_id, created_at, updated_at, customer_id, name, terms, lines, currency, frequency, billing_day,
                                      start_date, end_date, payment_method_id, status, version)
       values (?, ?, now(), now(), ?, ?, 'Weekly pool care', ?::jsonb, 'USD', ?, ?, ?, ?, ?, ?, 1)`,
      [
        id,
        org.owner.organizationId,
        customerId,
        spec.name ?? 'Pool care',
        JSON.stringify([{ description: 'Weekly pool service', quantity: '1', unitPrice: spec.price ?? '12000', taxRate: '8.875' }]),
        spec.frequency ?? 'MONTHLY',
        day <= 28 ? day : null,
        spec.start,
        spec.end ?? null,
        methodId,
        spec.status ?? 'ACTIVE',
      ],
    );
    return { id, customerId };
  }
  const sql = <T>(query: string, params: unknown[] = []) => orm.em.fork().execute<T[]>(query, params);
  const ids = (list: string[]) => `{${list.join(',')}}`;

  /** Per agreement: billed periods, invoices, payments and the gateway's charges (payment intents) for them. */
  async function counts(agreementIds: string[]): Promise<Map<string, { periods: number; invoices: number; payments: number; charges: number }>> {
    const rows = await sql<{ agreement_id: string; periods: number; invoices: number; payments: number; charges: number }>(
      `select a.id as agreement_id,
              (select count(*) from billed_period b where b.agreement_id = a.id)::int as periods,
              (select count(*) from invoice i join billed_period b on i.billed_ref_id = b.id where b.agreement_id = a.id)::int as invoices,
              (select count(*) from payment p join billed_period b on p.purpose_ref_id = b.id where b.agreement_id = a.id)::int as payments,
              (select count(*) from sandbox_gateway_object g join payment p on p.id::text = g.data->'metadata'->>'paymentId'
                 join billed_period b on p.purpose_ref_id = b.id where g.type = 'payment_intent' and b.agreement_id = a.id)::int as charges
         from service_agreement a where a.id = any(?::uuid[])`,
      [ids(agreementIds)],
    );
    return new Map(rows.map((r) => [r.agreement_id, { periods: r.periods, invoices: r.invoices, payments: r.payments, charges: r.charges }]));
  }
  const each = (agreementIds: string[], n: number) => new Map(agreementIds.map((id) => [id, { periods: n, invoices: n, payments: n, charges: n }]));

  const bill = async (org: Org, upTo: string | null = null) =>
    (await org.manager.client.ok(`mutation($u: String) { billAgreements(upTo: $u) { ${RUN} } }`, { u: upTo })).billAgreements;
  const run = async (org: Org, id: string) => (await org.manager.client.ok(`query($id: ID!) { billingRun(id: $id) { ${RUN} } }`, { id })).billingRun;

  it('bills every due period of every ACTIVE agreement once: one invoice and one charge each; skips and failures with reasons', async () => {
    const org = await organization();
    const monthly = await agreement(org, { start: '2026-04-01' });
    const quarterly = await agreement(org, { start: '2026-01-10', frequency: 'QUARTERLY', price: '30000' });
    const ending = await agreement(org, { start: '2026-04-05', end: '2026-05-20' });
    const suspended = await agreement(org, { start: '2026-04-01', status: 'SUSPENDED' });
    const noMethod = await agreement(org, { start: '2026-05-01', token: null });
    const noConsent = await agreement(org, { start: '2026-05-01', token: 'pm_card_mastercard', consent: false });
    const failing = await agreement(org, { start: '2026-06-01', token: 'pm_card_chargeCustomerFail' });

    // Only managers start a run.
    const staff = await addUser(org.owner.client, 'STAFF');
    const refused = await staff.client.request(`mutation { billAgreements { id } }`);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const future = await org.manager.client.request(`mutation { billAgreements(upTo: "2026-07-01") { id } }`);
    expect(future.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const started = await bill(org);
    expect(started).toMatchObject({ status: 'QUEUED', upTo: '2026-06-15', invoiced: 0 });
    await waitForQueueIdle(queue);

    const done = await run(org, started.id);
    expect(done).toMatchObject({
      status: 'COMPLETED_WITH_FAILURES',
      agreementsTotal: 6,
      agreementsDone: 6,
      invoiced: 8,
      charged: 7,
      failed: 1,
      skipped: 2,
      upToDate: 0,
      pendingCharges: 0,
    });
    expect(done.finishedAt).not.toBeNull();
    expect(await counts([monthly.id, quarterly.id, ending.id, suspended.id, noMethod.id, noConsent.id, failing.id])).toEqual(
      new Map([
        [monthly.id, { periods: 3, invoices: 3, payments: 3, charges: 3 }],
        [quarterly.id, { periods: 2, invoices: 2, payments: 2, charges: 2 }],
        [ending.id, { periods: 2, invoices: 2, payments: 2, charges: 2 }],
        [suspended.id, { periods: 0, invoices: 0, payments: 0, charges: 0 }],
        [noMethod.id, { periods: 0, invoices: 0, payments: 0, charges: 0 }],
        [noConsent.id, { periods: 0, invoices: 0, payments: 0, charges: 0 }],
        [failing.id, { periods: 1, invoices: 1, payments: 1, charges: 1 }],
      ]),
    );

    // The invoices: one per period, labelled, paid by the charge; the failed one stays open.
    const invoices = await sql<{ agreement_id: string; period_start: string; billed_ref_label: string; status: string; total: string; amount_paid: string; number: string }>(
      `select b.agreement_id, b.period_start::text, i.billed_ref_label, i.status, i.total::text, i.amount_paid::text, i.number
         from billed_period b join invoice i on i.id = b.invoice_id where b.organization_id = ? order by b.agreement_id, b.period_start`,
      [org.owner.organizationId],
    );
    expect(invoices.filter((i) => i.agreement_id === monthly.id).map((i) => i.billed_ref_label)).toEqual([
      'Pool care — April 2026',
      'Pool care — May 2026',
      'Pool care — June 2026',
    ]);
    expect(invoices.filter((i) => i.agreement_id === quarterly.id).map((i) => i.billed_ref_label)).toEqual(['Pool care — January – April 2026', 'Pool care — April – July 2026']);
    expect(invoices.find((i) => i.agreement_id === monthly.id)).toMatchObject({ status: 'PAID', total: '13065', amount_paid: '13065' });
    expect(invoices.find((i) => i.agreement_id === failing.id)).toMatchObject({ status: 'OPEN', amount_paid: '0' });
    // Gap-free numbers across the batches.
    const numbers = invoices.map((i) => Number(i.number.slice(4))).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 8 }, (_, i) => numbers[0]! + i));

    const [through] = await sql<{ billed_through: string }>(`select billed_through::text from service_agreement where id = ?`, [monthly.id]);
    expect(through!.billed_through).toBe('2026-06-30');
    const [endThrough] = await sql<{ billed_through: string }>(`select billed_through::text from service_agreement where id = ?`, [ending.id]);
    expect(endThrough!.billed_through).toBe('2026-05-20');

    // The report: failures and skips with reasons.
    const report = (
      await org.manager.client.ok(
        `query($id: ID!) { billingRun(id: $id) {
          periods(status: [FAILED], first: 10) { totalCount nodes { agreementId status failureCode failureReason label amount { amount } } }
          all: periods(first: 2) { totalCount pageInfo { hasNextPage } }
          skippedAgreements(first: 10) { totalCount nodes { agreementId reasonCode reason } } } }`,
        { id: started.id },
      )
    ).billingRun;
    expect(report.periods.totalCount).toBe(1);
    expect(report.periods.nodes[0]).toMatchObject({ agreementId: failing.id, status: 'FAILED', label: 'Pool care — June 2026' });
    expect(report.periods.nodes[0].failureReason).toEqual(expect.any(String));
    expect(report.all).toMatchObject({ totalCount: 8, pageInfo: { hasNextPage: true } });
    expect(new Map(report.skippedAgreements.nodes.map((s: { agreementId: string; reasonCode: string }) => [s.agreementId, s.reasonCode]))).toEqual(
      new Map([
        [noMethod.id, 'NO_PAYMENT_METHOD'],
        [noConsent.id, 'METHOD_NOT_CHARGEABLE'],
      ]),
    );

    // The payments are the core's: purpose AGREEMENT, keyed by the period, off-session; PaymentFailed for the decline.
    const payments = await sql<{ status: string; purpose: string; off_session: boolean; idempotency_key: string; purpose_ref_id: string; billed_id: string }>(
      `select p.status, p.purpose, p.off_session, p.idempotency_key, p.purpose_ref_id, b.id as billed_id from payment p join billed_period b on b.payment_id = p.id where b.organization_id = ?`,
      [org.owner.organizationId],
    );
    expect(payments).toHaveLength(8);
    for (const p of payments) expect(p).toMatchObject({ purpose: 'AGREEMENT', off_session: true, idempotency_key: `agreement-period:${p.billed_id}`, purpose_ref_id: p.billed_id });
    const failedEvents = await sql<{ payload: { purpose: string; purposeRefId: string; customerId: string } }>(
      `select payload from outbox_message where organization_id = ? and type = 'PaymentFailed'`,
      [org.owner.organizationId],
    );
    expect(failedEvents).toHaveLength(1);
    expect(failedEvents[0]!.payload).toMatchObject({ purpose: 'AGREEMENT', customerId: failing.customerId });
    const types = await sql<{ type: string; n: number }>(`select type, count(*)::int as n from outbox_message where organization_id = ? group by type`, [org.owner.organizationId]);
    const byType = new Map(types.map((r) => [r.type, r.n]));
    expect([byType.get('InvoiceIssued'), byType.get('PaymentSucceeded'), byType.get('PaymentRecorded'), byType.get('InvoicePaid')]).toEqual([8, 7, 7, 7]);

    // Receipts follow PaymentRecorded: one per successful charge, emailed.
    await t.drainOutbox();
    const [receipts] = await sql<{ n: number }>(`select count(*)::int as n from receipt where organization_id = ?`, [org.owner.organizationId]);
    expect(receipts!.n).toBe(7);
    const [emails] = await sql<{ n: number }>(`select count(*)::int as n from message where organization_id = ? and kind = 'RECEIPT'`, [org.owner.organizationId]);
    expect(emails!.n).toBe(7);
    // The customer is written to once about the failure, by dunning (a link to update the method), not twice.
    const told = await sql<{ kind: string }>(`select kind from message where organization_id = ? and customer_id = ? and kind in ('PAYMENT_FAILED', 'PAYMENT_PROFILE_REQUEST')`, [
      org.owner.organizationId,
      failing.customerId,
    ]);
    expect(told.length).toBeLessThanOrEqual(1);

    // A month later, the next run bills only the new periods.
    t.clock.set('2026-07-15T16:00:00.000Z');
    try {
      const next = await bill(org);
      await waitForQueueIdle(queue);
      expect(await run(org, next.id)).toMatchObject({ invoiced: 3, charged: 2, failed: 1, skipped: 2, upToDate: 1, agreementsDone: 6 });
      const after = await counts([monthly.id, quarterly.id, ending.id, failing.id]);
      expect(after.get(monthly.id)!.invoices).toBe(4);
      expect(after.get(quarterly.id)!.invoices).toBe(3);
      expect(after.get(ending.id)!.invoices).toBe(2);
      expect(after.get(failing.id)).toEqual({ periods: 2, invoices: 2, payments: 2, charges: 2 });
      const list = (await org.manager.client.ok(`query { billingRuns(first: 5) { totalCount nodes { id } } }`)).billingRuns;
      expect(list.nodes.map((n: { id: string }) => n.id)).toEqual([next.id, started.id]);
    } finally {
      t.clock.set(NOW);
    }
  });

  it('the run started twice at once, and overlapping runs, bill each period exactly once', async () => {
    const org = await organization();
    const agreements = [];
    for (let i = 0; i < 8; i++) agreements.push((await agreement(org, { start: '2026-04-01' })).id);
    const [a, b] = await Promise.all([bill(org), bill(org)]);
    await waitForQueueIdle(queue);
    expect(await counts(agreements)).toEqual(each(agreements, 3));
    const [ra, rb] = [await run(org, a.id), await run(org, b.id)];
    expect(ra.invoiced + rb.invoiced).toBe(24);
    expect(ra.charged + rb.charged).toBe(24);
    expect([ra.status, rb.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(ra.upToDate + rb.upToDate).toBe(8); // each agreement is billed by one run and up to date for the other

    // Overlapping: one up to mid-May, one up to today, at once, over more agreements.
    const more = [];
    for (let i = 0; i < 6; i++) more.push((await agreement(org, { start: '2026-03-01' })).id);
    const [c, d] = await Promise.all([bill(org, '2026-05-15'), bill(org)]);
    await waitForQueueIdle(queue);
    expect(await counts(more)).toEqual(each(more, 4));
    expect(await counts(agreements)).toEqual(each(agreements, 3));
    const [rc, rd] = [await run(org, c.id), await run(org, d.id)];
    expect(rc.invoiced + rd.invoiced).toBe(24);
    expect(rc.charged + rd.charged).toBe(24);
  });

  it('a worker killed with SIGKILL halfway, then another worker: one invoice and one charge per period', async () => {
    const org = await organization();
    const agreements = [];
    for (let i = 0; i < 24; i++) agreements.push((await agreement(org, { start: '2026-04-01' })).id);
    await queue.pause(true); // this process's worker stops taking billing jobs: the child does the work
    try {
      const started = await bill(org);
      const first = await worker(2);
      // Kill it once some batches are in (no sleeps: poll the database).
      await until(async () => (await billedCount(org)) >= 12);
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      const halfway = await billedCount(org);
      expect(halfway).toBeLessThan(72);

      await worker(2);
      // The killed worker's jobs are stalled until Bull notices; resuming re-enqueues the unfinished batches now.
      await org.manager.client.ok(`mutation($id: ID!) { resumeBillingRun(id: $id) { id } }`, { id: started.id });
      await until(async () => (await run(org, started.id)).status !== 'RUNNING' && (await run(org, started.id)).status !== 'QUEUED', 90_000);
      expect(await counts(agreements)).toEqual(each(agreements, 3));
      expect(await run(org, started.id)).toMatchObject({ status: 'COMPLETED', agreementsTotal: 24, agreementsDone: 24, invoiced: 72, charged: 72, failed: 0 });
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await queue.resume(true);
    }
  }, 150_000);

  it("Redis losing the run's jobs mid-run, then resumeBillingRun: exact counts", async () => {
    const org = await organization();
    const agreements = [];
    for (let i = 0; i < 12; i++) agreements.push((await agreement(org, { start: '2026-05-01' })).id);
    const redis = t.app.get<Redis>(REDIS);
    const prefix = t.app.get(AppConfig).queuePrefix;
    const flushQueueKeys = async () => {
      const keys = await redis.keys(`${prefix}:${BILLING_RUN_QUEUE}:*`);
      if (keys.length) await redis.del(...keys);
    };
    let flushed = false;
    runner.hooks.afterInvoiced = async () => {
      if (flushed) return;
      flushed = true;
      await flushQueueKeys(); // every job of the queue is gone, this one included, mid-batch
    };
    let started;
    try {
      started = await bill(org);
      await until(async () => flushed);
      await waitForQueueIdle(queue).catch(() => undefined);
    } finally {
      delete runner.hooks.afterInvoiced;
    }
    const stuck = await run(org, started.id);
    expect(stuck.status).toBe('RUNNING');
    expect(stuck.agreementsDone).toBeLessThan(12);

    const resumed = (await org.manager.client.ok(`mutation($id: ID!) { resumeBillingRun(id: $id) { id status } }`, { id: started.id })).resumeBillingRun;
    expect(resumed.id).toBe(started.id);
    await waitForQueueIdle(queue);
    expect(await run(org, started.id)).toMatchObject({ status: 'COMPLETED', agreementsDone: 12, invoiced: 24, charged: 24 });
    expect(await counts(agreements)).toEqual(each(agreements, 2));
    // A finished run cannot be resumed.
    const again = await org.manager.client.request(`mutation($id: ID!) { resumeBillingRun(id: $id) { id } }`, { id: started.id });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('pushes progress over the subscription until the run finishes; another organization cannot follow it', async () => {
    const org = await organization();
    for (let i = 0; i < 7; i++) await agreement(org, { start: '2026-06-01' });
    await queue.pause(true);
    const started = await bill(org);
    const events: any[] = [];
    let gotFirst!: () => void;
    const first = new Promise<void>((resolve) => (gotFirst = resolve));
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const client = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${org.manager.token}` },
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe(
      {
        query: `subscription($id: ID!) { billingRunProgress(runId: $id) { runId status agreementsTotal agreementsDone invoiced charged failed skipped upToDate pendingCharges } }`,
        variables: { id: started.id },
      },
      {
        next: (value) => {
          events.push(value);
          gotFirst();
        },
        error: (error) => {
          events.push({ error });
          ended();
        },
        complete: () => ended(),
      },
    );
    await first;
    await queue.resume(true);
    await end;
    expect(events[0].data.billingRunProgress).toMatchObject({ runId: started.id, status: 'QUEUED', invoiced: 0 });
    const last = events.at(-1).data.billingRunProgress;
    expect(last).toMatchObject({ status: 'COMPLETED', agreementsTotal: 7, agreementsDone: 7, invoiced: 7, charged: 7, pendingCharges: 0 });
    // Several pushes in between, never going backwards.
    expect(events.length).toBeGreaterThan(3);
    const sums = events.map((e) => {
      const p = e.data.billingRunProgress;
      return p.agreementsDone + p.invoiced + p.charged + p.failed + p.skipped;
    });
    expect([...sums].sort((a, b) => a - b)).toEqual(sums);

    const other = await signUpOrganization(t.gql, 'Other Org');
    const otherClient = createClient({
      url: `${t.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${other.token}` },
      retryAttempts: 0,
    });
    clients.push(otherClient);
    const result = await new Promise<any>((resolve) =>
      otherClient.subscribe(
        { query: `subscription($id: ID!) { billingRunProgress(runId: $id) { invoiced } }`, variables: { id: started.id } },
        { next: resolve, error: (error) => resolve({ error }), complete: () => resolve({ complete: true }) },
      ),
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const hidden = await other.client.request(`query($id: ID!) { billingRun(id: $id) { id } }`, { id: started.id });
    expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('the batched path writes the same rows and events as Invoicing.issueInvoice + Payments.charge one by one', async () => {
    const org = await organization();
    const batched = await agreement(org, { start: '2026-06-01', price: '9999' });
    const single = await agreement(org, { start: '2026-06-01', price: '9999' });
    // The single one is billed one by one (its agreement left out of the run by suspending it for the run).
    await sql(`update service_agreement set status = 'SUSPENDED' where id = ?`, [single.id]);
    const started = await bill(org);
    await waitForQueueIdle(queue);
    expect((await run(org, started.id)).charged).toBe(1);

    const orgId = org.owner.organizationId;
    const em = orm.em.fork();
    scopeToTenant(em, orgId);
    const [method] = await sql<{ payment_method_id: string }>(`select payment_method_id from service_agreement where id = ?`, [single.id]);
    const periodId = newId();
    const label = 'Pool care — June 2026';
    const invoice = await em.transactional((tx) =>
      t.app.get(Invoicing).issueInvoice(tx, {
        customerId: single.customerId,
        lines: [{ description: 'Weekly pool service', quantity: '1', unitPrice: 9999n, taxRate: '8.875' }],
        paymentTermsDays: 0,
        billedRef: { type: BilledRefType.AGREEMENT_PERIOD, id: periodId, label },
        memo: 'Service period 2026-06-01 to 2026-06-30',
      }),
    );
    await t.app.get(Payments).charge(orgId, {
      customerId: single.customerId,
      method: { paymentMethodId: method!.payment_method_id },
      amount: invoice.total,
      purpose: PaymentPurpose.AGREEMENT,
      purposeRefId: periodId,
      allocations: [{ invoiceId: invoice.id, amount: invoice.total }],
      description: label,
      idempotencyKey: `agreement-period:${periodId}`,
      offSession: true,
      createdBy: null,
    });

    const [bp] = await sql<{ id: string; invoice_id: string; payment_id: string }>(`select id, invoice_id, payment_id from billed_period where agreement_id = ?`, [batched.id]);
    const shape = async (customerId: string, invoiceId: string, refId: string) => {
      const [inv] = await sql<Record<string, unknown>>(
        `select status, currency, subtotal::text, tax::text, total::text, amount_paid::text, amount_credited::text, issue_date::text, due_date::text,
                payment_terms_days, billed_ref_type, billed_ref_label, memo, number is not null as numbered, issued_at is not null as issued, paid_at is not null as paid
           from invoice where id = ?`,
        [invoiceId],
      );
      const lines = await sql(`select position, description, quantity::text, unit_price::text, tax_rate, subtotal::text, tax::text, total::text from invoice_line where invoice_id = ? order by position`, [invoiceId]);
      const [pay] = await sql<Record<string, unknown> & { id: string }>(
        `select id, status, amount::text, currency, purpose, method_type, method_label, brand, last4, gateway, off_session, attempt_count, description,
                gateway_charge_id is not null as charged, succeeded_at is not null as succeeded, jsonb_array_length(allocations) as allocations,
                idempotency_key like 'agreement-period:%' as keyed, payment_method_id is not null as saved
           from payment where purpose_ref_id = ?`,
        [refId],
      );
      const paymentId = pay!.id;
      delete (pay as Record<string, unknown>).id;
      const attempts = await sql(`select number, status, idempotency_key = 'payment:' || payment_id || ':attempt:1' as keyed, gateway_charge_id is not null as charged, finished_at is not null as finished from payment_attempt where payment_id = ?`, [paymentId]);
      const timeline = (await sql<{ type: string; summary: string }>(`select type, summary from payment_event where payment_id = ? order by at, created_at`, [paymentId])).map((e) => `${e.type}: ${e.summary}`);
      const received = await sql(`select status, source, amount::text, amount_allocated::text, method, reference like 'pi_%' as referenced from received_payment where id = ?`, [paymentId]);
      const allocations = await sql(`select amount::text, reversed_at from payment_allocation where payment_id = ? and invoice_id = ?`, [paymentId, invoiceId]);
      const events = (
        await sql<{ type: string }>(
          `select type from outbox_message where organization_id = ? and (payload->>'invoiceId' = ? or payload->>'paymentId' = ?) order by type`,
          [orgId, invoiceId, paymentId],
        )
      ).map((e) => e.type);
      const [customer] = await sql(`select balance_owed::text, balance_currency, oldest_unpaid_due_date from customer where id = ?`, [customerId]);
      return { inv, lines, pay, attempts, timeline, received, allocations, events, customer };
    };
    const bulk = await shape(batched.customerId, bp!.invoice_id, bp!.id);
    const oneByOne = await shape(single.customerId, invoice.id, periodId);
    expect(bulk).toEqual(oneByOne);
    expect(bulk.events).toEqual(['InvoiceIssued', 'InvoicePaid', 'PaymentAllocated', 'PaymentRecorded', 'PaymentSucceeded']);
    expect(Money.of(BigInt((bulk.inv as { total: string }).total), 'USD').format()).toBe('$108.86');
  });

  it('a scheduled run starts once a day per organization with automatic billing on, after its hour', async () => {
    const org = await organization();
    await agreement(org, { start: '2026-06-01' });
    const settings = (await org.owner.client.ok(`mutation { updateAgreementBillingSettings(input: { autoBill: true, hour: 17 }) { autoBill hour lastScheduledOn } }`))
      .updateAgreementBillingSettings;
    expect(settings).toEqual({ autoBill: true, hour: 17, lastScheduledOn: null });
    const runs = t.app.get(BillingRuns);
    const count = async () => (await org.manager.client.ok(`query { billingRuns(first: 5) { totalCount nodes { scheduled upTo } } }`)).billingRuns;
    await runs.startScheduled(); // 16:00 UTC: before its hour
    expect((await count()).totalCount).toBe(0);
    t.clock.set('2026-06-15T17:05:00.000Z');
    try {
      await Promise.all([runs.startScheduled(), runs.startScheduled()]);
      await waitForQueueIdle(queue);
      expect(await count()).toEqual({ totalCount: 1, nodes: [{ scheduled: true, upTo: '2026-06-15' }] });
      await runs.startScheduled();
      expect((await count()).totalCount).toBe(1);
    } finally {
      t.clock.set(NOW);
    }
  });

  // ── helpers for the child-process worker ──────────────────────────────────────────────────────────────────────

  async function billedCount(org: Org): Promise<number> {
    const [row] = await sql<{ n: number }>(`select count(*)::int as n from billed_period where organization_id = ? and status = 'CHARGED'`, [org.owner.organizationId]);
    return row!.n;
  }

  async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Starts the app in worker role in a child process against this test's database and Redis prefix. */
  async function worker(batchSize: number): Promise<ChildProcess> {
    const config = t.app.get(AppConfig);
    const child = spawn(process.execPath, [fileURLToPath(new URL('./support/billing-worker.mjs', import.meta.url))], {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: t.db.url,
        REDIS_URL: process.env.TEST_REDIS_URL!,
        QUEUE_PREFIX: config.queuePrefix,
        JWT_SECRET: config.auth.jwtSecret!,
        CLOCK: t.clock.now().toISOString(),
        BILLING_BATCH_SIZE: String(batchSize),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        if (String(d).includes('ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready: ${stderr}`)));
    });
    return child;
  }
});
