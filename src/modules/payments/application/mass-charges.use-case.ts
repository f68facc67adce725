import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import {
  type CustomerSelection,
  type CustomerSelectionRules,
  filterJson,
  insertBatchItems,
  selectCustomers,
  selectionProblems,
} from '../../../platform/customer-selection.js';
import { CustomerDirectory } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { FINISHED_MASS_CHARGE_STATUSES, MassChargeAmountMode, MassChargeBatch, MassChargeItemStatus } from '../domain/mass-charge.entity.js';
import { PaymentsError, PaymentsErrorReason } from '../payments.error.js';
import { MassChargeRunner } from './mass-charge-runner.js';

/** Most customers in one mass charge. */
export const MAX_MASS_CHARGE_CUSTOMERS = 10_000;
export const MAX_MASS_CHARGE_NOTE = 500;
/** Most a FIXED mass charge takes from each customer, in minor units ($100,000.00): a typo guard. */
export const MAX_MASS_CHARGE_AMOUNT = 10_000_000n;

/** Exactly one of `filter` and `customerIds`; `amount` with FIXED only. */
export interface CreateMassChargeCommand extends CustomerSelection {
  amountMode: MassChargeAmountMode;
  /** FIXED: minor units of the organization's currency. */
  amount?: bigint | null;
  note?: string | null;
}

const SELECTION: CustomerSelectionRules = {
  max: MAX_MASS_CHARGE_CUSTOMERS,
  noun: 'mass charge',
  verb: 'charge',
  invalid: (problems) => PaymentsError.invalid(problems),
  notFound: (problems) =>
    new PaymentsError(PaymentsErrorReason.MASS_CHARGE_CUSTOMER_NOT_FOUND, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems),
};

/**
 * Mass charges: create a batch (validated in full, written with all its items in the caller's transaction; the
 * caller enqueues its job after commit), resume one whose job was lost, cancel one.
 */
@Injectable()
export class MassCharges {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly identity: IdentityDirectory,
    private readonly runner: MassChargeRunner,
    private readonly clock: Clock,
  ) {}

  async create(em: EntityManager, cmd: CreateMassChargeCommand, actorUserId: string | null): Promise<MassChargeBatch> {
    const organizationId = currentTenant(em);
    const org = organizationId ? await this.identity.organization(em, organizationId) : null;
    if (!org) throw new Error('MassCharges.create needs a tenant-scoped EntityManager of an existing organization');
    const problems: FieldProblem[] = [];
    if (cmd.amountMode === MassChargeAmountMode.FIXED) {
      if (cmd.amount === undefined || cmd.amount === null) problems.push({ field: 'amount', message: 'give the amount to charge each customer (FIXED)' });
      else if (cmd.amount <= 0n) problems.push({ field: 'amount', message: 'must be more than zero' });
      else if (cmd.amount > MAX_MASS_CHARGE_AMOUNT) problems.push({ field: 'amount', message: `must be at most ${MAX_MASS_CHARGE_AMOUNT} minor units per customer` });
    } else if (cmd.amount !== undefined && cmd.amount !== null) {
      problems.push({ field: 'amount', message: 'only with amountMode FIXED (OPEN_BALANCE charges what each customer owes)' });
    }
    if ((cmd.note?.length ?? 0) > MAX_MASS_CHARGE_NOTE) problems.push({ field: 'note', message: `at most ${MAX_MASS_CHARGE_NOTE} characters` });
    problems.push(...selectionProblems(cmd, SELECTION));
    if (problems.length) throw PaymentsError.invalid(problems);

    const customerIds = await selectCustomers(this.customers, em, cmd, SELECTION);
    const batch = Object.assign(new MassChargeBatch(), {
      amountMode: cmd.amountMode,
      amount: cmd.amountMode === MassChargeAmountMode.FIXED ? cmd.amount! : null,
      currency: org.currency,
      note: cmd.note?.trim() || null,
      customerFilter: cmd.filter ? filterJson(cmd.filter) : null,
      total: customerIds.length,
      createdBy: actorUserId,
    });
    em.persist(batch);
    await em.flush();
    await insertBatchItems(em, 'mass_charge_item', batch, customerIds, this.clock.now());
    return batch;
  }

  /**
   * A batch that is QUEUED or RUNNING and whose job is gone (Redis lost it, it failed all its attempts, the worker
   * was killed): the caller enqueues a new job, which charges the PENDING items and finishes the CHARGING ones under
   * their same idempotency keys. Resuming a batch whose job is alive is harmless.
   */
  async resume(em: EntityManager, batchId: string): Promise<MassChargeBatch> {
    const batch = await this.get(em, batchId);
    if (FINISHED_MASS_CHARGE_STATUSES.includes(batch.status)) throw finished(batch, 'resumed');
    return batch;
  }

  /**
   * Stops a batch: the customers not charged yet are SKIPPED ("cancelled"). A customer whose charge is already under
   * way (CHARGING) is finished by the job; payments already made stay (refund them one by one if they should not).
   * Items first, then the batch: the job's lock order.
   */
  async cancel(em: EntityManager, batchId: string): Promise<MassChargeBatch> {
    const batch = await this.get(em, batchId);
    if (FINISHED_MASS_CHARGE_STATUSES.includes(batch.status)) throw finished(batch, 'cancelled');
    const now = this.clock.now();
    const organizationId = currentTenant(em)!;
    const skipped = await em.execute<{ id: string }[]>(
      `update mass_charge_item set status = ?, reason_code = 'CANCELLED', reason = 'The mass charge was cancelled before this customer was charged', updated_at = ?
        where batch_id = ? and organization_id = ? and status = 'PENDING' returning id`,
      [MassChargeItemStatus.SKIPPED, now, batch.id, organizationId],
    );
    const [row] = await em.execute<{ id: string }[]>(
      `update mass_charge_batch set status = 'CANCELLED', skipped = skipped + ?, finished_at = ?, updated_at = ?
        where id = ? and organization_id = ? and status in ('QUEUED', 'RUNNING') returning id`,
      [skipped.length, now, now, batch.id, organizationId],
    );
    const fresh = (await em.findOne(MassChargeBatch, { id: batch.id }, { refresh: true }))!;
    if (!row) throw finished(fresh, 'cancelled');
    this.runner.announce(em, fresh);
    return fresh;
  }

  async get(em: EntityManager, batchId: string): Promise<MassChargeBatch> {
    const batch = isUuid(batchId) ? await em.findOne(MassChargeBatch, { id: batchId }) : null;
    if (!batch) throw massChargeNotFound(batchId);
    return batch;
  }
}

function finished(batch: MassChargeBatch, what: string): PaymentsError {
  return new PaymentsError(PaymentsErrorReason.MASS_CHARGE_FINISHED, `The mass charge is ${batch.status} and cannot be ${what}`);
}

export function massChargeNotFound(id?: string): PaymentsError {
  return new PaymentsError(PaymentsErrorReason.MASS_CHARGE_NOT_FOUND, id ? `Mass charge ${id} was not found` : 'Mass charge was not found');
}
