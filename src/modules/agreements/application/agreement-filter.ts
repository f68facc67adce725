import type { FilterQuery } from '@mikro-orm/postgresql';
import { ServiceAgreement } from '../domain/agreement.entity.js';
import { AgreementStatus, IN_FORCE } from '../domain/agreement-status.js';
import { addDays } from '../domain/billing-schedule.js';

export interface AgreementFilter {
  /** Any of these statuses (all when absent; ACTIVE and SUSPENDED with expiringWithinDays). */
  status?: AgreementStatus[] | null;
  customerId?: string | null;
  /** Renewals: agreements with an end date from today to today + N days. */
  expiringWithinDays?: number | null;
}

export function agreementWhere(filter: AgreementFilter | null | undefined, today: string): FilterQuery<ServiceAgreement> {
  const where: Record<string, unknown> = {};
  if (filter?.customerId) where.customerId = filter.customerId;
  const statuses = filter?.status?.length ? filter.status : filter?.expiringWithinDays != null ? IN_FORCE : null;
  if (statuses) where.status = { $in: [...statuses] };
  if (filter?.expiringWithinDays != null) where.endDate = { $gte: today, $lte: addDays(today, filter.expiringWithinDays) };
  return where as FilterQuery<ServiceAgreement>;
}

export { AgreementStatus };
