/**
 * Fast seeding of billable customers for the benchmarks and the resilience scenario: N customers of one existing
 * organization, each with a saved Visa with consent (wallet `payment_method` + `wallet_account`, and the sandbox
 * gateway's own `customer` and `payment_method` objects) and one ACTIVE monthly agreement ($120.00 + 8.875% tax,
 * billed on the 1st) starting on `startDate`. Plain batched SQL (5,000 rows per statement), not the app's use cases.
 */
import type pg from 'pg';
import { newId } from '#libs/ddd/index.js';

export interface SeededCustomer {
  customer: string;
  method: string;
  account: string;
  agreement: string;
}

export interface SeedOptions {
  organizationId: string;
  count: number;
  /** created_at / consent time of the rows (ISO instant). */
  now: string;
  /** The agreements' start date (YYYY-MM-DD); every month from it to the run's date is one period due. */
  startDate: string;
  /** Prefix of the sandbox gateway ids (cus_<prefix>00000001, pm_<prefix>…), unique per database. */
  gatewayPrefix?: string;
}

export async function seedBillableCustomers(db: pg.Client | pg.Pool, options: SeedOptions): Promise<SeededCustomer[]> {
  const { organizationId: org, count, now, startDate } = options;
  const prefix = options.gatewayPrefix ?? 'bench';
  const seeded: SeededCustomer[] = [];
  for (let start = 0; start < count; start += 5000) {
    const n = Math.min(5000, count - start);
    const rows = Array.from({ length: n }, (_, i) => {
      const k = start + i;
      const cus = `cus_${prefix}${String(k).padStart(8, '0')}`;
      const pm = `pm_${prefix}${String(k).padStart(8, '0')}`;
      return { customer: newId(), method: newId(), account: newId(), agreement: newId(), cus, pm, name: `Customer ${k}`, email: `c${k}@example.com` };
    });
    for (const r of rows) seeded.push({ customer: r.customer, method: r.method, account: r.account, agreement: r.agreement });
    const json = JSON.stringify(rows);
    await db.query(
      `insert into customer (id, organization_id, created_at, updated_at, name, sort_name, search_text, email, has_card, has_consent)
       select r.customer, $1, $2, $2, r.name, lower(r.name), lower(r.name || ' ' || r.email), r.email, true, true from jsonb_to_recordset($3::jsonb) as r(customer uuid, name text, email text)`,
      [org, now, json],
    );
    await db.query(
      `insert into sandbox_gateway_object (id, type, data, created_at, updated_at)
       select r.cus, 'customer', jsonb_build_object('name', r.name, 'email', r.email, 'phone', null, 'address', null, 'metadata', '{}'::jsonb), $1::timestamptz, $1::timestamptz
         from jsonb_to_recordset($2::jsonb) as r(cus text, name text, email text)
       union all
       select r.pm, 'payment_method', jsonb_build_object('kind', 'CARD', 'card', jsonb_build_object('brand', 'visa', 'last4', '4242', 'expMonth', 12, 'expYear', 2030,
                'fingerprint', 'fp_bench', 'funding', 'credit'), 'bankAccount', null, 'billingName', r.name, 'billingAddress', null, 'customerId', r.cus,
                'behavior', 'success', 'mandate', null, 'detachedAt', null), $1::timestamptz, $1::timestamptz
         from jsonb_to_recordset($2::jsonb) as r(pm text, cus text, name text)`,
      [now, json],
    );
    await db.query(
      `insert into payment_method (id, organization_id, created_at, updated_at, customer_id, kind, status, gateway, gateway_payment_method_id, fingerprint, brand,
                                   last4, exp_month, exp_year, funding, billing_address, is_default, saved_via, consent_granted, consent_granted_at, consent_source)
       select r.method, $1, $2, $2, r.customer, 'CARD', 'ACTIVE', 'sandbox', r.pm, 'fp_bench', 'visa', '4242', 12, 2030, 'credit',
              '{"line1": "12 Main St", "city": "Springfield", "region": "IL", "postalCode": "62701", "country": "US"}'::jsonb, true, 'STAFF', true, $2,
              'STAFF_ON_CUSTOMER_INSTRUCTION'
         from jsonb_to_recordset($3::jsonb) as r(method uuid, customer uuid, pm text)`,
      [org, now, json],
    );
    await db.query(
      `insert into wallet_account (id, organization_id, created_at, updated_at, customer_id, gateway, gateway_customer_id)
       select r.account, $1, $2, $2, r.customer, 'sandbox', r.cus from jsonb_to_recordset($3::jsonb) as r(account uuid, customer uuid, cus text)`,
      [org, now, json],
    );
    await db.query(
      `insert into service_agreement (id, organization_id, created_at, updated_at, customer_id, name, terms, lines, currency, frequency, billing_day, start_date,
                                      payment_method_id, status, version)
       select r.agreement, $1, $2, $2, r.customer, 'Pool care', 'Weekly pool care', $4::jsonb, 'USD', 'MONTHLY', 1, $5::date, r.method, 'ACTIVE', 1
         from jsonb_to_recordset($3::jsonb) as r(agreement uuid, customer uuid, method uuid)`,
      [org, now, json, JSON.stringify([{ description: 'Weekly pool service', quantity: '1', unitPrice: '12000', taxRate: '8.875' }]), startDate],
    );
  }
  return seeded;
}
