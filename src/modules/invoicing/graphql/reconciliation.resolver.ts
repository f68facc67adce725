import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Roles } from '#libs/auth/index.js';
import { newId } from '#libs/ddd/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, type Connection } from '../../../graphql/pagination.js';
import { CustomerDirectory } from '../../customers/index.js';
import { OrganizationContext } from '../application/organization-context.js';
import { PaymentReconciliation } from '../application/reconciliation.use-case.js';
import { PaymentAllocation, PaymentSource, ReceivedPayment, ReceivedPaymentStatus } from '../domain/received-payment.entity.js';
import { InvoicingError, InvoicingErrorReason } from '../invoicing.error.js';
import { CreditView } from './credits.types.js';
import { orgOf, paymentIdPipe, RECONCILIATION_ROLES } from './reconciliation.shared.js';
import {
  AllocatePaymentInput,
  AllocatePaymentPayload,
  CreditUnallocatedPaymentPayload,
  PaymentAllocationView,
  ReceivedPaymentConnection,
  ReceivedPaymentsArgs,
  ReceivedPaymentView,
  RecordOfflinePaymentInput,
  UnreconciledPaymentsArgs,
} from './reconciliation.types.js';

/** Oldest first: the reconciliation list is worked from the top. The id breaks ties for the keyset cursor. */
const UNRECONCILED_ORDER = { receivedAt: 'asc', id: 'asc' } as const;
const NEWEST_FIRST = { receivedAt: 'desc', id: 'desc' } as const;

/**
 * Payments received and their reconciliation over GraphQL. Viewing one payment or a customer's payments is any
 * staff role; the unreconciled list, recording offline payments, allocating, crediting and reversing need OWNER,
 * ADMIN or PAYMENT_MANAGER.
 */
