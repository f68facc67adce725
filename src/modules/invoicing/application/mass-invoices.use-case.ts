import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, isUuid } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import {
  type CustomerSelection,
  type CustomerSelectionRules,
  filterJson,
  insertBatchItems,
  selectCustomers,
  selectionProblems,
} from '../../../platform/customer-selection.js';
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
export interface CreateMassInvoiceCommand extends MassInvoiceTerms, CustomerSelection {}

const SELECTION: CustomerSelectionRules = {
  max: MAX_MASS_INVOICE_CUSTOMERS,
  noun: 'mass invoice',
  verb: 'invoice',
  invalid: (problems) => InvoicingError.invalid(problems),
  notFound: (problems) =>
    new InvoicingError(InvoicingErrorReason.CUSTOMER_NOT_FOUND, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems),
};

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
    problems.push(...selectionProblems(cmd, SELECTION));
    if (problems.length) throw InvoicingError.invalid(problems);

    const customerIds = await selectCustomers(this.customers, em, cmd, SELECTION);
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
      customerFilter: cmd.filter ? filterJson(cmd.filter) : null,
      total: customerIds.length,
      createdBy: actorUserId,
    });
    em.persist(batch);
    await em.flush();
    await insertBatchItems(em, 'mass_invoice_item', batch, customerIds, this.clock.now());
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

  private finished(batch: MassInvoiceBatch, what: string): InvoicingError {
    return new InvoicingError(InvoicingErrorReason.MASS_INVOICE_FINISHED, `The mass invoice is ${batch.status} and cannot be ${what}`);
  }
}

export function massInvoiceNotFound(id?: string): InvoicingError {
  return new InvoicingError(InvoicingErrorReason.MASS_INVOICE_NOT_FOUND, id ? `Mass invoice ${id} was not found` : 'Mass invoice was not found');
}
