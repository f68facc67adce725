import { normalizeAddress, type FieldProblem, type PostalAddress } from '#libs/ddd/index.js';

/**
 * The rules for a customer's details, shared by staff input (GraphQL, which checks the same limits with
 * class-validator first) and the customer's own input on a hosted page (the CustomerDirectory facade). Each
 * function collects problems named by field instead of throwing at the first, so one answer lists them all.
 */
export const LIMITS = {
  name: 200,
  email: 254,
  phone: 40,
  externalReference: 100,
  notes: 5_000,
  tags: 20,
  tag: 40,
  serviceAddresses: 20,
  serviceAddressLabel: 60,
  relationship: 60,
  membersPerCustomer: 50,
  searchText: 200,
} as const;

/** What a tag may contain: letters, digits, spaces and - _ . / & + # : (no commas, quotes or braces). */
export const TAG_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} _\-./&+#:]*$/u;

export class Problems {
  readonly list: FieldProblem[] = [];

  add(field: string, message: string): void {
    this.list.push({ field, message });
  }

  get any(): boolean {
    return this.list.length > 0;
  }
}

/**
 * Folds text for searching and sorting: lower case, accents removed (é → e, so "Eric" finds "Éric"), whitespace
 * collapsed. The database compares bytes (C collation), so the sort key is folded here rather than collated there.
 */
export function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** "  Jane   Doe " → "Jane Doe"; required, 1 to 200 characters. */
export function cleanName(raw: string | null | undefined, field: string, problems: Problems): string {
  const name = (raw ?? '').replace(/\s+/g, ' ').trim();
  if (!name) problems.add(field, 'must not be empty');
  else if (name.length > LIMITS.name) problems.add(field, `must be at most ${LIMITS.name} characters`);
  return name;
}

/** Optional free text: trimmed, empty means none. */
export function cleanOptionalText(raw: string | null | undefined, field: string, max: number, problems: Problems): string | null {
  const text = raw?.trim() ?? '';
  if (text.length > max) problems.add(field, `must be at most ${max} characters`);
  return text ? text : null;
}

/**
 * Tags: trimmed, inner spaces collapsed, lower case, duplicates dropped (first one kept), at most 20, each at most
 * 40 characters of letters, digits, spaces and - _ . / & + # :. An empty tag is refused rather than dropped.
 */
export function cleanTags(raw: readonly string[] | null | undefined, field: string, problems: Problems): string[] {
  const tags: string[] = [];
  (raw ?? []).forEach((value, i) => {
    const tag = normalizeTag(value);
    if (!tag) return problems.add(`${field}.${i}`, 'must not be empty');
    if (tag.length > LIMITS.tag) return problems.add(`${field}.${i}`, `must be at most ${LIMITS.tag} characters`);
    if (!TAG_PATTERN.test(tag)) {
      return problems.add(`${field}.${i}`, 'may contain only letters, digits, spaces and - _ . / & + # :');
    }
    if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > LIMITS.tags) problems.add(field, `must have at most ${LIMITS.tags} different tags (got ${tags.length})`);
  return tags;
}

export function normalizeTag(value: string): string {
  return value.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** A postal address checked part by part (`billingAddress.postalCode: must not be empty`), then normalized. */
export function cleanAddress(raw: PostalAddress, field: string, problems: Problems): PostalAddress {
  const before = problems.list.length;
  const required = (part: 'line1' | 'city' | 'postalCode', max: number) => {
    const value = typeof raw[part] === 'string' ? raw[part].trim() : '';
    if (!value) problems.add(`${field}.${part}`, 'must not be empty');
    else if (value.length > max) problems.add(`${field}.${part}`, `must be at most ${max} characters`);
  };
  required('line1', 200);
  required('city', 100);
  required('postalCode', 20);
  if ((raw.line2?.length ?? 0) > 200) problems.add(`${field}.line2`, 'must be at most 200 characters');
  if ((raw.region?.length ?? 0) > 100) problems.add(`${field}.region`, 'must be at most 100 characters');
  if (typeof raw.country !== 'string' || !/^[A-Za-z]{2}$/.test(raw.country.trim())) {
    problems.add(`${field}.country`, 'must be a two-letter ISO 3166 code such as US');
  }
  return problems.list.length > before ? raw : normalizeAddress(raw);
}

export interface ServiceAddress {
  /** What the place is to the customer, e.g. "Cottage" or "Main office". */
  label: string | null;
  address: PostalAddress;
}

export function cleanServiceAddresses(
  raw: readonly { label?: string | null; address: PostalAddress }[],
  field: string,
  problems: Problems,
): ServiceAddress[] {
  if (raw.length > LIMITS.serviceAddresses) {
    problems.add(field, `must have at most ${LIMITS.serviceAddresses} addresses (got ${raw.length})`);
  }
  return raw.map((entry, i) => ({
    label: cleanOptionalText(entry.label, `${field}.${i}.label`, LIMITS.serviceAddressLabel, problems),
    address: cleanAddress(entry.address, `${field}.${i}.address`, problems),
  }));
}

/** A calendar date YYYY-MM-DD that exists, between 1900-01-01 and `today` (a date of birth). */
export function cleanDateOfBirth(raw: string | null | undefined, field: string, today: string, problems: Problems): string | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  const value = raw.trim();
  if (!isCalendarDate(value)) {
    problems.add(field, 'must be a date written YYYY-MM-DD');
    return null;
  }
  if (value > today) problems.add(field, 'must not be in the future');
  else if (value < '1900-01-01') problems.add(field, 'must be after 1900-01-01');
  return value;
}

export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** The digits of an E.164 number (+15145550123 → 15145550123), which is what a search for "514 555" matches. */
export function phoneDigits(phone: string | null | undefined): string {
  return (phone ?? '').replace(/\D/g, '');
}
