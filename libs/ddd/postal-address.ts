/**
 * A postal address as customers, wallets and the payment gateway exchange it. Plain data (stored as jsonb); the
 * GraphQL input in src/graphql/address.ts validates it. `country` is an ISO 3166-1 alpha-2 code.
 */
export interface PostalAddress {
  line1: string;
  line2?: string | null;
  city: string;
  /** State, province or region, e.g. "QC" or "CA". */
  region?: string | null;
  postalCode: string;
  country: string;
}

/** The address with empty optional parts removed and text trimmed; country upper-cased. */
export function normalizeAddress(a: PostalAddress): PostalAddress {
  const clean = (v: string | null | undefined) => (v?.trim() ? v.trim() : null);
  return {
    line1: a.line1.trim(),
    line2: clean(a.line2),
    city: a.city.trim(),
    region: clean(a.region),
    postalCode: a.postalCode.trim().toUpperCase(),
    country: a.country.trim().toUpperCase(),
  };
}

/** One line for display, e.g. "12 Main St, Montréal QC H2X 1Y4, CA". */
export function formatAddress(a: PostalAddress): string {
  return [a.line1, a.line2, [a.city, a.region, a.postalCode].filter(Boolean).join(' '), a.country].filter(Boolean).join(', ');
}
