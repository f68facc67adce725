import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { ApplicationError } from '#libs/ddd/index.js';
import { connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { AgreementsError } from '../agreements.error.js';
import { agreementWhere } from '../application/agreement-filter.js';
import { AgreementLifecycle } from '../application/agreement-lifecycle.js';
import { AgreementQuotes } from '../application/agreement-quotes.use-case.js';
import { OrganizationClock } from '../application/organization-today.js';
import { Renewals } from '../application/renewals.use-case.js';
import { AgreementTransition, ServiceAgreement } from '../domain/agreement.entity.js';
import { WorkOrder } from '../domain/work-order.entity.js';
import {
  AgreementConnection,
  AgreementSelectionInput,
  AgreementsArgs,
  AgreementTransitionView,
  AgreementView,
  CreateAgreementQuoteInput,
  RenewalNoticesResult,
  UpdateAgreementQuoteInput,
} from './agreement.types.js';
import { WorkOrderView } from './work-order.types.js';

const idPipe = () => new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Agreement') });

/**
 * Agreements over GraphQL. Every staff role makes and sends quotes and renewal quotes and reads agreements; the final
 * approval and closing an agreement are for OWNERs and ADMINs; renewal notices (marketing email to many customers)
 * for OWNERs, ADMINs and PAYMENT_MANAGERs.
 */
@Resolver(() => AgreementView)
export class AgreementsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly quotes: AgreementQuotes,
    private readonly lifecycle: AgreementLifecycle,
    private readonly renewals: Renewals,
    private readonly org: OrganizationClock,
  ) {}

  private async view(a: ServiceAgreement): Promise<AgreementView> {
    return AgreementView.from(a, (await this.org.of(this.em)).locale);
  }

  @Authenticated()
  @Mutation(() => AgreementView, { description: 'A new agreement QUOTE for a customer (every staff role)' })
  async createAgreementQuote(@CurrentUser() principal: Principal, @Args('input') input: CreateAgreementQuoteInput): Promise<AgreementView> {
    return this.view(await this.em.transactional((tx) => this.quotes.create(tx, input, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => AgreementView, { description: 'Edit a QUOTE (only the fields given change); anything past QUOTE is CONFLICT / NOT_A_QUOTE' })
  async updateAgreementQuote(
    @Args('id', { type: () => ID }, idPipe()) id: string,
    @Args('input') input: UpdateAgreementQuoteInput,
  ): Promise<AgreementView> {
    return this.view(await this.em.transactional((tx) => this.quotes.update(tx, id, input)));
  }

  @Authenticated()
  @Mutation(() => AgreementView, {
    description:
      'QUOTE → SENT: email (else text) the customer a single-use sign-up link (AGREEMENT_SIGNUP_TTL_HOURS). On a SENT ' +
      'agreement, sends a new link and voids the old one. The link is never shown here.',
  })
  async sendAgreement(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, idPipe()) id: string): Promise<AgreementView> {
    return this.view(await this.em.transactional(async (tx) => (await this.quotes.send(tx, id, principal.userId)).agreement));
  }

  @Roles(Role.OWNER, Role.ADMIN)
  @Mutation(() => AgreementView, {
    description: 'SIGNED → ACTIVE: final approval (OWNER, ADMIN). The method must be chargeable with consent. Billing starts.',
  })
  async approveAgreement(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, idPipe()) id: string,
    @Args('reason', { type: () => String, nullable: true }) reason?: string | null,
  ): Promise<AgreementView> {
    return this.view(await this.em.transactional((tx) => this.lifecycle.approve(tx, id, principal.userId, reason ?? null)));
  }

  @Roles(Role.OWNER, Role.ADMIN)
  @Mutation(() => AgreementView, { description: 'End an agreement, or withdraw a quote (OWNER, ADMIN): its visits ahead are cancelled' })
  async closeAgreement(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, idPipe()) id: string,
    @Args('reason', { type: () => String }) reason: string,
  ): Promise<AgreementView> {
    if (!reason?.trim()) throw AgreementsError.invalid([{ field: 'reason', message: 'say why the agreement is closed' }]);
    return this.view(await this.em.transactional((tx) => this.lifecycle.close(tx, id, principal.userId, reason.slice(0, 2000))));
  }

  @Authenticated()
  @Query(() => AgreementView)
  async agreement(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<AgreementView> {
    const a = await this.em.findOne(ServiceAgreement, { id });
    if (!a) throw AgreementsError.agreementNotFound(id);
    return this.view(a);
  }

  @Authenticated()
  @Query(() => AgreementConnection, {
    description: 'Agreements, newest first; by status, customer, and expiring within N days (renewals)',
    complexity: connectionComplexity,
  })
  async agreements(@Args() args: AgreementsArgs) {
    const { today, locale } = await this.org.of(this.em);
    const page = await paginate(this.em, ServiceAgreement, agreementWhere(args.filter, today), args, { createdAt: 'desc', id: 'desc' });
    const view = (a: ServiceAgreement) => AgreementView.from(a, locale);
    return { ...page, nodes: page.nodes.map(view), edges: page.edges.map((e) => ({ cursor: e.cursor, node: view(e.node) })) };
  }

  @Roles(Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER)
  @Mutation(() => RenewalNoticesResult, {
    description:
      'Email (else text) a RENEWAL_NOTICE to the customers of these agreements, or of every one the filter matches. A marketing ' +
      'message: customers who opted out are skipped. Once per agreement and end date.',
  })
  async sendRenewalNotices(@Args('input') input: AgreementSelectionInput): Promise<RenewalNoticesResult> {
    return this.em.transactional(async (tx) => this.renewals.sendNotices(tx, await this.renewals.select(tx, input)));
  }

  @Authenticated()
  @Mutation(() => AgreementView, { description: 'A new QUOTE copied from an agreement with an end date, starting when it ends (one open renewal per agreement)' })
  async createRenewalQuote(
    @CurrentUser() principal: Principal,
    @Args('agreementId', { type: () => ID }, idPipe()) agreementId: string,
  ): Promise<AgreementView> {
    return this.view(await this.em.transactional((tx) => this.quotes.createRenewal(tx, agreementId, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => [AgreementView], { description: 'createRenewalQuote for each of these agreements, or every one the filter matches' })
  async createRenewalQuotes(@CurrentUser() principal: Principal, @Args('input') input: AgreementSelectionInput): Promise<AgreementView[]> {
    const quotes = await this.em.transactional(async (tx) => this.renewals.createQuotes(tx, await this.renewals.select(tx, input), principal.userId));
    const { locale } = await this.org.of(this.em);
    return quotes.map((q) => AgreementView.from(q, locale));
  }

  @ResolveField(() => [AgreementTransitionView], { description: 'Every status change, oldest first' })
  async transitions(@Parent() a: AgreementView): Promise<AgreementTransitionView[]> {
    const rows = await this.em.find(AgreementTransition, { agreementId: a.id }, { orderBy: { version: 'asc', at: 'asc' } });
    return rows.map(AgreementTransitionView.from);
  }

  @ResolveField(() => [WorkOrderView], { description: 'Its visits, by date' })
  async workOrders(@Parent() a: AgreementView): Promise<WorkOrderView[]> {
    const rows = await this.em.find(WorkOrder, { agreementId: a.id }, { orderBy: { scheduledFor: 'asc' } });
    return rows.map(WorkOrderView.from);
  }
}
