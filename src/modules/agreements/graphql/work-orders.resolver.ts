import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal } from '#libs/auth/index.js';
import { ApplicationError, Clock } from '#libs/ddd/index.js';
import { connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { Invoicing } from '../../invoicing/index.js';
import { AgreementsError } from '../agreements.error.js';
import { OrganizationClock } from '../application/organization-today.js';
import { WorkOrders } from '../application/work-orders.use-case.js';
import { isCalendarDate } from '../domain/billing-schedule.js';
import { WorkOrder, WorkOrderStatus } from '../domain/work-order.entity.js';
import { ServiceLineInput } from './agreement.types.js';
import { CreateWorkOrderInput, DispatchableWorkOrdersArgs, WorkOrderConnection, WorkOrdersArgs, WorkOrderView } from './work-order.types.js';

const idPipe = () => new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Work order') });

function checkRange(from?: string | null, to?: string | null): void {
  const problems = [];
  if (from != null && !isCalendarDate(from)) problems.push({ field: 'from', message: 'must be a date as YYYY-MM-DD' });
  if (to != null && !isCalendarDate(to)) problems.push({ field: 'to', message: 'must be a date as YYYY-MM-DD' });
  if (problems.length) throw AgreementsError.invalid(problems);
}

/**
 * Work orders over GraphQL, for every staff role (technicians are STAFF): the office's list, the technicians' dispatch
 * list (never a SUSPENDED visit), one-off jobs, completing, cancelling and invoicing a job.
 */
@Resolver(() => WorkOrderView)
export class WorkOrdersResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly orders: WorkOrders,
    private readonly invoicing: Invoicing,
    private readonly clock: Clock,
    private readonly org: OrganizationClock,
  ) {}

  @Authenticated()
  @Query(() => WorkOrderConnection, { description: 'Work orders by date (then id); by customer, agreement, status and dates', complexity: connectionComplexity })
  async workOrders(@Args() args: WorkOrdersArgs) {
    checkRange(args.from, args.to);
    const where: Record<string, unknown> = {};
    if (args.customerId) where.customerId = args.customerId;
    if (args.agreementId) where.agreementId = args.agreementId;
    if (args.status?.length) where.status = { $in: args.status };
    if (args.from || args.to) where.scheduledFor = { ...(args.from ? { $gte: args.from } : {}), ...(args.to ? { $lte: args.to } : {}) };
    return this.page(where, args);
  }

  @Authenticated()
  @Query(() => WorkOrderConnection, {
    description: "The technicians' list: SCHEDULED visits and jobs between two dates. Never a SUSPENDED one (its agreement is suspended).",
    complexity: connectionComplexity,
  })
  async dispatchableWorkOrders(@Args() args: DispatchableWorkOrdersArgs) {
    checkRange(args.from, args.to);
    const where: Record<string, unknown> = { status: WorkOrderStatus.SCHEDULED, scheduledFor: { $gte: args.from, $lte: args.to } };
    if (args.technicianUserId) where.technicianUserId = args.technicianUserId;
    return this.page(where, args);
  }

  @Authenticated()
  @Query(() => WorkOrderView)
  async workOrder(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<WorkOrderView> {
    const w = await this.em.findOne(WorkOrder, { id });
    if (!w) throw AgreementsError.workOrderNotFound(id);
    return WorkOrderView.from(w);
  }

  @Authenticated()
  @Mutation(() => WorkOrderView, { description: 'Add a visit to an agreement in force, or a one-off job (no agreement)' })
  async createWorkOrder(@CurrentUser() principal: Principal, @Args('input') input: CreateWorkOrderInput): Promise<WorkOrderView> {
    return WorkOrderView.from(await this.em.transactional((tx) => this.orders.create(tx, input, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => WorkOrderView, { description: 'SCHEDULED → COMPLETED (a SUSPENDED visit cannot be completed)' })
  async completeWorkOrder(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<WorkOrderView> {
    return WorkOrderView.from(await this.em.transactional((tx) => this.orders.complete(tx, id, this.clock.now())));
  }

  @Authenticated()
  @Mutation(() => WorkOrderView, { description: 'SCHEDULED or SUSPENDED → CANCELLED' })
  async cancelWorkOrder(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<WorkOrderView> {
    return WorkOrderView.from(await this.em.transactional((tx) => this.orders.cancel(tx, id, this.clock.now())));
  }

  @Authenticated()
  @Mutation(() => WorkOrderView, { description: "Issue the job's invoice (billedRef WORK_ORDER); collect payments against it, then see its balance" })
  async invoiceWorkOrder(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, idPipe()) id: string,
    @Args('lines', { type: () => [ServiceLineInput] }) lines: ServiceLineInput[],
  ): Promise<WorkOrderView> {
    return WorkOrderView.from(await this.em.transactional((tx) => this.orders.invoice(tx, id, lines, principal.userId)));
  }

  @ResolveField(() => MoneyType, { nullable: true, description: 'What its invoice still owes; null before it is invoiced' })
  async balance(@Parent() w: WorkOrderView): Promise<MoneyType | null> {
    if (!w.invoiceId) return null;
    const invoice = await this.invoicing.invoice(this.em, w.invoiceId);
    if (!invoice) return null;
    return MoneyType.from(invoice.amountDue, (await this.org.of(this.em)).locale);
  }

  private async page(where: Record<string, unknown>, args: WorkOrdersArgs | DispatchableWorkOrdersArgs) {
    const page = await paginate(this.em, WorkOrder, where as FilterQuery<WorkOrder>, args, { scheduledFor: 'asc', id: 'asc' });
    return {
      ...page,
      nodes: page.nodes.map(WorkOrderView.from),
      edges: page.edges.map((e) => ({ cursor: e.cursor, node: WorkOrderView.from(e.node) })),
    };
  }
}
