import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, type Connection } from '../../../graphql/pagination.js';
import { InstallmentPlans } from '../application/installment-plans.use-case.js';
import { OrganizationContext } from '../application/organization-context.js';
import type { InstallmentPlan } from '../domain/installment-plan.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { CreateInstallmentPlanInput, InstallmentPlanView, UpcomingPaymentConnection, UpcomingPaymentsArgs, UpcomingPaymentView } from './installment-plans.types.js';
import { InvoiceView } from './invoice.types.js';

/** Setting up and changing installment plans charges a saved method without the customer present. */
export const INSTALLMENT_MANAGER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER];

const notFound = (what: 'Installment plan' | 'Installment') => () =>
  new InvoicingError(
    what === 'Installment' ? InvoicingErrorReason.INSTALLMENT_NOT_FOUND : InvoicingErrorReason.INSTALLMENT_PLAN_NOT_FOUND,
    `${what} was not found`,
  );
const planId = () => new ParseUUIDPipe({ exceptionFactory: notFound('Installment plan') });
const installmentId = () => new ParseUUIDPipe({ exceptionFactory: notFound('Installment') });

/**
 * Installment plans over GraphQL. Any staff role sees plans and upcoming payments; creating, changing and cancelling
 * need OWNER, ADMIN or PAYMENT_MANAGER.
 */
