import { randomBytes } from 'node:crypto';
import type { GraphQLClient } from '#libs/testing/index.js';

/** Builders for test data, through the public API (GraphQL or the sandbox gateway's HTTP), with overrides. */

export const TEST_ADDRESS = { line1: '12 Main St', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US' };

/** A customer with a unique email and a billing address (so methods can be saved); `overrides` win. */
export async function createCustomer(
  client: GraphQLClient,
  overrides: Record<string, unknown> = {},
): Promise<{ id: string; email: string; name: string }> {
  const suffix = randomBytes(3).toString('hex');
  const input = { name: `Customer ${suffix}`, email: `customer-${suffix}@example.com`, billingAddress: TEST_ADDRESS, ...overrides };
  const data = await client.ok<{ createCustomer: { id: string } }>(
    `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }`,
    { i: input },
  );
  return { id: data.createCustomer.id, email: input.email as string, name: input.name as string };
}

/**
 * A sandbox token for one of Stripe's test bank accounts, made as a client would (the sandbox tokenization endpoint).
 * Default: the account that saves and debits successfully.
 */
export async function sandboxBankToken(appUrl: string, accountNumber = '000123456789'): Promise<string> {
  const res = await fetch(`${appUrl}/sandbox-gateway/v1/payment_methods`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'us_bank_account',
      us_bank_account: { routing_number: '110000000', account_number: accountNumber, account_holder_type: 'individual', account_type: 'checking' },
      billing_details: { name: 'Pat Customer' },
    }),
  });
  const body = (await res.json()) as { id?: string; error?: unknown };
  if (!res.ok || !body.id) throw new Error(`sandbox tokenization failed (${res.status}): ${JSON.stringify(body)}`);
  return body.id;
}
