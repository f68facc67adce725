import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Roles } from '#libs/auth/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, type Connection } from '../../../graphql/pagination.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Credits } from '../application/credits.use-case.js';
import { OrganizationContext } from '../application/organization-context.js';
import { Credit, CreditApplication } from '../domain/credit.entity.js';
import { InvoicingError } from '../invoicing.error.js';
import {
  ApplyCreditInput,
  CreateAccountCreditInput,
  CreateCreditNoteInput,
  CreditApplicationView,
  CreditConnection,
  CreditsArgs,
  CreditView,
} from './credits.types.js';
import { creditIdPipe, orgOf, RECONCILIATION_ROLES } from './reconciliation.shared.js';

const NEWEST_FIRST = { createdAt: 'desc', id: 'desc' } as const;

/** Credits over GraphQL: any staff role views; creating and applying credit needs OWNER, ADMIN or PAYMENT_MANAGER. */
@Resolver(() => CreditView)
export class CreditsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly manage: Credits,
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
  ) {}

  @Authenticated()
  @Query(() => CreditConnection, {
    description: "A customer's credits, newest first: by default those with something left to apply",
    complexity: connectionComplexity,
  })
  async credits(@Args() args: CreditsArgs, @Context() ctx: GraphQLContext): Promise<Connection<CreditView>> {
    await this.customers.require(this.em, args.customerId);
    const where: FilterQuery<Credit> = args.includeSpent
      ? { customerId: args.customerId }
      : { customerId: args.customerId, cancelledAt: null, remaining: { $gt: 0n } };
    const page = await paginate(this.em, Credit, where, args, NEWEST_FIRST);
    const { locale } = await orgOf(this.em, this.context, ctx);
    const nodes = page.nodes.map((c) => CreditView.from(c, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Authenticated()
  @Query(() => CreditView, { description: 'One credit' })
  async credit(@Args('id', { type: () => ID }, creditIdPipe()) id: string, @Context() ctx: GraphQLContext): Promise<CreditView> {
    const credit = await this.em.findOne(Credit, { id });
    if (!credit) throw InvoicingError.creditNotFound(id);
    return CreditView.from(credit, (await orgOf(this.em, this.context, ctx)).locale);
  }

  @ResolveField(() => [CreditApplicationView], { description: 'Where it was applied, oldest first, reversed ones included' })
  async applications(@Parent() credit: CreditView, @Context() ctx: GraphQLContext): Promise<CreditApplicationView[]> {
    const { locale } = await orgOf(this.em, this.context, ctx);
    const rows = await ctx.loaders
      .get<string, CreditApplication[]>('invoicing.applicationsByCredit', async (ids) => {
        const all = await this.em.find(CreditApplication, { creditId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
        return ids.map((id) => all.filter((a) => a.creditId === id));
      })
      .load(credit.id);
    return rows.map((a) => CreditApplicationView.from(a, locale));
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => CreditView, {
    description:
      'A credit note (REFUND or ADJUSTMENT) against an issued invoice (OWNER, ADMIN, PAYMENT_MANAGER). It settles the invoice ' +
      'at once as far as it owes; the rest stays as the customer’s credit. Credit notes never add up to more than the invoice.',
  })
  async createCreditNote(
    @CurrentUser() principal: Principal,
    @Args('input') input: CreateCreditNoteInput,
    @Context() ctx: GraphQLContext,
  ): Promise<CreditView> {
    const credit = await this.em.transactional((tx) =>
      this.manage.createCreditNote(tx, { invoiceId: input.invoiceId, kind: input.kind, amount: input.amount.toMoney(), reason: input.reason }, principal.userId),
    );
    return CreditView.from(credit, (await orgOf(this.em, this.context, ctx)).locale);
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => CreditView, { description: 'Account credit for a customer (GOODWILL), applied later (OWNER, ADMIN, PAYMENT_MANAGER)' })
  async createAccountCredit(
    @CurrentUser() principal: Principal,
    @Args('input') input: CreateAccountCreditInput,
    @Context() ctx: GraphQLContext,
  ): Promise<CreditView> {
    const credit = await this.em.transactional((tx) =>
      this.manage.createAccountCredit(tx, { customerId: input.customerId, amount: input.amount.toMoney(), reason: input.reason }, principal.userId),
    );
    return CreditView.from(credit, (await orgOf(this.em, this.context, ctx)).locale);
  }

  @Roles(...RECONCILIATION_ROLES)
  @Mutation(() => CreditView, {
    description: 'Apply part of a credit to an issued invoice of the same customer, at most what it has left and what the invoice owes (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async applyCredit(@CurrentUser() principal: Principal, @Args('input') input: ApplyCreditInput, @Context() ctx: GraphQLContext): Promise<CreditView> {
    const { credit } = await this.em.transactional((tx) =>
      this.manage.applyCredit(tx, { creditId: input.creditId, invoiceId: input.invoiceId, amount: input.amount.toMoney() }, principal.userId),
    );
    return CreditView.from(credit, (await orgOf(this.em, this.context, ctx)).locale);
  }
}