@Resolver(() => InstallmentPlanView)
export class InstallmentPlansResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly plans: InstallmentPlans,
    private readonly context: OrganizationContext,
  ) {}

  @Authenticated()
  @Query(() => InstallmentPlanView, { description: 'One installment plan with its installments' })
  async installmentPlan(@Args('id', { type: () => ID }, planId()) id: string): Promise<InstallmentPlanView> {
    return this.view(await this.plans.plan(this.em, id));
  }

  @Authenticated()
  @Query(() => UpcomingPaymentConnection, {
    description: "A customer's installments still to be charged, soonest first, with the method each will be charged to",
    complexity: connectionComplexity,
  })
  async upcomingPayments(@Args() args: UpcomingPaymentsArgs): Promise<Connection<UpcomingPaymentView>> {
    const org = await this.context.of(this.em);
    const result = await this.plans.upcoming(this.em, args.customerId, args);
    const view = (u: (typeof result.nodes)[number]) => UpcomingPaymentView.from(u, result.counts.get(u.plan.id) ?? 0, org.locale);
    return {
      edges: result.edges.map((e) => ({ cursor: e.cursor, node: view(e.node) })),
      nodes: result.nodes.map(view),
      pageInfo: result.pageInfo,
      totalCount: result.totalCount,
    };
  }

  @Roles(...INSTALLMENT_MANAGER_ROLES)
  @Mutation(() => InstallmentPlanView, {
    description:
      'Split what an invoice (invoiceId) or a customer (customerId, their balance) still owes into installments charged ' +
      'to a saved method with consent: equal parts (count, firstDueOn, interval) or custom parts that add up to it ' +
      '(OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async createInstallmentPlan(
    @CurrentUser() principal: Principal,
    @Args('input') input: CreateInstallmentPlanInput,
  ): Promise<InstallmentPlanView> {
    const plan = await this.em.transactional((tx) =>
      this.plans.create(
        tx,
        {
          invoiceId: input.invoiceId ?? null,
          customerId: input.customerId ?? null,
          paymentMethodId: input.paymentMethodId,
          count: input.count ?? null,
          firstDueOn: input.firstDueOn ?? null,
          interval: input.interval ?? null,
          installments: input.installments?.map((p) => ({ dueOn: p.dueOn, amount: p.amount })) ?? null,
        },
        principal.userId,
      ),
    );
    return this.view(plan);
  }

  @Roles(...INSTALLMENT_MANAGER_ROLES)
  @Mutation(() => InstallmentPlanView, {
    description: "Charge the plan's remaining installments to another saved method with consent (OWNER, ADMIN, PAYMENT_MANAGER)",
  })
  async changeInstallmentPlanMethod(
    @Args('planId', { type: () => ID }, planId()) id: string,
    @Args('paymentMethodId', { type: () => ID }) paymentMethodId: string,
  ): Promise<InstallmentPlanView> {
    return this.view(await this.em.transactional((tx) => this.plans.changeMethod(tx, id, paymentMethodId)));
  }

  @Roles(...INSTALLMENT_MANAGER_ROLES)
  @Mutation(() => InstallmentPlanView, {
    description:
      'Skip a scheduled installment: its amount moves onto the next scheduled one. The last one cannot be skipped ' +
      '(reschedule it or cancel the plan) (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async skipInstallment(@Args('installmentId', { type: () => ID }, installmentId()) id: string): Promise<InstallmentPlanView> {
    const installment = await this.em.transactional((tx) => this.plans.skip(tx, id));
    return this.view(await this.plans.plan(this.em, installment.planId));
  }

  @Roles(...INSTALLMENT_MANAGER_ROLES)
  @Mutation(() => InstallmentPlanView, {
    description: 'Move a scheduled installment to another day: today or later, between its neighbours (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async rescheduleInstallment(
    @Args('installmentId', { type: () => ID }, installmentId()) id: string,
    @Args('dueOn', { description: 'YYYY-MM-DD' }) dueOn: string,
  ): Promise<InstallmentPlanView> {
    const installment = await this.em.transactional((tx) => this.plans.reschedule(tx, id, dueOn));
    return this.view(await this.plans.plan(this.em, installment.planId));
  }

  @Roles(...INSTALLMENT_MANAGER_ROLES)
  @Mutation(() => InstallmentPlanView, {
    description: 'Cancel a plan: its scheduled installments are cancelled; what was paid stays paid (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async cancelInstallmentPlan(
    @CurrentUser() principal: Principal,
    @Args('planId', { type: () => ID }, planId()) id: string,
    @Args('reason') reason: string,
  ): Promise<InstallmentPlanView> {
    return this.view(await this.em.transactional((tx) => this.plans.cancel(tx, id, reason, principal.userId)));
  }

  private async view(plan: InstallmentPlan): Promise<InstallmentPlanView> {
    const org = await this.context.of(this.em);
    const installments = await this.plans.installments(this.em, plan.id);
    const invoiceIds = await this.plans.coveredInvoiceIds(this.em, plan.id);
    const labels = await this.plans.methodLabels(this.em, [plan.paymentMethodId]);
    return InstallmentPlanView.from(plan, installments, invoiceIds, labels.get(plan.paymentMethodId)!, org.locale);
  }
}

/** An invoice's active installment plan, on the Invoice type. */
@Resolver(() => InvoiceView)
export class InvoiceInstallmentPlanResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly plans: InstallmentPlans,
    private readonly context: OrganizationContext,
  ) {}

  @ResolveField(() => InstallmentPlanView, { nullable: true, description: 'The active installment plan paying this invoice, if any' })
  async installmentPlan(@Parent() invoice: InvoiceView, @Context() ctx: GraphQLContext): Promise<InstallmentPlanView | null> {
    // One query for a whole page of invoices; the (few) invoices under a plan then load their plan.
    const loader = ctx.loaders.get<string, string | null>('invoicing.activePlanByInvoice', async (ids) => {
      const byInvoice = await this.plans.activePlanCovering(this.em, [...ids]);
      return ids.map((id) => byInvoice.get(id) ?? null);
    });
    const planId = await loader.load(invoice.id);
    if (!planId) return null;
    const plan = await this.plans.plan(this.em, planId);
    const org = await this.context.of(this.em);
    const installments = await this.plans.installments(this.em, plan.id);
    const invoiceIds = await this.plans.coveredInvoiceIds(this.em, plan.id);
    const labels = await this.plans.methodLabels(this.em, [plan.paymentMethodId]);
    return InstallmentPlanView.from(plan, installments, invoiceIds, labels.get(plan.paymentMethodId)!, org.locale);
  }
}
