import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { Clock } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { byKeys, type GraphQLContext, organizationOnce, principalOrganization } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, type Connection } from '../../../graphql/pagination.js';
import { CustomerDirectory, CustomerView } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { CustomerBalances } from '../application/customer-balances.js';
import { Invoices } from '../application/invoices.use-case.js';
import { OrganizationContext, type InvoicingContextValue } from '../application/organization-context.js';
import { InvoiceLine } from '../domain/invoice-line.entity.js';
import { Invoice, UNPAID_STATUSES } from '../domain/invoice.entity.js';
import { dateIn } from '../domain/calendar.js';
import { InvoicingError } from '../invoicing.error.js';
import {
  CreateInvoiceInput,
  CustomerBalanceView,
  InvoiceConnection,
  InvoiceLineView,
  InvoicesArgs,
  InvoiceView,
  UpdateInvoiceDraftInput,
  type InvoiceFilterInput,
} from './invoice.types.js';

/** Voiding an invoice takes money owed off the books: not for STAFF (who create and issue invoices). */
export const INVOICE_MANAGER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER];

const invoiceId = () => new ParseUUIDPipe({ exceptionFactory: () => InvoicingError.invoiceNotFound() });

/** Newest first; id breaks ties so the keyset cursor is unambiguous. */
const INVOICE_ORDER = { createdAt: 'desc', id: 'desc' } as const;

/** Invoices over GraphQL. Every staff role views, drafts and issues; voiding needs OWNER, ADMIN or PAYMENT_MANAGER. */
@Resolver(() => InvoiceView)
export class InvoicesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly manage: Invoices,
    private readonly context: OrganizationContext,
    private readonly customers: CustomerDirectory,
  ) {}

  @Authenticated()
  @Query(() => InvoiceConnection, { description: 'Invoices, newest first, matching the filter', complexity: connectionComplexity })
  async invoices(@Args() args: InvoicesArgs, @Context() ctx: GraphQLContext): Promise<Connection<InvoiceView>> {
    const org = await this.context.of(this.em, principalOrganization(ctx));
    const page = await paginate(this.em, Invoice, invoiceWhere(args.filter ?? {}, org.today), args, INVOICE_ORDER);
    const nodes = page.nodes.map((i) => InvoiceView.from(i, org.locale, org.today));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Authenticated()
  @Query(() => InvoiceView, { description: 'One invoice' })
  async invoice(@Args('id', { type: () => ID }, invoiceId()) id: string, @Context() ctx: GraphQLContext): Promise<InvoiceView> {
    const invoice = await this.em.findOne(Invoice, { id });
    if (!invoice) throw InvoicingError.invoiceNotFound(id);
    return this.view(invoice, ctx);
  }

  @Authenticated()
  @Mutation(() => InvoiceView, { description: 'Create a draft invoice, or issue it at once with `issue: true` (any staff role)' })
  async createInvoice(@CurrentUser() principal: Principal, @Args('input') input: CreateInvoiceInput): Promise<InvoiceView> {
    const invoice = await this.em.transactional((tx) =>
      input.issue
        ? this.manage.createAndIssue(tx, draftCommand(input), principal.userId)
        : this.manage.createDraft(tx, draftCommand(input), principal.userId),
    );
    return this.view(invoice);
  }

  @Authenticated()
  @Mutation(() => InvoiceView, { description: 'Change a draft (only drafts change: an issued invoice is corrected with a credit note)' })
  async updateInvoiceDraft(
    @Args('id', { type: () => ID }, invoiceId()) id: string,
    @Args('input') input: UpdateInvoiceDraftInput,
  ): Promise<InvoiceView> {
    const patch = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const invoice = await this.em.transactional((tx) => this.manage.updateDraft(tx, id, patch));
    return this.view(invoice);
  }

  @Authenticated()
  @Mutation(() => InvoiceView, { description: 'Issue a draft: it gets the next number, its issue and due dates, and never changes again' })
  async issueInvoice(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, invoiceId()) id: string): Promise<InvoiceView> {
    return this.view(await this.em.transactional((tx) => this.manage.issue(tx, id, principal.userId)));
  }

  @Roles(...INVOICE_MANAGER_ROLES)
  @Mutation(() => InvoiceView, { description: 'Void an invoice nothing was paid or credited on (OWNER, ADMIN, PAYMENT_MANAGER)' })
  async voidInvoice(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, invoiceId()) id: string,
    @Args('reason') reason: string,
  ): Promise<InvoiceView> {
    return this.view(await this.em.transactional((tx) => this.manage.void(tx, id, principal.userId, reason)));
  }

  @ResolveField(() => [InvoiceLineView], { description: 'The lines, in order' })
  async lines(@Parent() invoice: InvoiceView, @Context() ctx: GraphQLContext): Promise<InvoiceLineView[]> {
    const org = await this.org(ctx);
    const loader = ctx.loaders.get<string, InvoiceLine[]>('invoicing.lines', async (ids) => {
      const rows = await this.em.find(InvoiceLine, { invoiceId: { $in: [...ids] } }, { orderBy: { invoiceId: 'asc', position: 'asc' } });
      return ids.map((id) => rows.filter((r) => r.invoiceId === id));
    });
    return (await loader.load(invoice.id)).map((l) => InvoiceLineView.from(l, invoice.currency, org.locale));
  }

  @ResolveField(() => CustomerView, { description: 'The customer billed' })
  async customer(@Parent() invoice: InvoiceView, @Context() ctx: GraphQLContext): Promise<CustomerView> {
    const loader = ctx.loaders.get<string, CustomerView>('invoicing.customer', async (ids) =>
      byKeys(ids, await this.customers.views(this.em, ids), (c) => c.id, (id) => new Error(`Customer ${id} of an invoice was not found`)),
    );
    return loader.load(invoice.customerId);
  }

  /** The organization's locale and today's date, read once per request. */
  private async org(ctx: GraphQLContext): Promise<InvoicingContextValue> {
    const loader = ctx.loaders.get<string, InvoicingContextValue>('invoicing.org', async (keys) => {
      const value = await this.context.of(this.em, principalOrganization(ctx));
      return keys.map(() => value);
    });
    return loader.load('org');
  }

  private async view(invoice: Invoice, ctx?: GraphQLContext): Promise<InvoiceView> {
    const org = await this.context.of(this.em, principalOrganization(ctx));
    return InvoiceView.from(invoice, org.locale, org.today);
  }
}

