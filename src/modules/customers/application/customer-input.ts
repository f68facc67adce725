import type { PostalAddress } from '#libs/ddd/index.js';
import { normalizeEmail, normalizePhone } from '../../notifications/index.js';
import {
  cleanAddress,
  cleanName,
  cleanOptionalText,
  cleanServiceAddresses,
  cleanTags,
  LIMITS,
  type Problems,
  type ServiceAddress,
} from '../domain/customer-details.js';
import { CustomerStatus } from '../domain/customer.entity.js';

/**
 * A customer's details as staff (GraphQL) or the customer (hosted page, through the facade) give them. A property
 * left out (undefined) is not changed; null clears an optional one.
 */
export interface CustomerDetailsInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  billingAddress?: PostalAddress | null;
  serviceAddresses?: readonly { label?: string | null; address: PostalAddress }[] | null;
  externalReference?: string | null;
  notes?: string | null;
  tags?: readonly string[] | null;
  marketingOptOut?: boolean | null;
  /** ACTIVE or INACTIVE; archiving has its own operation (and role). */
  status?: CustomerStatus | null;
}

/** The same details checked and normalized; only the properties that were given. */
export interface CleanDetails {
  name?: string;
  email?: string | null;
  phone?: string | null;
  billingAddress?: PostalAddress | null;
  serviceAddresses?: ServiceAddress[];
  externalReference?: string | null;
  notes?: string | null;
  tags?: string[];
  marketingOptOut?: boolean;
  status?: CustomerStatus.ACTIVE | CustomerStatus.INACTIVE;
}

export function cleanEmail(raw: string | null | undefined, field: string, problems: Problems): string | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  if (raw.trim().length > LIMITS.email) {
    problems.add(field, `must be at most ${LIMITS.email} characters`);
    return null;
  }
  try {
    return normalizeEmail(raw);
  } catch {
    problems.add(field, 'must be a valid email address');
    return null;
  }
}

export function cleanPhone(raw: string | null | undefined, field: string, defaultCountry: string, problems: Problems): string | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  if (raw.trim().length > LIMITS.phone) {
    problems.add(field, `must be at most ${LIMITS.phone} characters`);
    return null;
  }
  try {
    return normalizePhone(raw, defaultCountry);
  } catch {
    problems.add(field, 'is not a valid phone number (include the country code, e.g. +1 514 555 0123)');
    return null;
  }
}

/** Checks and normalizes every given property, naming each bad one (`billingAddress.postalCode`, `tags.3`, …). */
export function cleanDetails(input: CustomerDetailsInput, defaultCountry: string, problems: Problems): CleanDetails {
  const out: CleanDetails = {};
  if (input.name !== undefined) out.name = cleanName(input.name, 'name', problems);
  if (input.email !== undefined) out.email = cleanEmail(input.email, 'email', problems);
  if (input.phone !== undefined) out.phone = cleanPhone(input.phone, 'phone', defaultCountry, problems);
  if (input.billingAddress !== undefined) {
    out.billingAddress = input.billingAddress === null ? null : cleanAddress(input.billingAddress, 'billingAddress', problems);
  }
  if (input.serviceAddresses !== undefined) {
    out.serviceAddresses = cleanServiceAddresses(input.serviceAddresses ?? [], 'serviceAddresses', problems);
  }
  if (input.externalReference !== undefined) {
    out.externalReference = cleanOptionalText(input.externalReference, 'externalReference', LIMITS.externalReference, problems);
  }
  if (input.notes !== undefined) out.notes = cleanOptionalText(input.notes, 'notes', LIMITS.notes, problems);
  if (input.tags !== undefined) out.tags = cleanTags(input.tags, 'tags', problems);
  if (input.marketingOptOut !== undefined && input.marketingOptOut !== null) out.marketingOptOut = input.marketingOptOut;
  if (input.status !== undefined && input.status !== null) {
    if (input.status === CustomerStatus.ACTIVE || input.status === CustomerStatus.INACTIVE) out.status = input.status;
    else problems.add('status', 'must be ACTIVE or INACTIVE (archive a customer with archiveCustomer)');
  }
  return out;
}
