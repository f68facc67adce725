import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, type CustomerFilter } from '../../customers/index.js';
import { BilledRefType } from '../domain/invoice.entity.js';
import {
  FINISHED_MASS_INVOICE_STATUSES,
  MassInvoiceBatch,
  MassInvoiceItemStatus,
} from '../domain/mass-invoice.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { checkMassInvoiceTerms, type MassInvoiceTerms } from './mass-invoice-lines.js';
import { MassInvoiceRunner } from './mass-invoice-runner.js';
import { OrganizationContext } from './organization-context.js';

/** Most customers in one mass invoice. A larger selection is refused: narrow the filter or split the list. */
export const MAX_MASS_INVOICE_CUSTOMERS = 10_000;

/** Exactly one of `filter` and `customerIds`. */
export interface CreateMassInvoiceCommand extends MassInvoiceTerms {
  filter?: CustomerFilter | null;
  customerIds?: string[] | null;
}

/**
 * Mass invoices: create a batch (validated in full, written with all its items in the caller's transaction; the
 * caller enqueues its job after commit), resume one whose job was lost, cancel one.
 */
@Injectable()
export class MassInvoices {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly context: OrganizationContext,
    private readonly runner: MassInvoiceRunner,
    private readonly clock: Clock,
  ) {}

  async create(em: EntityManager, cmd: CreateMassInvoiceCommand, actorUserId: string | null): Promise<MassInvoiceBatch> {
    const org = await this.context.of(em);
    const { problems, lines } = checkMassInvoiceTerms(cmd, org.currency, org.today);
    const hasFilter = cmd.filter !== undefined && cmd.filter !== null;
    const hasList = cmd.customerIds !== undefined && cmd.customerIds !== null;
    if (hasFilter === hasList) {
      problems.push({ field: 'filter', message: 'give either a filter or customerIds (not both)' });
    }
    if (hasList && cmd.customerIds!.length > MAX_MASS_INVOICE_CUSTOMERS) {
      problems.push({ field: 'customerIds', message: `at most ${MAX_MASS_INVOICE_CUSTOMERS} customers per mass invoice` });
    }
    if (problems.length) throw InvoicingError.invalid(problems);

    const customerIds = hasFilter ? await this.selectByFilter(em, cmd.filter!) : await this.checkList(em, cmd.customerIds!);
    const ref = cmd.billedRef;
    const batch = Object.assign(new MassInvoiceBatch(), {
      issue: cmd.issue,
      currency: org.currency,
      lines,
      dueDate: cmd.dueDate ?? null,
      paymentTermsDays: cmd.paymentTermsDays ?? null,
      billedRefType: ref?.type ?? BilledRefType.NONE,
      billedRefId: ref?.id ?? null,
      billedRefLabel: ref?.label?.trim() || null,
      memo: cmd.memo?.trim() || null,
      customerFilter: hasFilter ? filterJson(cmd.filter!) : null,
      total: customerIds.length,
      createdBy: actorUserId,
    });
    em.persist(batch);
    await em.flush();
    // One statement for all the items (10,000 rows are one round trip, not 10,000 inserts).
    const now = this.clock.now();
    await em.execute(
      `insert into mass_invoice_item (id, organization_id, created_at, updated_at, batch_id, position, customer_id, status)
       select gen_random_uuid(), ?, ?, ?, ?, (t.ord - 1)::int, t.customer_id, 'PENDING'
         from unnest(?::uuid[]) with ordinality as t(customer_id, ord)`,
      [batch.organizationId, now, now, batch.id, `{${customerIds.join(',')}}`],
    );
    return batch;
  }

  /**
   * A batch that is QUEUED or RUNNING and whose job is gone (Redis lost it, or it failed all its attempts): the
   * caller enqueues a new job, which continues with the PENDING items. Resuming a batch whose job is alive is
   * harmless: the second job only finds items already claimed.
   */
  async resume(em: EntityManager, batchId: string): Promise<MassInvoiceBatch> {
    const batch = await this.get(em, batchId);
    if (FINISHED_MASS_INVOICE_STATUSES.includes(batch.status)) throw this.finished(batch, 'resumed');
    return batch;
  }

  /**
   * Stops a batch: the customers not invoiced yet are SKIPPED ("cancelled"); invoices already created stay (void
   * them one by one if they should not). The items first, then the batch: the same lock order as the job.
   */
  async cancel(em: EntityManager, batchId: string): Promise<MassInvoiceBatch> {
    const batch = await this.get(em, batchId);
    if (FINISHED_MASS_INVOICE_STATUSES.includes(batch.status)) throw this.finished(batch, 'cancelled');
    const now = this.clock.now();
    const organizationId = currentTenant(em)!;
    const skipped = await em.execute<{ id: string }[]>(
      `update mass_invoice_item set status = ?, error_code = 'CANCELLED', error = 'The mass invoice was cancelled before this customer was invoiced', updated_at = ?
        where batch_id = ? and organization_id = ? and status = 'PENDING' returning id`,
      [MassInvoiceItemStatus.SKIPPED, now, batch.id, organizationId],
    );
    const [row] = await em.execute<{ id: string }[]>(
      `update mass_invoice_batch set status = 'CANCELLED', skipped = skipped + ?, finished_at = ?, updated_at = ?
        where id = ? and organization_id = ? and status in ('QUEUED', 'RUNNING') returning id`,
      [skipped.length, now, now, batch.id, organizationId],
    );
    const fresh = (await em.findOne(MassInvoiceBatch, { id: batch.id }, { refresh: true }))!;
    if (!row) throw this.finished(fresh, 'cancelled');
    this.runner.announce(em, fresh);
    return fresh;
  }

  async get(em: EntityManager, batchId: string): Promise<MassInvoiceBatch> {
    const batch = isUuid(batchId) ? await em.findOne(MassInvoiceBatch, { id: batchId }) : null;
    if (!batch) throw massInvoiceNotFound(batchId);
    return batch;
  }

  private async selectByFilter(em: EntityManager, filter: CustomerFilter): Promise<string[]> {
    const ids: string[] = [];
    for await (const batch of this.customers.idBatches(em, filter, 1000)) {
      ids.push(...batch);
      if (ids.length > MAX_MASS_INVOICE_CUSTOMERS) {
        throw InvoicingError.invalid([
          { field: 'filter', message: `matches more than ${MAX_MASS_INVOICE_CUSTOMERS} customers; narrow it or invoice in several batches` },
        ]);
      }
    }
    if (!ids.length) throw InvoicingError.invalid([{ field: 'filter', message: 'matches no customers' }]);
    return ids;
  }

  /** Every id must be a customer of the organization (archived ones are accepted and skipped by the job). */
  private async checkList(em: EntityManager, ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    if (!unique.length) throw InvoicingError.invalid([{ field: 'customerIds', message: 'give at least one customer' }]);
    const found = new Set((await this.customers.getMany(em, unique)).map((c) => c.id));
    const problems: FieldProblem[] = [];
    ids.forEach((id, i) => {
      if (!found.has(id) && problems.length < 20) problems.push({ field: `customerIds.${i}`, message: `no customer ${id} in this organization` });
    });
    // NOT_FOUND like every other lookup of an id (another organization's customer is not ours to name), with the
    // positions of the unknown ids in `fields`.
    if (problems.length) throw new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
    return unique;
  }

  private finished(batch: MassInvoiceBatch, what: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.MASS_INVOICE_FINISHED, `The mass invoice is ${batch.status} and cannot be ${what}`);
  }
}

export function massInvoiceNotFound(id?: string): InvoicingError {
  return new InvoicingError(InvoicingErrorReason.MASS_INVOICE_NOT_FOUND, id ? `Mass invoice ${id} was not found` : 'Mass invoice was not found');
}

/** The filter as stored on the batch: JSON, so bigints become strings. */
function filterJson(filter: CustomerFilter): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(filter)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
  );
}
