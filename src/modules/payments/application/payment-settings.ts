import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { DEFAULT_RETRY_SCHEDULE_DAYS, PaymentSettings } from '../domain/mass-charge.entity.js';
import { PaymentsError } from '../payments.error.js';
import { retryScheduleProblems } from './retry-schedule.js';

export interface PaymentSettingsValue {
  organizationId: string;
  retryScheduleDays: number[];
  autoRetry: boolean;
  updatedBy: string | null;
  updatedAt: Date | null;
}

export interface UpdatePaymentSettingsCommand {
  retryScheduleDays?: number[] | null;
  autoRetry?: boolean | null;
}

/** The organization's payment settings (the automatic retry schedule); defaults until someone changes them. */
@Injectable()
export class PaymentSettingsService {
  constructor(private readonly clock: Clock) {}

  /** The settings of the organization in scope of `em`. */
  async of(em: EntityManager): Promise<PaymentSettingsValue> {
    const organizationId = tenantOf(em);
    const row = await em.findOne(PaymentSettings, { organizationId });
    if (!row) return { organizationId, retryScheduleDays: [...DEFAULT_RETRY_SCHEDULE_DAYS], autoRetry: true, updatedBy: null, updatedAt: null };
    return { organizationId, retryScheduleDays: [...row.retryScheduleDays], autoRetry: row.autoRetry, updatedBy: row.updatedBy, updatedAt: row.updatedAt };
  }

  /**
   * Validates everything first (nothing is written on bad input). A new schedule applies to failures from now on;
   * retries already planned keep their time (the next failure is planned with the new schedule).
   */
  async update(em: EntityManager, cmd: UpdatePaymentSettingsCommand, actorUserId: string): Promise<PaymentSettingsValue> {
    const organizationId = tenantOf(em);
    if (cmd.retryScheduleDays) {
      const problems = retryScheduleProblems(cmd.retryScheduleDays);
      if (problems.length) throw PaymentsError.invalid(problems);
    }
    let row = await em.findOne(PaymentSettings, { organizationId });
    if (!row) {
      row = em.create(PaymentSettings, { organizationId, retryScheduleDays: [...DEFAULT_RETRY_SCHEDULE_DAYS], autoRetry: true } as PaymentSettings);
    }
    if (cmd.retryScheduleDays) row.retryScheduleDays = [...cmd.retryScheduleDays];
    if (cmd.autoRetry !== undefined && cmd.autoRetry !== null) row.autoRetry = cmd.autoRetry;
    row.updatedBy = actorUserId;
    row.updatedAt = this.clock.now();
    await em.flush();
    return this.of(em);
  }
}

function tenantOf(em: EntityManager): string {
  const id = currentTenant(em);
  if (!id) throw new Error('Payment settings need a tenant-scoped EntityManager');
  return id;
}
