import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import type { FieldProblem } from '#libs/ddd/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { type Connection, connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Invoicing } from '../../invoicing/index.js';
import { Channel } from '../../notifications/index.js';
import { ActionCenter } from '../application/action-center.js';
import { Payment } from '../domain/payment.entity.js';
import { PaymentsError } from '../payments.error.js';
import { PaymentActionCenterArgs } from './action-center.types.js';
import { PaymentConnection, PaymentView } from './payments.types.js';
import { paymentIdPipe } from './payments.resolver.js';

/** Who works the Payment Action Center. */
export const ACTION_CENTER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

/** Newest failure first. */
const NEWEST_FAILURE_FIRST = { failedAt: 'desc', id: 'desc' } as const;

/**
 * The Payment Action Center (seed 002) over GraphQL: failed payments that need attention and what staff do with them
 * (OWNER, ADMIN, PAYMENT_MANAGER). A retry that is declined again answers the payment with status FAILED (not an error).
 */
@Resolver(() => PaymentView)
export class ActionCenterResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly center: ActionCenter,
    private readonly identity: IdentityDirectory,
  ) {}

  @Roles(...ACTION_CENTER_ROLES)
  @Query(() => PaymentConnection, {
    description:
      'Failed payments not marked resolved, newest failure first, with their reason, what they were for, attempts so far ' +
      'and the next automatic retry (OWNER, ADMIN, PAYMENT_MANAGER)',
    complexity: connectionComplexity,
  })
  async paymentActionCenter(@CurrentUser() principal: Principal, @Args() args: PaymentActionCenterArgs): Promise<Connection<PaymentView>> {
    const page = await paginate(this.em, Payment, this.center.where(args.filter ?? {}), args, NEWEST_FAILURE_FIRST);
    const locale = await this.locale(principal);
    const nodes = page.nodes.map((p) => PaymentView.from(p, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Roles(...ACTION_CENTER_ROLES)
  @Mutation(() => PaymentView, {
    description:
      "Retry a failed payment now: a new attempt on the customer's current default method if they updated it, else the " +
      'same one (OWNER, ADMIN, PAYMENT_MANAGER). Declined again: status FAILED, attemptCount one more.',
  })
  async retryPayment(@CurrentUser() principal: Principal, @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string): Promise<PaymentView> {
    await this.center.retryNow(this.em, principal.organizationId, paymentId, principal.userId);
    return this.view(principal, paymentId);
  }

  @Roles(...ACTION_CENTER_ROLES)
  @Mutation(() => PaymentView, {
    description:
      'Email and/or text the customer a secure link to update the method this payment failed on (a payment profile ' +
      'request); noted on the timeline (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async requestPaymentMethodUpdate(
    @CurrentUser() principal: Principal,
    @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string,
    @Args('channels', { type: () => [Channel], description: "EMAIL and/or SMS, to the customer's own address / number" }) channels: Channel[],
    @Args('message', { type: () => String, nullable: true, description: 'Shown to the customer instead of the default note (the failure and its reason)' })
    message: string | null,
  ): Promise<PaymentView> {
    const problems: FieldProblem[] = [];
    if (channels.length === 0) problems.push({ field: 'channels', message: 'name at least one channel (EMAIL, SMS)' });
    if (new Set(channels).size !== channels.length) problems.push({ field: 'channels', message: 'must not repeat a channel' });
    if (message && message.length > 500) problems.push({ field: 'message', message: 'must be at most 500 characters' });
    if (problems.length) throw PaymentsError.invalid(problems);
    await this.em.transactional((tx) => this.center.requestMethodUpdate(tx, paymentId, channels, principal.userId, message ?? null));
    return this.view(principal, paymentId);
  }

  @Roles(...ACTION_CENTER_ROLES)
  @Mutation(() => PaymentView, {
    description:
      'Mark a failed payment resolved (e.g. paid another way): it leaves the action center and is not retried ' +
      'automatically; again changes nothing (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async resolvePayment(
    @CurrentUser() principal: Principal,
    @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string,
    @Args('note', { type: () => String, nullable: true, description: 'Why, e.g. "Paid by cheque at the front desk"' }) note: string | null,
  ): Promise<PaymentView> {
    if (note && note.length > 1000) throw PaymentsError.invalid([{ field: 'note', message: 'must be at most 1000 characters' }]);
    await this.em.transactional((tx) => this.center.resolve(tx, paymentId, note ?? null, principal.userId));
    return this.view(principal, paymentId);
  }

  private async view(principal: Principal, paymentId: string): Promise<PaymentView> {
    const payment = await this.em.findOneOrFail(Payment, { id: paymentId }, { refresh: true });
    return PaymentView.from(payment, await this.locale(principal));
  }

  private async locale(principal: Principal): Promise<string> {
    return (await this.identity.organization(this.em, principal.organizationId))?.locale ?? 'en-US';
  }
}

/** The action center's fields of a payment. */
@Resolver(() => PaymentView)
export class PaymentActionCenterFieldsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly invoicing: Invoicing,
  ) {}

  @ResolveField(() => Boolean, { description: 'Succeeded after one or more failed attempts (seed 003: "Complete (1)")' })
  completedAfterRetry(@Parent() payment: PaymentView): boolean {
    return payment.succeededAt !== null && payment.attemptCount > 1;
  }

  @ResolveField(() => Date, { nullable: true, description: 'When the automatic retry schedule tries again (null: no retry planned)' })
  async nextRetryAt(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<Date | null> {
    return (await this.row(payment, ctx))?.nextRetryAt ?? null;
  }

  @ResolveField(() => ID, { nullable: true, description: 'Who marked it resolved' })
  async resolvedBy(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<string | null> {
    return (await this.row(payment, ctx))?.resolvedBy ?? null;
  }

  @ResolveField(() => Date, { nullable: true })
  async resolvedAt(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<Date | null> {
    return (await this.row(payment, ctx))?.resolvedAt ?? null;
  }

  @ResolveField(() => String, { nullable: true })
  async resolutionNote(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<string | null> {
    return (await this.row(payment, ctx))?.resolutionNote ?? null;
  }

  @ResolveField(() => [String], { description: 'The numbers of the invoices it is for (what it was for, with purpose)' })
  async invoiceNumbers(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<string[]> {
    const loader = ctx.loaders.get<string, string | null>('payments.invoice-numbers', (ids) =>
      Promise.all(ids.map(async (id) => (await this.invoicing.invoice(this.em, id))?.number ?? null)),
    );
    const numbers = await loader.loadMany(payment.allocations.map((a) => a.invoiceId));
    return numbers.filter((n): n is string => typeof n === 'string');
  }

  /** The payment's row (PaymentView does not carry the action center's columns): one query per page. */
  private row(payment: PaymentView, ctx: GraphQLContext): Promise<Payment | null> {
    return ctx.loaders
      .get<string, Payment | null>('payments.action-center-rows', async (ids) => {
        const rows = await this.em.find(Payment, { id: { $in: [...ids] } });
        return ids.map((id) => rows.find((r) => r.id === id) ?? null);
      })
      .load(payment.id);
  }
}
