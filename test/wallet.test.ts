import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { Wallet, WalletError } from '../src/modules/wallet/index.js';
import { createCustomer as buildCustomer, sandboxBankToken } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Owner = Awaited<ReturnType<typeof signUpOrganization>>;
type Member = Awaited<ReturnType<typeof addUser>>;

const ADDRESS = { line1: '12 Rue Principale', city: 'Montréal', region: 'QC', postalCode: 'H2X 1Y4', country: 'CA' };
const METHOD = `id customerId kind status label brand last4 expMonth expYear expiresOn expired expiringSoon bankName
  billingAddress { line1 city postalCode country } isDefault savedVia savedBy
  consent { granted grantedAt source recordedBy revokedAt } createdAt removedAt`;

describe('wallet: saved cards and bank accounts', () => {
  let t: TestApp;
  let owner: Owner;
  let manager: Member;
  let staff: Member;

  beforeAll(async () => {
    t = await startTestApp({ env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'settle-wallet-')) } });
    owner = await signUpOrganization(t.gql, 'Pinecrest Pools');
    manager = await addUser(owner.client, 'PAYMENT_MANAGER');
    staff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  const createCustomer = async (overrides: Record<string, unknown> = {}) =>
    (await buildCustomer(owner.client, { billingAddress: ADDRESS, ...overrides })).id;

  const save = (client: Member['client'], input: Record<string, unknown>) =>
    client.request(
      `mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { updatedExisting paymentMethod { ${METHOD} } } }`,
      { i: { consentGiven: true, ...input } },
    );
  const saveOk = async (input: Record<string, unknown>) => {
    const res = await save(manager.client, input);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.savePaymentMethod;
  };
  const wallet = async (customerId: string, includeRemoved = false) =>
    (
      await owner.client.ok(`query($c: ID!, $r: Boolean!) { paymentMethods(customerId: $c, includeRemoved: $r) { ${METHOD} } }`, {
        c: customerId,
        r: includeRemoved,
      })
    ).paymentMethods as Record<string, any>[];
  const customerSummary = async (customerId: string) =>
    (await owner.client.ok(`query($id: ID!) { customer(id: $id) { hasCard hasBankAccount hasConsent } }`, { id: customerId })).customer;

  /** Saved methods written straight to the table: the state "already has ten" without ten gateway round trips. */
  async function seedMethods(customerId: string, kind: 'CARD' | 'BANK_ACCOUNT', count: number) {
    const em = t.app.get(MikroORM).em.fork();
    for (let i = 0; i < count; i++) {
      await em.execute(
        `insert into payment_method (id, organization_id, created_at, updated_at, customer_id, kind, status, gateway,
           gateway_payment_method_id, fingerprint, brand, last4, exp_month, exp_year, billing_address, is_default, saved_via)
         values (gen_random_uuid(), ?, now(), now(), ?, ?, 'ACTIVE', 'sandbox', ?, ?, ?, ?, ?, ?, ?, false, 'STAFF')`,
        [
          owner.organizationId,
          customerId,
          kind,
          `pm_seeded_${randomBytes(6).toString('hex')}`,
          `fp_seeded_${randomBytes(6).toString('hex')}`,
          kind === 'CARD' ? 'visa' : null,
          String(1000 + i),
          kind === 'CARD' ? 12 : null,
          kind === 'CARD' ? 2040 : null,
          JSON.stringify(ADDRESS),
        ],
      );
    }
  }

  it('a PAYMENT_MANAGER saves a card with consent: it is the default, shows brand and last 4, and the customer is told', async () => {
    const customerId = await createCustomer();
    const saved = await saveOk({ customerId, token: 'pm_card_visa', consentNote: 'by phone' });
    expect(saved.updatedExisting).toBe(false);
    expect(saved.paymentMethod).toMatchObject({
      kind: 'CARD',
      brand: 'visa',
      last4: '4242',
      label: 'Visa ending in 4242',
      isDefault: true,
      expired: false,
      savedVia: 'STAFF',
      savedBy: manager.userId,
      billingAddress: { line1: ADDRESS.line1, country: 'CA' },
      consent: { granted: true, source: 'STAFF_ON_CUSTOMER_INSTRUCTION', recordedBy: manager.userId, revokedAt: null },
    });
    expect(await wallet(customerId)).toHaveLength(1);
    expect(await customerSummary(customerId)).toEqual({ hasCard: true, hasBankAccount: false, hasConsent: true });
    const onCustomer = await owner.client.ok(
      `query($id: ID!) { customer(id: $id) { paymentMethods { label } defaultPaymentMethod { id } } }`,
      { id: customerId },
    );
    expect(onCustomer.customer).toEqual({ paymentMethods: [{ label: 'Visa ending in 4242' }], defaultPaymentMethod: { id: saved.paymentMethod.id } });

    const history = await owner.client.ok(
      `query($id: ID!) { paymentMethod(id: $id) { consentHistory { action source recordedBy note } } }`,
      { id: saved.paymentMethod.id },
    );
    expect(history.paymentMethod.consentHistory).toEqual([
      { action: 'GRANTED', source: 'STAFF_ON_CUSTOMER_INSTRUCTION', recordedBy: manager.userId, note: 'by phone' },
    ]);

    const messages = await owner.client.ok(`query($c: ID) { messages(customerId: $c) { nodes { kind channel } } }`, { c: customerId });
    expect(messages.messages.nodes).toEqual([{ kind: 'PAYMENT_METHOD_SAVED', channel: 'EMAIL' }]);
  });

  const bankToken = () => sandboxBankToken(t.url);

  it('saves a bank account (eCheck) through the sandbox tokenization endpoint', async () => {
    const customerId = await createCustomer();
    const token = await bankToken();
    const saved = await saveOk({ customerId, token });
    expect(saved.paymentMethod).toMatchObject({ kind: 'BANK_ACCOUNT', last4: '6789', expMonth: null, isDefault: true });
    expect(await customerSummary(customerId)).toEqual({ hasCard: false, hasBankAccount: true, hasConsent: true });
  });

  it('STAFF may look at a wallet but not save to it', async () => {
    const customerId = await createCustomer();
    const res = await save(staff.client, { customerId, token: 'pm_card_visa' });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const list = await staff.client.ok(`query($c: ID!) { paymentMethods(customerId: $c) { id } }`, { c: customerId });
    expect(list.paymentMethods).toEqual([]);
  });

  it('refuses to save without a billing address, naming it, and saves nothing', async () => {
    const customerId = await createCustomer({ billingAddress: null });
    const res = await save(manager.client, { customerId, token: 'pm_card_visa' });
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'BILLING_ADDRESS_REQUIRED',
      fields: [{ field: 'billingAddress' }],
    });
    expect(await wallet(customerId)).toEqual([]);

    // Given in the request instead, it works.
    const saved = await saveOk({ customerId, token: 'pm_card_visa', billingAddress: { ...ADDRESS, line1: '9 Other St' } });
    expect(saved.paymentMethod.billingAddress.line1).toBe('9 Other St');
  });

  it.each([
    ['pm_card_chargeDeclined', 'DECLINED', /declined/i],
    ['pm_card_chargeDeclinedInsufficientFunds', 'DECLINED', /insufficient funds/i],
    ['pm_card_chargeDeclinedExpiredCard', 'DECLINED', /expired/i],
    ['pm_card_chargeDeclinedIncorrectCvc', 'DECLINED', /security code|CVC/i],
    ['pm_card_authenticationRequired', 'AUTHENTICATION_REQUIRED', /authenticate/i],
    ['pm_does_not_exist', 'TOKEN_INVALID', /token/i],
  ])('a refused card (%s) gets a clear %s error and nothing is saved', async (token, reason, message) => {
    const customerId = await createCustomer();
    const res = await save(manager.client, { customerId, token });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason, fields: [{ field: 'token' }] });
    expect(res.errors?.[0]?.message).toMatch(message);
    expect(await wallet(customerId)).toEqual([]);
    expect(await customerSummary(customerId)).toEqual({ hasCard: false, hasBankAccount: false, hasConsent: false });
  });

  it('the same card saved twice updates the saved one instead of adding a second', async () => {
    const customerId = await createCustomer();
    const first = await saveOk({ customerId, token: 'pm_card_visa', consentGiven: false });
    const second = await saveOk({ customerId, token: 'pm_card_visa', consentGiven: true });
    expect(second.updatedExisting).toBe(true);
    expect(second.paymentMethod.id).toBe(first.paymentMethod.id);
    expect(second.paymentMethod.consent.granted).toBe(true);
    expect(await wallet(customerId)).toHaveLength(1);
  });

  it.each([
    ['CARD', 'pm_card_visa', 'cards'],
    ['BANK_ACCOUNT', null, 'bank accounts'],
  ] as const)('the 11th %s is refused with a clear error and nothing changes', async (kind, token, words) => {
    const customerId = await createCustomer();
    await seedMethods(customerId, kind, 10);
    const eleventh = token ?? (await bankToken());
    const before = await wallet(customerId);
    const res = await save(manager.client, { customerId, token: eleventh });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LIMIT_REACHED', limit: 10 });
    expect(res.errors?.[0]?.message).toContain(`already has 10 saved ${words}`);
    expect(await wallet(customerId)).toEqual(before);

    // The other kind still has room.
    const other = await saveOk({ customerId, token: kind === 'CARD' ? await bankToken() : 'pm_card_mastercard' });
    expect(other.paymentMethod.kind).toBe(kind === 'CARD' ? 'BANK_ACCOUNT' : 'CARD');
  });

  it('two people saving the 10th and 11th card at the same moment: exactly one gets in', async () => {
    const customerId = await createCustomer();
    await seedMethods(customerId, 'CARD', 9);
    const results = await Promise.all([
      save(manager.client, { customerId, token: 'pm_card_visa' }),
      save(owner.client, { customerId, token: 'pm_card_mastercard' }),
    ]);
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(1);
    expect(refused.map((r) => r.errors![0]!.extensions!.reason)).toEqual(['LIMIT_REACHED']);
    expect(await wallet(customerId)).toHaveLength(10);
  });

  it('one default: a new default moves it, and removing the default promotes the most recent other method', async () => {
    const customerId = await createCustomer();
    const visa = (await saveOk({ customerId, token: 'pm_card_visa' })).paymentMethod;
    const mc = (await saveOk({ customerId, token: 'pm_card_mastercard', makeDefault: true })).paymentMethod;
    const amex = (await saveOk({ customerId, token: 'pm_card_amex' })).paymentMethod;
    const defaults = async () => (await wallet(customerId)).filter((m) => m.isDefault).map((m) => m.id);
    expect(await defaults()).toEqual([mc.id]);

    await manager.client.ok(`mutation($id: ID!) { setDefaultPaymentMethod(id: $id) { id } }`, { id: visa.id });
    expect(await defaults()).toEqual([visa.id]);

    const removed = await manager.client.ok(`mutation($id: ID!) { removePaymentMethod(id: $id) { status removedAt } }`, { id: visa.id });
    expect(removed.removePaymentMethod.status).toBe('REMOVED');
    expect(await defaults()).toEqual([amex.id]);
    expect((await wallet(customerId)).map((m) => m.id).sort()).toEqual([mc.id, amex.id].sort());
    expect((await wallet(customerId, true)).find((m) => m.id === visa.id)).toMatchObject({ status: 'REMOVED', isDefault: false });
  });

  it('removing needs OWNER, ADMIN or PAYMENT_MANAGER; removing the last card clears "has card"', async () => {
    const customerId = await createCustomer();
    const visa = (await saveOk({ customerId, token: 'pm_card_visa' })).paymentMethod;
    const denied = await staff.client.request(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: visa.id });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await wallet(customerId)).toHaveLength(1);

    await manager.client.ok(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: visa.id });
    expect(await customerSummary(customerId)).toEqual({ hasCard: false, hasBankAccount: false, hasConsent: false });
    const again = await manager.client.request(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: visa.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'METHOD_REMOVED' });
  });

  it('consent can be revoked and granted again, with the history kept; without it, charging later is refused', async () => {
    const customerId = await createCustomer();
    const visa = (await saveOk({ customerId, token: 'pm_card_visa' })).paymentMethod;

    const staffTry = await staff.client.request(
      `mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`,
      { i: { id: visa.id } },
    );
    expect(staffTry.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    t.clock.advance(60_000);
    const revoked = await manager.client.ok(
      `mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { consent { granted revokedAt } } }`,
      { i: { id: visa.id, note: 'Customer called to withdraw' } },
    );
    expect(revoked.revokePaymentMethodConsent.consent.granted).toBe(false);
    expect(revoked.revokePaymentMethodConsent.consent.revokedAt).not.toBeNull();
    expect(await customerSummary(customerId)).toMatchObject({ hasCard: true, hasConsent: false });

    const em = t.app.get(MikroORM).em.fork();
    scopeToTenant(em, owner.organizationId);
    const walletFacade = t.app.get(Wallet);
    await expect(walletFacade.chargeable(em, visa.id, { requireConsent: true })).rejects.toMatchObject({ reason: 'CONSENT_REQUIRED' });
    await expect(walletFacade.chargeable(em, visa.id, { requireConsent: false })).resolves.toMatchObject({ label: 'Visa ending in 4242' });

    const twice = await manager.client.request(
      `mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`,
      { i: { id: visa.id } },
    );
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ALREADY_IN_STATE' });

    t.clock.advance(60_000);
    await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { grantPaymentMethodConsent(input: $i) { id } }`, {
      i: { id: visa.id, note: 'Signed form on file' },
    });
    const history = await owner.client.ok(
      `query($id: ID!) { paymentMethod(id: $id) { consent { granted } consentHistory { action note recordedBy } } }`,
      { id: visa.id },
    );
    expect(history.paymentMethod.consent.granted).toBe(true);
    expect(history.paymentMethod.consentHistory).toEqual([
      { action: 'GRANTED', note: null, recordedBy: manager.userId },
      { action: 'REVOKED', note: 'Customer called to withdraw', recordedBy: manager.userId },
      { action: 'GRANTED', note: 'Signed form on file', recordedBy: manager.userId },
    ]);
    const fresh = t.app.get(MikroORM).em.fork();
    scopeToTenant(fresh, owner.organizationId);
    await expect(walletFacade.chargeable(fresh, visa.id, { requireConsent: true })).resolves.toMatchObject({ consentGranted: true });
  });

  it('an expired card is flagged; its expiry can be updated only with consent, and not to a past date', async () => {
    const customerId = await createCustomer();
    const visa = (await saveOk({ customerId, token: 'pm_card_visa', consentGiven: false })).paymentMethod;
    const [y, m] = [visa.expYear as number, visa.expMonth as number];

    t.clock.set(new Date(Date.UTC(y, m, 2))); // the 2nd of the month after its expiry month
    try {
      const [expired] = await wallet(customerId);
      expect(expired).toMatchObject({ expired: true, expiringSoon: true });
      const em = t.app.get(MikroORM).em.fork();
      scopeToTenant(em, owner.organizationId);
      await expect(t.app.get(Wallet).chargeable(em, visa.id, { requireConsent: false })).rejects.toBeInstanceOf(WalletError);

      const update = (expMonth: number, expYear: number) =>
        manager.client.request(`mutation($i: UpdateCardExpiryInput!) { updateCardExpiry(input: $i) { expMonth expYear expired } }`, {
          i: { id: visa.id, expMonth, expYear },
        });
      const noConsent = await update(m, y + 3);
      expect(noConsent.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CONSENT_REQUIRED' });

      await manager.client.ok(`mutation($i: PaymentMethodConsentInput!) { grantPaymentMethodConsent(input: $i) { id } }`, {
        i: { id: visa.id },
      });
      const past = await update(m, y);
      expect(past.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'EXPIRY_INVALID', fields: [{ field: 'expYear' }] });
      const badMonth = await update(13, y + 3);
      expect(badMonth.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

      const renewed = await update(m, y + 3);
      expect(renewed.data?.updateCardExpiry).toEqual({ expMonth: m, expYear: y + 3, expired: false });
    } finally {
      t.clock.set(new Date());
    }
  });

  it('replacing a card keeps its consent and default and removes the old one; without consent it is refused', async () => {
    const customerId = await createCustomer();
    const visa = (await saveOk({ customerId, token: 'pm_card_visa' })).paymentMethod;
    const replace = (id: string, token: string) =>
      manager.client.request(`mutation($i: ReplaceCardInput!) { replaceCard(input: $i) { ${METHOD} } }`, { i: { id, token } });

    const res = await replace(visa.id, 'pm_card_mastercard');
    expect(res.data?.replaceCard).toMatchObject({ brand: 'mastercard', isDefault: true, consent: { granted: true } });
    const list = await wallet(customerId, true);
    expect(list.find((x) => x.id === visa.id)).toMatchObject({ status: 'REMOVED' });
    expect(list.filter((x) => x.status === 'ACTIVE').map((x) => x.brand)).toEqual(['mastercard']);

    const other = (await saveOk({ customerId, token: 'pm_card_amex', consentGiven: false })).paymentMethod;
    const refused = await replace(other.id, 'pm_card_discover');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CONSENT_REQUIRED' });
    expect((await wallet(customerId)).map((x) => x.brand).sort()).toEqual(['amex', 'mastercard']);
  });

  it('an unknown or malformed id is NOT_FOUND', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      const res = await owner.client.request(`query($id: ID!) { paymentMethod(id: $id) { id } }`, { id });
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });
});
