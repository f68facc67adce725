import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, domainEvent, type FieldProblem, isUuid, newId } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory, CustomerStatus } from '../../customers/index.js';
import { BilledRefType, Invoicing, type InvoiceLineCommand } from '../../invoicing/index.js';
import { AgreementsError, AgreementsErrorReason } from '../agreements.error.js';
import { AgreementsEvents, type WorkOrderCompletedPayload } from '../agreements.events.js';
import { ServiceAgreement } from '../domain/agreement.entity.js';
import { AgreementStatus } from '../domain/agreement-status.js';
import { isCalendarDate, upcomingPeriods } from '../domain/billing-schedule.js';
import { WorkOrder, WorkOrderStatus } from '../domain/work-order.entity.js';
import { OrganizationClock } from './organization-today.js';

/** How many periods ahead an active agreement's visits are scheduled. */
export const WORK_ORDER_HORIZON_PERIODS = 3;
const MAX_TITLE = 200;

export interface CreateWorkOrderCommand {
  customerId: string;
  agreementId?: string | null;
  scheduledFor: string;
  title: string;
  technicianUserId?: string | null;
}

/**
 * Work orders: the visits an active agreement's schedule generates (one per period, on the period's first day, for the
 * current period and the next ones up to WORK_ORDER_HORIZON_PERIODS) and the ones staff add, including one-off jobs.
 */
@Injectable()
export class WorkOrders {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly invoicing: Invoicing,
    private readonly outbox: Outbox,
    private readonly org: OrganizationClock,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates the agreement's visits for the current period and the next ones (WORK_ORDER_HORIZON_PERIODS in all), if it
   * is ACTIVE. Idempotent: (agreement, date) is unique and existing rows are left alone — a cancelled visit is not
   * created again. Call it when an agreement becomes active and as periods pass (the billing run does). Answers how
   * many were created.
   */
  async generate(em: EntityManager, agreement: ServiceAgreement, today?: string): Promise<number> {
    if (agreement.status !== AgreementStatus.ACTIVE) return 0;
    const from = today ?? (await this.org.of(em)).today;
    const periods = upcomingPeriods(agreement, from, WORK_ORDER_HORIZON_PERIODS);
    if (periods.length === 0) return 0;
    const organizationId = currentTenant(em)!;
    const now = this.clock.now();
    const rows = periods.map((p) => ({
      id: newId(),
      organization_id: organizationId,
      created_at: now,
      updated_at: now,
      customer_id: agreement.customerId,
      agreement_id: agreement.id,
      scheduled_for: p.start,
      title: agreement.name,
      status: WorkOrderStatus.SCHEDULED,
    }));
    const columns = Object.keys(rows[0]!);
    const placeholders = rows.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ');
    const result = await em.execute(
      `insert into "work_order" (${columns.map((c) => `"${c}"`).join(', ')}) values ${placeholders}
       on conflict ("agreement_id", "scheduled_for") do nothing`,
      rows.flatMap((r) => Object.values(r)),
      'run',
    );
    return (result as { affectedRows?: number }).affectedRows ?? 0;
  }

  /** generate() for every ACTIVE agreement of the organization (or these ones): what a billing run calls. */
  async generateForActive(em: EntityManager, agreementIds?: string[]): Promise<number> {
    const today = (await this.org.of(em)).today;
    const agreements = await em.find(ServiceAgreement, {
      status: AgreementStatus.ACTIVE,
      ...(agreementIds ? { id: { $in: agreementIds } } : {}),
    });
    let created = 0;
    for (const a of agreements) created += await this.generate(em, a, today);
    return created;
  }

  /** Future visits of a suspended agreement stop being dispatched; past ones keep their status. */
  async suspendFuture(em: EntityManager, agreementId: string, today: string): Promise<number> {
    return em.nativeUpdate(
      WorkOrder,
      { agreementId, status: WorkOrderStatus.SCHEDULED, scheduledFor: { $gte: today } },
      { status: WorkOrderStatus.SUSPENDED, updatedAt: this.clock.now() },
    );
  }

  /** The reverse, for the visits still ahead (missed ones stay SUSPENDED for staff to cancel or reschedule). */
  async resumeFuture(em: EntityManager, agreementId: string, today: string): Promise<number> {
    return em.nativeUpdate(
      WorkOrder,
      { agreementId, status: WorkOrderStatus.SUSPENDED, scheduledFor: { $gte: today } },
      { status: WorkOrderStatus.SCHEDULED, updatedAt: this.clock.now() },
    );
  }

  /** Cancels an ended agreement's visits still ahead. */
  async cancelFuture(em: EntityManager, agreementId: string, today: string): Promise<number> {
    return em.nativeUpdate(
      WorkOrder,
      { agreementId, status: { $in: [WorkOrderStatus.SCHEDULED, WorkOrderStatus.SUSPENDED] }, scheduledFor: { $gte: today } },
      { status: WorkOrderStatus.CANCELLED, cancelledAt: this.clock.now(), updatedAt: this.clock.now() },
    );
  }

