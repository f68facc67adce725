import { createCustomer } from './support/builders.js';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

/** The payment fields on a customer list (Customer.lastPayment), as the staff screens read them. */
describe('payments: a customer page shows each customer’s last payment', () => {
  let t: TestApp;
  let owner: Awaited<ReturnType<typeof signUpOrganization>>;
  let staff: Awaited<ReturnType<typeof addUser>>;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUpOrganization(t.gql, 'Harbour Marine');
    staff = await addUser(owner.client, 'STAFF');
  });
  afterAll(() => t.close());

  const card = async (customerId: string) =>
    (
      await owner.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
        i: { customerId, token: 'pm_card_visa', consentGiven: true },
      })
    ).savePaymentMethod.paymentMethod.id as string;
  const pay = (client: typeof owner.client, customerId: string, paymentMethodId: string, amount: string) =>
    client.ok(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status } }`, {
      i: { customerId, paymentMethodId, amount: { amount, currency: 'USD' } },
    });
  const page = async (client: typeof owner.client) =>
    (await client.ok(`{ customers(first: 50) { nodes { id lastPayment { id status amount { amount } } } } }`)).customers.nodes as {
      id: string;
      lastPayment: { id: string; status: string; amount: { amount: string } } | null;
    }[];

  it('is the newest payment for managers, the newest one they took for STAFF, and null without one', async () => {
    const [a, b, none] = await Promise.all([createCustomer(owner.client), createCustomer(owner.client), createCustomer(owner.client)]);
    const [cardA, cardB] = [await card(a.id), await card(b.id)];
    // The test clock stands still unless moved: a second apart, so "newest" is defined by time, not by id.
    const later = () => t.clock.advance(1000);
    await pay(owner.client, a.id, cardA, '1000');
    later();
    const newest = (await pay(owner.client, a.id, cardA, '2500')).takePayment;
    later();
    const byStaff = (await pay(staff.client, b.id, cardB, '700')).takePayment;
    later();
    await pay(owner.client, b.id, cardB, '900');

    const forOwner = new Map((await page(owner.client)).map((c) => [c.id, c.lastPayment]));
    expect(forOwner.get(a.id)).toEqual({ id: newest.id, status: 'SUCCEEDED', amount: { amount: '2500' } });
    expect(forOwner.get(b.id)?.amount.amount).toBe('900');
    expect(forOwner.get(none.id)).toBeNull();

    const forStaff = new Map((await page(staff.client)).map((c) => [c.id, c.lastPayment]));
    expect(forStaff.get(a.id)).toBeNull(); // STAFF see only the payments they took (like payment(id))
    expect(forStaff.get(b.id)).toEqual({ id: byStaff.id, status: 'SUCCEEDED', amount: { amount: '700' } });
  });
});