/** A customer's balance, on the Customer type. */
@Resolver(() => CustomerView)
export class CustomerBalanceResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly balances: CustomerBalances,
    private readonly identity: IdentityDirectory,
    private readonly clock: Clock,
  ) {}

  @ResolveField(() => CustomerBalanceView, { description: 'What the customer owes, is overdue, and has in credit or unallocated payments' })
  async balance(@Parent() customer: CustomerView, @Context() ctx: GraphQLContext): Promise<CustomerBalanceView> {
    // One statement for a page of customers, not one per customer; the organization is read once per request, shared
    // with the other Customer fields that need it (ORGANIZATION_LOADER).
    const loader = ctx.loaders.get<string, CustomerBalanceView>('invoicing.customerBalance', async (ids) => {
      const id = currentTenant(this.em);
      if (!id) throw new Error('Invoicing needs a tenant-scoped EntityManager');
      const org = await organizationOnce(ctx, this.identity, this.em, id);
      if (!org) throw new Error(`Organization ${id} does not exist`);
      const today = dateIn(this.clock.now(), org.timeZone);
      const balances = await this.balances.computeMany(this.em, ids, org.currency, today);
      return ids.map((id) => {
        const b = balances.get(id);
        return b ? CustomerBalanceView.from(b, org.locale) : new Error(`No balance computed for customer ${id}`);
      });
    });
    return loader.load(customer.id);
  }
}

function draftCommand(input: CreateInvoiceInput) {
  return {
    customerId: input.customerId,
    lines: input.lines,
    dueDate: input.dueDate,
    paymentTermsDays: input.paymentTermsDays,
    billedRef: input.billedRef,
    memo: input.memo,
  };
}

function invoiceWhere(filter: InvoiceFilterInput, today: string): FilterQuery<Invoice> {
  const and: FilterQuery<Invoice>[] = [];
  if (filter.customerId) and.push({ customerId: filter.customerId });
  if (filter.status?.length) and.push({ status: { $in: [...new Set(filter.status)] } });
  if (filter.issuedFrom) and.push({ issueDate: { $gte: filter.issuedFrom } });
  if (filter.issuedTo) and.push({ issueDate: { $lte: filter.issuedTo } });
  if (filter.number) and.push({ number: filter.number.trim().toUpperCase() });
  if (filter.overdue === true) and.push({ status: { $in: [...UNPAID_STATUSES] }, dueDate: { $lt: today } });
  if (filter.overdue === false) and.push({ $or: [{ status: { $nin: [...UNPAID_STATUSES] } }, { dueDate: { $gte: today } }] });
  return and.length ? { $and: and } : {};
}
