import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerError } from '../src/modules/customers/index.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof signUpOrganization>>;
type Client = Org['client'];

const CUSTOMER = `id name email phone externalReference notes tags status marketingOptOut archivedAt
  hasCard hasBankAccount hasConsent cardExpiresOn
  billingAddress { line1 line2 city region postalCode country }
  serviceAddresses { label address { line1 city postalCode country } }
  members { id name email phone relationship dateOfBirth }`;

const ADDRESS = { line1: ' 12 Main St ', city: 'Montréal', region: 'QC', postalCode: 'h2x 1y4', country: 'ca' };

describe('customers: create, change, archive, members', () => {
  let t: TestApp;
  let owner: Org;
  let staff: Client;
  let manager: Client;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUpOrganization(t.gql, 'Pools & Patios');
    staff = (await addUser(owner.client, 'STAFF')).client;
    manager = (await addUser(owner.client, 'PAYMENT_MANAGER')).client;
  });
  afterAll(() => t.close());

  /** The clock moves a second before each change, as it would between two clicks (events are ordered by time). */
  const tick = () => t.clock.advance(1000);
  const create = (client: Client, input: Record<string, unknown>) =>
    tick() ?? client.request(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { ${CUSTOMER} } }`, { i: input });
  const createOk = async (client: Client, input: Record<string, unknown>) => {
    const res = await create(client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.createCustomer;
  };
  const update = (client: Client, id: string, input: Record<string, unknown>) =>
    tick() ?? client.request(`mutation($id: ID!, $i: UpdateCustomerInput!) { updateCustomer(id: $id, input: $i) { ${CUSTOMER} } }`, { id, i: input });
  const get = async (id: string) => (await owner.client.ok(`query($id: ID!) { customer(id: $id) { ${CUSTOMER} } }`, { id })).customer;
  const count = async (client: Client = owner.client) =>
    (await client.ok(`{ customers(filter: { status: [ACTIVE, INACTIVE, ARCHIVED] }) { totalCount } }`)).customers.totalCount as number;
  const fieldsOf = (res: { errors?: { extensions?: Record<string, any> }[] }) =>
    ((res.errors?.[0]?.extensions?.fields ?? []) as { field: string }[]).map((f) => f.field).sort();
  const outboxEvents = async (customerId: string) =>
    (
      await t.app
        .get(MikroORM)
        .em.fork()
        .execute(`select type, payload from outbox_message where payload->>'customerId' = ? order by occurred_at`, [customerId])
    ).map((r) => ({ type: r.type as string, ...(r.payload as Record<string, unknown>) })) as { type: string; [k: string]: unknown }[];

  it('any staff member creates a customer; details are normalized (email, E.164 phone, tags, address)', async () => {
    const created = await createOk(staff, {
      name: '  Jane   Doe ',
      email: ' Jane.Doe@Example.COM ',
      phone: '(514) 555-0123',
      billingAddress: ADDRESS,
      serviceAddresses: [{ label: 'Cottage', address: { line1: '1 Lake Rd', city: 'Magog', postalCode: 'j1x 1a1', country: 'ca' } }],
      externalReference: ' ACC-1001 ',
      notes: 'Gate code 1234',
      tags: [' VIP ', 'vip', 'Pool   Service', 'POOL service'],
    });
    expect(created).toMatchObject({
      name: 'Jane Doe',
      email: 'jane.doe@example.com',
      phone: '+15145550123',
      externalReference: 'ACC-1001',
      notes: 'Gate code 1234',
      tags: ['vip', 'pool service'],
      status: 'ACTIVE',
      marketingOptOut: false,
      archivedAt: null,
      hasCard: false,
      hasBankAccount: false,
      hasConsent: false,
      cardExpiresOn: null,
      billingAddress: { line1: '12 Main St', line2: null, city: 'Montréal', region: 'QC', postalCode: 'H2X 1Y4', country: 'CA' },
      serviceAddresses: [{ label: 'Cottage', address: { line1: '1 Lake Rd', city: 'Magog', postalCode: 'J1X 1A1', country: 'CA' } }],
      members: [],
    });
    expect(await get(created.id)).toEqual(created);
    expect(await outboxEvents(created.id)).toEqual([
      expect.objectContaining({ type: 'CustomerCreated', name: 'Jane Doe', externalReference: 'ACC-1001', status: 'ACTIVE' }),
    ]);
  });

  it('needs only a name; a billing address can come later', async () => {
    const created = await createOk(owner.client, { name: 'Walk-in' });
    expect(created).toMatchObject({ name: 'Walk-in', email: null, phone: null, billingAddress: null, serviceAddresses: [], tags: [] });
  });

  it('answers bad input with BAD_USER_INPUT naming every bad field, and creates nothing', async () => {
    const before = await count();
    const listed = await create(owner.client, {
      name: '',
      email: 'not-an-email',
      billingAddress: { line1: '', city: 'X', postalCode: '', country: 'USA' },
      serviceAddresses: [{ address: { line1: '1 Lake Rd', city: '', postalCode: 'J1X', country: 'CA' } }],
      notes: 'x'.repeat(5001),
    });
    expect(listed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(fieldsOf(listed)).toEqual([
      'billingAddress.country',
      'billingAddress.line1',
      'billingAddress.postalCode',
      'email',
      'name',
      'notes',
      'serviceAddresses.0.address.city',
    ]);
    expect(listed.errors?.[0]?.message).toContain('email must be a valid email address');
    expect(await count()).toBe(before);
  });

  it('refuses a phone number that cannot exist, a blank name, bad tags, naming the field', async () => {
    const before = await count();
    const phone = await create(owner.client, { name: 'Pat', phone: '+1 555 0000' });
    expect(phone.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_INPUT' });
    expect(fieldsOf(phone)).toEqual(['phone']);
    expect(phone.errors?.[0]?.message).toMatch(/^phone: is not a valid phone number/);

    const blank = await create(owner.client, { name: '   ' });
    expect(fieldsOf(blank)).toEqual(['name']);

    const tags = await create(owner.client, { name: 'Pat', tags: ['ok', '  ', 'no,commas'] });
    expect(fieldsOf(tags)).toEqual(['tags']);
    expect(tags.errors?.[0]?.message).toContain('refused: "  ", "no,commas"');
    const tooMany = await create(owner.client, { name: 'Pat', tags: Array.from({ length: 21 }, (_, i) => `tag ${i}`) });
    expect(fieldsOf(tooMany)).toEqual(['tags']);
    expect(tooMany.errors?.[0]?.message).toContain('at most 20');
    // Duplicates do not count against the limit: 21 spellings of 20 tags are fine.
    const dupes = await createOk(owner.client, {
      name: 'Tagged',
      tags: [...Array.from({ length: 20 }, (_, i) => `Tag ${i}`), 'TAG 0'],
    });
    expect(dupes.tags).toHaveLength(20);
    expect(await count()).toBe(before + 1);
  });

  it('changes only the fields given; null clears an optional one; bad input changes nothing', async () => {
    const c = await createOk(owner.client, { name: 'Sam Smith', email: 'sam@example.com', phone: '+1 514 555 0199', notes: 'n', tags: ['a'] });
    const changed = await update(staff, c.id, { email: 'SAM@work.example.com', phone: null, tags: ['B', 'c'], marketingOptOut: true });
    expect(changed.errors).toBeUndefined();
    expect(changed.data!.updateCustomer).toMatchObject({
      name: 'Sam Smith',
      email: 'sam@work.example.com',
      phone: null,
      notes: 'n',
      tags: ['b', 'c'],
      marketingOptOut: true,
    });

    const bad = await update(owner.client, c.id, { name: null, email: 'nope', phone: '12' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(fieldsOf(bad)).toEqual(['email']);
    const bad2 = await update(owner.client, c.id, { name: null, phone: '12', notes: 'changed' });
    expect(fieldsOf(bad2)).toEqual(['name', 'phone']);
    expect(await get(c.id)).toEqual(changed.data!.updateCustomer);

    const inactive = await update(owner.client, c.id, { status: 'INACTIVE' });
    expect(inactive.data!.updateCustomer.status).toBe('INACTIVE');
    const archive = await update(owner.client, c.id, { status: 'ARCHIVED' });
    expect(archive.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'status' }] });
    expect(archive.errors?.[0]?.message).toContain('archiveCustomer');

    const events = await outboxEvents(c.id);
    expect(events.map((e: { type: string }) => e.type)).toEqual(['CustomerCreated', 'CustomerUpdated', 'CustomerUpdated']);
    expect(events[1]).toMatchObject({ changed: ['email', 'phone', 'tags', 'marketingOptOut'] });
    // Saving the same values again is not a change: no event.
    await update(owner.client, c.id, { email: 'sam@work.example.com', status: 'INACTIVE' });
    expect(await outboxEvents(c.id)).toHaveLength(3);
  });

  it('refuses an external reference another customer of the organization has, naming it (CONFLICT)', async () => {
    const first = await createOk(owner.client, { name: 'First Co', externalReference: 'QB-42' });
    const before = await count();
    const dup = await create(owner.client, { name: 'Second Co', externalReference: ' QB-42 ' });
    expect(dup.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'EXTERNAL_REFERENCE_TAKEN',
      fields: [{ field: 'externalReference' }],
      customerId: first.id,
    });
    expect(dup.errors?.[0]?.message).toBe('externalReference "QB-42" is already used by customer First Co; each customer needs their own');
    expect(await count()).toBe(before);

    const second = await createOk(owner.client, { name: 'Second Co', externalReference: 'QB-43' });
    const moved = await update(owner.client, second.id, { externalReference: 'QB-42', notes: 'should not be saved' });
    expect(moved.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'EXTERNAL_REFERENCE_TAKEN' });
    expect(await get(second.id)).toMatchObject({ externalReference: 'QB-43', notes: null });
    // Its own reference again is not a conflict; clearing frees it; another organization may use the same one.
    expect((await update(owner.client, first.id, { externalReference: 'QB-42' })).errors).toBeUndefined();
    expect((await update(owner.client, first.id, { externalReference: '' })).data!.updateCustomer.externalReference).toBeNull();
    expect((await update(owner.client, second.id, { externalReference: 'QB-42' })).errors).toBeUndefined();
    const other = await signUpOrganization(t.gql, 'Other Org');
    expect((await createOk(other.client, { name: 'Elsewhere', externalReference: 'QB-42' })).externalReference).toBe('QB-42');
  });

  it('archiving needs OWNER, ADMIN or PAYMENT_MANAGER; STAFF is refused and nothing changes', async () => {
    const c = await createOk(owner.client, { name: 'Archie Vist' });
    tick();
    const refused = await staff.request(`mutation($id: ID!) { archiveCustomer(id: $id) { status } }`, { id: c.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_REQUIRED' });
    expect((await get(c.id)).status).toBe('ACTIVE');

    const archived = await manager.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { status archivedAt } }`, { id: c.id });
    expect(archived.archiveCustomer).toEqual({ status: 'ARCHIVED', archivedAt: expect.any(String) });
    // Archiving again changes nothing.
    expect((await owner.client.ok(`mutation($id: ID!) { archiveCustomer(id: $id) { archivedAt } }`, { id: c.id })).archiveCustomer)
      .toEqual({ archivedAt: archived.archiveCustomer.archivedAt });

    // Its status can no longer be edited, but its details can.
    const status = await update(staff, c.id, { status: 'ACTIVE' });
    expect(status.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CUSTOMER_ARCHIVED' });
    expect((await update(staff, c.id, { notes: 'moved away' })).data!.updateCustomer).toMatchObject({ status: 'ARCHIVED', notes: 'moved away' });

    const staffReactivate = await staff.request(`mutation($id: ID!) { reactivateCustomer(id: $id) { status } }`, { id: c.id });
    expect(staffReactivate.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    tick();
    const back = await manager.ok(`mutation($id: ID!) { reactivateCustomer(id: $id) { status archivedAt } }`, { id: c.id });
    expect(back.reactivateCustomer).toEqual({ status: 'ACTIVE', archivedAt: null });
    expect((await outboxEvents(c.id)).map((e: { type: string }) => e.type)).toEqual([
      'CustomerCreated',
      'CustomerArchived',
      'CustomerUpdated',
      'CustomerReactivated',
    ]);
  });

  it('answers NOT_FOUND for an unknown customer or member, and for ids that are not ids', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope']) {
      const res = await owner.client.request(`query($id: ID!) { customer(id: $id) { id } }`, { id });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'NOT_FOUND' });
      const upd = await update(owner.client, id, { notes: 'x' });
      expect(upd.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const member = await owner.client.request(`mutation($id: ID!) { removeCustomerMember(id: $id) { id } }`, { id });
      expect(member.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'MEMBER_NOT_FOUND' });
    }
  });

  it('manages the people of an account, who are found by the account search', async () => {
    const account = await createOk(owner.client, { name: 'Martha Parent', email: 'martha@example.com' });
    const add = (input: Record<string, unknown>) =>
      tick() ?? staff.request(
        `mutation($c: ID!, $i: AddCustomerMemberInput!) { addCustomerMember(customerId: $c, input: $i) { id customerId name email phone relationship dateOfBirth } }`,
        { c: account.id, i: input },
      );
    const tommy = await add({ name: ' Tommy  Parent ', relationship: 'Child', dateOfBirth: '2015-06-01', phone: '514 555 0177' });
    expect(tommy.errors).toBeUndefined();
    expect(tommy.data!.addCustomerMember).toMatchObject({
      customerId: account.id,
      name: 'Tommy Parent',
      relationship: 'Child',
      dateOfBirth: '2015-06-01',
      phone: '+15145550177',
      email: null,
    });
    const tommyId = tommy.data!.addCustomerMember.id;
    const future = t.clock.now();
    future.setUTCFullYear(future.getUTCFullYear() + 1);
    const bad = await add({ name: '', email: 'x', dateOfBirth: future.toISOString().slice(0, 10) });
    expect(fieldsOf(bad)).toEqual(['email', 'name']);
    const bad2 = await add({ name: 'Kid', dateOfBirth: future.toISOString().slice(0, 10) });
    expect(bad2.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'dateOfBirth', message: 'must not be in the future' }] });
    const bad3 = await add({ name: 'Kid', dateOfBirth: '2015-02-30' });
    expect(fieldsOf(bad3)).toEqual(['dateOfBirth']);
    await add({ name: 'Zoe Parent', email: 'ZOE@example.com' });

    expect((await get(account.id)).members.map((m: { name: string; email: string | null }) => [m.name, m.email])).toEqual([
      ['Tommy Parent', null],
      ['Zoe Parent', 'zoe@example.com'],
    ]);
    const found = async (text: string) =>
      (await owner.client.ok(`query($t: String) { customers(filter: { text: $t }) { nodes { id } } }`, { t: text })).customers.nodes.map(
        (n: { id: string }) => n.id,
      );
    expect(await found('tommy')).toEqual([account.id]);
    expect(await found('514-555-0177')).toEqual([account.id]);

    const renamed = await staff.ok(
      `mutation($id: ID!, $i: UpdateCustomerMemberInput!) { updateCustomerMember(id: $id, input: $i) { name relationship dateOfBirth } }`,
      { id: tommyId, i: { name: 'Thomas Parent', relationship: null } },
    );
    expect(renamed.updateCustomerMember).toEqual({ name: 'Thomas Parent', relationship: null, dateOfBirth: '2015-06-01' });
    expect(await found('tommy')).toEqual([]);
    expect(await found('thomas')).toEqual([account.id]);

    const removed = await staff.ok(`mutation($id: ID!) { removeCustomerMember(id: $id) { id members { name } } }`, { id: tommyId });
    expect(removed.removeCustomerMember).toEqual({ id: account.id, members: [{ name: 'Zoe Parent' }] });
    expect(await found('thomas')).toEqual([]);
    const again = await staff.request(`mutation($id: ID!) { removeCustomerMember(id: $id) { id } }`, { id: tommyId });
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('loads the members of a page of customers in one query', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await createOk(owner.client, { name: `Loader ${i}`, tags: ['loader'] });
      await owner.client.ok(`mutation($c: ID!) { addCustomerMember(customerId: $c, input: { name: "Kid ${i}" }) { id } }`, { c: c.id });
    }
    t.queries.length = 0;
    const page = await owner.client.ok(`{ customers(filter: { tags: ["loader"] }) { nodes { name members { name } } } }`);
    expect(page.customers.nodes).toEqual([0, 1, 2].map((i) => ({ name: `Loader ${i}`, members: [{ name: `Kid ${i}` }] })));
    expect(t.queries.filter((q) => /from "customer_member"/.test(q))).toHaveLength(1);
  });

  describe('CustomerDirectory (the facade other modules use)', () => {
    const withEm = async <T>(fn: (em: import('@mikro-orm/postgresql').EntityManager) => Promise<T>, org = owner.organizationId) => {
      const em = t.app.get(MikroORM).em.fork();
      scopeToTenant(em, org);
      return em.transactional(fn);
    };
    const directory = () => t.app.get(CustomerDirectory);

    it('reads snapshots: get, require, getMany (in the order asked, unknown ids skipped)', async () => {
      const a = await createOk(owner.client, { name: 'Snap A', email: 'a@example.com', billingAddress: ADDRESS, marketingOptOut: true });
      const b = await createOk(owner.client, { name: 'Snap B' });
      expect(await withEm((em) => directory().get(em, a.id))).toEqual({
        id: a.id,
        name: 'Snap A',
        email: 'a@example.com',
        phone: null,
        billingAddress: { line1: '12 Main St', line2: null, city: 'Montréal', region: 'QC', postalCode: 'H2X 1Y4', country: 'CA' },
        marketingOptOut: true,
        status: 'ACTIVE',
      });
      expect(await withEm((em) => directory().get(em, 'not-an-id'))).toBeNull();
      const missing = '00000000-0000-4000-8000-000000000000';
      await expect(withEm((em) => directory().require(em, missing))).rejects.toThrow(`Customer ${missing} was not found`);
      expect((await withEm((em) => directory().getMany(em, [b.id, missing, a.id, 'x']))).map((s) => s.name)).toEqual(['Snap B', 'Snap A']);
      // Another organization's em does not see them.
      const other = await signUpOrganization(t.gql, 'Another');
      expect(await withEm((em) => directory().getMany(em, [a.id, b.id]), other.organizationId)).toEqual([]);
      await expect(withEm((em) => directory().require(em, a.id), other.organizationId)).rejects.toBeInstanceOf(CustomerError);
    });

    it('updateContact validates like staff input: each bad field named, nothing changed', async () => {
      const c = await createOk(owner.client, { name: 'Hosted Page', email: 'hp@example.com' });
      const error = await withEm((em) =>
        directory().updateContact(em, c.id, {
          name: ' ',
          email: 'bad',
          phone: '123',
          billingAddress: { line1: '1 Rd', city: '', postalCode: 'H2X', country: 'Canada' },
        }),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CustomerError);
      expect((error as CustomerError).code).toBe('BAD_USER_INPUT');
      expect((error as CustomerError).fields.map((f) => f.field).sort()).toEqual([
        'billingAddress.city',
        'billingAddress.country',
        'email',
        'name',
        'phone',
      ]);
      expect((await get(c.id)).email).toBe('hp@example.com');

      const snap = await withEm((em) =>
        directory().updateContact(em, c.id, { email: 'New@Example.com', phone: '+44 20 7946 0018', billingAddress: ADDRESS }),
      );
      expect(snap).toMatchObject({ name: 'Hosted Page', email: 'new@example.com', phone: '+442079460018' });
      expect(snap.billingAddress).toMatchObject({ postalCode: 'H2X 1Y4', country: 'CA' });
      const events = await outboxEvents(c.id);
      expect(events.at(-1)).toMatchObject({ type: 'CustomerUpdated', changedBy: null, changed: ['email', 'phone', 'billingAddress'] });
    });

    it('recordPaymentSummary shows on the customer, and a customer with saved methods keeps a billing address', async () => {
      const c = await createOk(owner.client, { name: 'Card Holder', billingAddress: ADDRESS });
      await withEm((em) =>
        directory().recordPaymentSummary(em, c.id, { hasCard: true, hasBankAccount: false, hasConsent: true, cardExpiresOn: '2027-03-31' }),
      );
      expect(await get(c.id)).toMatchObject({ hasCard: true, hasBankAccount: false, hasConsent: true, cardExpiresOn: '2027-03-31' });
      const cleared = await update(owner.client, c.id, { billingAddress: null });
      expect(cleared.errors?.[0]?.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'BILLING_ADDRESS_REQUIRED',
        fields: [{ field: 'billingAddress' }],
      });
      expect((await get(c.id)).billingAddress).not.toBeNull();

      await withEm((em) =>
        directory().recordPaymentSummary(em, c.id, { hasCard: false, hasBankAccount: false, hasConsent: false, cardExpiresOn: null }),
      );
      expect(await get(c.id)).toMatchObject({ hasCard: false, hasConsent: false, cardExpiresOn: null });
      expect((await update(owner.client, c.id, { billingAddress: null })).data!.updateCustomer.billingAddress).toBeNull();
      await expect(
        withEm((em) =>
          directory().recordPaymentSummary(em, '00000000-0000-4000-8000-000000000000', {
            hasCard: false,
            hasBankAccount: false,
            hasConsent: false,
            cardExpiresOn: null,
          }),
        ),
      ).rejects.toThrow('was not found');
    });

    it('rolls back with the caller: a change made through the facade in a failed transaction is not kept', async () => {
      const c = await createOk(owner.client, { name: 'Rollback' });
      await expect(
        withEm(async (em) => {
          await directory().updateContact(em, c.id, { name: 'Changed' });
          throw new Error('the caller failed afterwards');
        }),
      ).rejects.toThrow('the caller failed afterwards');
      expect((await get(c.id)).name).toBe('Rollback');
      expect((await outboxEvents(c.id)).map((e: { type: string }) => e.type)).toEqual(['CustomerCreated']);
    });
  });
});