@Resolver(() => ReceivedPaymentView)
export class ReconciliationResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly reconciliation: PaymentReconciliation,
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
  ) {}

  @Roles(...RECONCILIATION_ROLES)
  @Query(() => ReceivedPaymentConnection, {
    description: 'Payments with something left to allocate, oldest first (OWNER, ADMIN, PAYMENT_MANAGER)',
    complexity: connectionComplexity,
  })
  async unreconciledPayments(@Args() args: UnreconciledPaymentsArgs, @Context() ctx: GraphQLContext): Promise<Connection<ReceivedPaymentView>> {
    if (args.customerId) await this.customers.require(this.em, args.customerId);
    const where = { status: ReceivedPaymentStatus.UNRECONCILED, ...(args.customerId ? { customerId: args.customerId } : {}) };
    return this.page(await paginate(this.em, ReceivedPayment, where, args, UNRECONCILED_ORDER), ctx);
  }

  @Authenticated()
  @Query(() => ReceivedPaymentConnection, { description: "A customer's payments received, newest first", complexity: connectionComplexity })
  async receivedPayments(@Args() args: ReceivedPaymentsArgs, @Context() ctx: GraphQLContext): Promise<Connection<ReceivedPaymentView>> {
    await this.customers.require(this.em, args.customerId);
    return this.page(await paginate(this.em, ReceivedPayment, { customerId: args.customerId }, args, NEWEST_FIRST), ctx);
  }

  @Authenticated()
  @Query(() => ReceivedPaymentView, { description: 'One payment received' })
  async receivedPayment(@Args('id', { type: () => ID }, paymentIdPipe()) id: string, @Context() ctx: GraphQLContext): Promise<ReceivedPaymentView> {
    const payment = await this.em.findOne(ReceivedPayment, { id });
    if (!payment) throw InvoicingError.paymentNotFound(id);
    return ReceivedPaymentView.from(payment, (await orgOf(this.em, this.context, ctx)).locale);
  }

  @ResolveField(() => [PaymentAllocationView], { description: 'Its allocations to invoices, oldest first, reversed ones included' })
  async allocations(@Parent() payment: ReceivedPaymentView, @Context() ctx: GraphQLContext): Promise<PaymentAllocationView[]> {
    const org = await orgOf(this.em, this.context, ctx);
    const rows = await ctx.loaders
      .get<string, PaymentAllocation[]>('invoicing.allocationsByPayment', async (ids) => {
        const all = await this.em.find(PaymentAllocation, { paymentId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
        return ids.map((id) => all.filter((a) => a.paymentId === id));
      })
      .load(payment.id);
    return rows.map((a) => PaymentAllocationView.from(a, org.locale));
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => ReceivedPaymentView, {
    description:
      'Record cash, a cheque or a bank transfer received (OWNER, ADMIN, PAYMENT_MANAGER), allocated to invoices at once or ' +
      'left UNRECONCILED. Idempotent by paymentId.',
  })
  async recordOfflinePayment(
    @CurrentUser() principal: Principal,
    @Args('input') input: RecordOfflinePaymentInput,
    @Context() ctx: GraphQLContext,
  ): Promise<ReceivedPaymentView> {
    const { payment } = await this.em.transactional(async (tx) =>
      this.reconciliation.recordPayment(tx, {
        paymentId: input.paymentId ?? newId(),
        customerId: input.customerId,
        amount: input.amount.toMoney(),
        method: input.method,
        reference: input.reference ?? null,
        receivedAt: input.receivedAt ?? (await this.context.of(tx)).now,
        allocations: input.allocations?.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount.toMoney() })) ?? null,
        recordedBy: principal.userId,
        source: PaymentSource.OFFLINE,
      }),
    );
    return ReceivedPaymentView.from(payment, (await orgOf(this.em, this.context, ctx)).locale);
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => AllocatePaymentPayload, {
    description:
      "Allocate a payment to invoices of its customer, partly or fully, all or nothing (OWNER, ADMIN, PAYMENT_MANAGER); " +
      'with creditRemainder the rest becomes account credit',
  })
  async allocatePayment(
    @CurrentUser() principal: Principal,
    @Args('input') input: AllocatePaymentInput,
    @Context() ctx: GraphQLContext,
  ): Promise<AllocatePaymentPayload> {
    const result = await this.em.transactional((tx) =>
      this.reconciliation.allocate(
        tx,
        input.paymentId,
        input.allocations.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount.toMoney() })),
        principal.userId,
        { creditRemainder: input.creditRemainder },
      ),
    );
    const { locale } = await orgOf(this.em, this.context, ctx);
    return Object.assign(new AllocatePaymentPayload(), {
      payment: ReceivedPaymentView.from(result.payment, locale),
      allocations: result.allocations.map((a) => PaymentAllocationView.from(a, locale)),
      credit: result.credit ? CreditView.from(result.credit, locale) : null,
    });
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => CreditUnallocatedPaymentPayload, {
    description: "Turn a payment's unallocated rest into account credit (OVERPAYMENT) (OWNER, ADMIN, PAYMENT_MANAGER)",
  })
  async creditUnallocatedPayment(
    @CurrentUser() principal: Principal,
    @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string,
    @Args('reason', { type: () => String, nullable: true }) reason: string | null,
    @Context() ctx: GraphQLContext,
  ): Promise<CreditUnallocatedPaymentPayload> {
    const result = await this.em.transactional((tx) => this.reconciliation.creditUnallocated(tx, paymentId, reason ?? null, principal.userId));
    const { locale } = await orgOf(this.em, this.context, ctx);
    return Object.assign(new CreditUnallocatedPaymentPayload(), {
      payment: ReceivedPaymentView.from(result.payment, locale),
      credit: CreditView.from(result.credit, locale),
    });
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => ReceivedPaymentView, {
    description:
      'Reverse an offline payment that did not stay (a bounced cheque) (OWNER, ADMIN, PAYMENT_MANAGER): its allocations and ' +
      'the credit made from it are undone and the invoices owe that again. Card and bank payments are reversed by Payments.',
  })
  async reversePayment(
    @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string,
    @Args('reason') reason: string,
    @Context() ctx: GraphQLContext,
  ): Promise<ReceivedPaymentView> {
    const payment = await this.em.transactional(async (tx) => {
      const found = await tx.findOne(ReceivedPayment, { id: paymentId });
      if (!found) throw InvoicingError.paymentNotFound(paymentId);
      if (found.source !== PaymentSource.OFFLINE) {
        throw new InvoicingError(
          InvoicingErrorReason.PAYMENT_NOT_OFFLINE,
          'This payment came through Payments: refund it there (or let a returned debit reverse it); Invoicing follows',
          'paymentId',
        );
      }
      return this.reconciliation.reversePayment(tx, paymentId, reason);
    });
    return ReceivedPaymentView.from(payment, (await orgOf(this.em, this.context, ctx)).locale);
  }

  private async page(page: Connection<ReceivedPayment>, ctx: GraphQLContext): Promise<Connection<ReceivedPaymentView>> {
    const { locale } = await orgOf(this.em, this.context, ctx);
    const nodes = page.nodes.map((p) => ReceivedPaymentView.from(p, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }
}