  /** A visit added by staff: to an agreement in force (SUSPENDED with it), or a one-off job without one. */
  async create(em: EntityManager, cmd: CreateWorkOrderCommand, actorUserId: string | null): Promise<WorkOrder> {
    const problems: FieldProblem[] = [];
    const title = typeof cmd.title === 'string' ? cmd.title.trim().replace(/\s+/g, ' ') : '';
    if (!title) problems.push({ field: 'title', message: 'is required' });
    else if (title.length > MAX_TITLE) problems.push({ field: 'title', message: `must be at most ${MAX_TITLE} characters` });
    if (!isCalendarDate(cmd.scheduledFor)) problems.push({ field: 'scheduledFor', message: 'must be a date as YYYY-MM-DD' });
    if (problems.length) throw AgreementsError.invalid(problems);
    if (!isUuid(cmd.customerId)) throw customerNotFound(cmd.customerId);
    const customer = await this.customers.get(em, cmd.customerId);
    if (!customer) throw customerNotFound(cmd.customerId);
    if (customer.status === CustomerStatus.ARCHIVED) {
      throw new AgreementsError(AgreementsErrorReason.CUSTOMER_ARCHIVED, `Customer ${customer.name} is archived; reactivate them first`, 'customerId');
    }
    let status = WorkOrderStatus.SCHEDULED;
    if (cmd.agreementId) {
      const agreement = isUuid(cmd.agreementId) ? await em.findOne(ServiceAgreement, { id: cmd.agreementId }) : null;
      if (!agreement) throw AgreementsError.agreementNotFound(cmd.agreementId);
      if (agreement.customerId !== customer.id) {
        throw AgreementsError.invalid([{ field: 'agreementId', message: `the agreement belongs to another customer than ${customer.name}` }]);
      }
      if (agreement.status !== AgreementStatus.ACTIVE && agreement.status !== AgreementStatus.SUSPENDED) {
        throw new AgreementsError(
          AgreementsErrorReason.WORK_ORDER_STATE,
          `Visits can be added to an ACTIVE or SUSPENDED agreement; "${agreement.name}" is ${agreement.status}`,
          'agreementId',
        );
      }
      if (agreement.status === AgreementStatus.SUSPENDED) status = WorkOrderStatus.SUSPENDED;
      if (await em.count(WorkOrder, { agreementId: agreement.id, scheduledFor: cmd.scheduledFor })) {
        throw new AgreementsError(
          AgreementsErrorReason.WORK_ORDER_EXISTS,
          `"${agreement.name}" already has a visit on ${cmd.scheduledFor}`,
          'scheduledFor',
        );
      }
    }
    const order = em.create(WorkOrder, {
      customerId: customer.id,
      agreementId: cmd.agreementId ?? null,
      scheduledFor: cmd.scheduledFor,
      title,
      status,
      technicianUserId: cmd.technicianUserId ?? null,
      createdBy: actorUserId,
    } as WorkOrder);
    await em.flush();
    return order;
  }

  async lock(em: EntityManager, id: string): Promise<WorkOrder> {
    const order = isUuid(id) ? await em.findOne(WorkOrder, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!order) throw AgreementsError.workOrderNotFound(id);
    return order;
  }

  async complete(em: EntityManager, id: string, now: Date): Promise<WorkOrder> {
    const order = await this.lock(em, id);
    if (order.status !== WorkOrderStatus.SCHEDULED) {
      throw new AgreementsError(
        AgreementsErrorReason.WORK_ORDER_STATE,
        order.status === WorkOrderStatus.SUSPENDED
          ? 'This visit is suspended with its agreement; it cannot be completed until the agreement is reactivated'
          : `This work order is ${order.status.toLowerCase()} and cannot be completed`,
      );
    }
    order.status = WorkOrderStatus.COMPLETED;
    order.completedAt = now;
    this.outbox.record(
      em,
      domainEvent<WorkOrderCompletedPayload>(AgreementsEvents.WorkOrderCompleted, currentTenant(em) ?? null, {
        workOrderId: order.id,
        customerId: order.customerId,
        agreementId: order.agreementId,
      }),
    );
    await em.flush();
    return order;
  }

  async cancel(em: EntityManager, id: string, now: Date): Promise<WorkOrder> {
    const order = await this.lock(em, id);
    if (order.status !== WorkOrderStatus.SCHEDULED && order.status !== WorkOrderStatus.SUSPENDED) {
      throw new AgreementsError(AgreementsErrorReason.WORK_ORDER_STATE, `This work order is ${order.status.toLowerCase()} and cannot be cancelled`);
    }
    order.status = WorkOrderStatus.CANCELLED;
    order.cancelledAt = now;
    await em.flush();
    return order;
  }

  /** Issues the job's invoice (billedRef WORK_ORDER) through Invoicing; a technician then takes payments against it. */
  async invoice(em: EntityManager, id: string, lines: InvoiceLineCommand[], actorUserId: string | null): Promise<WorkOrder> {
    const order = await this.lock(em, id);
    if (order.invoiceId) {
      throw new AgreementsError(AgreementsErrorReason.WORK_ORDER_ALREADY_INVOICED, 'This work order already has its invoice', 'id', {
        invoiceId: order.invoiceId,
      });
    }
    if (order.status === WorkOrderStatus.CANCELLED) {
      throw new AgreementsError(AgreementsErrorReason.WORK_ORDER_STATE, 'A cancelled work order is not invoiced');
    }
    const invoice = await this.invoicing.issueInvoice(
      em,
      { customerId: order.customerId, lines, billedRef: { type: BilledRefType.WORK_ORDER, id: order.id, label: `Work order: ${order.title}` } },
      actorUserId,
    );
    order.invoiceId = invoice.id;
    await em.flush();
    return order;
  }
}

function customerNotFound(id: string): AgreementsError {
  return new AgreementsError(AgreementsErrorReason.CUSTOMER_NOT_FOUND, `Customer ${id} was not found`, 'customerId');
}
