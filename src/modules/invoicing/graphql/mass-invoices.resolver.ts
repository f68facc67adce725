import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal } from '#libs/auth/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { byKeys, type GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, PageArgs, type Connection } from '../../../graphql/pagination.js';
import { CustomerDirectory, CustomerView } from '../../customers/index.js';
import { massInvoiceNotFound, MassInvoices } from '../application/mass-invoices.use-case.js';
import { OrganizationContext, type InvoicingContextValue } from '../application/organization-context.js';
import { Invoice } from '../domain/invoice.entity.js';
import { FINISHED_MASS_INVOICE_STATUSES, MassInvoiceBatch, MassInvoiceItem } from '../domain/mass-invoice.entity.js';
import { MassInvoiceProgressPubSub, type MassInvoiceProgressEvent } from '../infrastructure/mass-invoice-progress.pubsub.js';
import { MassInvoiceQueue } from '../infrastructure/mass-invoice.processor.js';
import { InvoiceView } from './invoice.types.js';
import {
  CreateMassInvoiceInput,
  MassInvoiceConnection,
  MassInvoiceItemConnection,
  MassInvoiceItemsArgs,
  MassInvoiceItemView,
  MassInvoiceProgressView,
  MassInvoiceView,
} from './mass-invoice.types.js';

const batchId = () => new ParseUUIDPipe({ exceptionFactory: () => massInvoiceNotFound() });

/**
 * Mass invoicing over GraphQL. Every staff role may create, follow, resume and cancel one: STAFF create and issue
 * invoices one at a time already, and a mass invoice is only that, many times.
 */
@Resolver(() => MassInvoiceView)
export class MassInvoicesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly orm: MikroORM,
    private readonly batches: MassInvoices,
    private readonly queue: MassInvoiceQueue,
    private readonly context: OrganizationContext,
    private readonly pubsub: MassInvoiceProgressPubSub,
  ) {}

  @Authenticated()
  @Mutation(() => MassInvoiceView, {
    description:
      'Create the same invoice for every customer matched by `filter` or listed in `customerIds` (at most 10,000), as a ' +
      'queued job. Bad lines or a bad selection are refused with nothing written. Follow it with massInvoice or massInvoiceProgress',
  })
  async createMassInvoice(@CurrentUser() principal: Principal, @Args('input') input: CreateMassInvoiceInput): Promise<MassInvoiceView> {
    const batch = await this.em.transactional((tx) => this.batches.create(tx, input, principal.userId));
    // After commit: the job must find the batch. Should this fail, the batch stays QUEUED and resumeMassInvoice re-enqueues it.
    await this.queue.enqueue(batch.organizationId, batch.id);
    return this.view(batch);
  }

  @Authenticated()
  @Mutation(() => MassInvoiceView, {
    description: 'Enqueue the job of a QUEUED or RUNNING mass invoice again (its job was lost); it continues with the customers not handled yet',
  })
  async resumeMassInvoice(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassInvoiceView> {
    const batch = await this.batches.resume(this.em, id);
    await this.queue.enqueue(batch.organizationId, batch.id);
    return this.view(batch);
  }

  @Authenticated()
  @Mutation(() => MassInvoiceView, {
    description: 'Stop a mass invoice: customers not invoiced yet are skipped; invoices already created stay',
  })
  async cancelMassInvoice(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassInvoiceView> {
    const batch = await this.em.transactional((tx) => this.batches.cancel(tx, id));
    await this.pubsub
      .publish({ organizationId: batch.organizationId, batchId: batch.id, status: batch.status, total: batch.total, invoiced: batch.invoiced, failed: batch.failed, skipped: batch.skipped })
      .catch(() => undefined);
    return this.view(batch);
  }

  @Authenticated()
  @Query(() => MassInvoiceView, { description: 'One mass invoice: its progress, and once finished its report (items)' })
  async massInvoice(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassInvoiceView> {
    return this.view(await this.batches.get(this.em, id));
  }

  @Authenticated()
  @Query(() => MassInvoiceConnection, { description: 'Mass invoices, newest first', complexity: connectionComplexity })
  async massInvoices(@Args() args: PageArgs): Promise<Connection<MassInvoiceView>> {
    const org = await this.context.of(this.em);
    const page = await paginate(this.em, MassInvoiceBatch, {}, args, { createdAt: 'desc', id: 'desc' });
    const nodes = page.nodes.map((b) => MassInvoiceView.from(b, org.locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @ResolveField(() => MassInvoiceItemConnection, {
    description: 'The customers of the batch in selection order, and what became of each; status [FAILED, SKIPPED] lists the failures with reasons',
    complexity: connectionComplexity,
  })
  async items(@Parent() batch: MassInvoiceView, @Args() args: MassInvoiceItemsArgs): Promise<Connection<MassInvoiceItemView>> {
    const where = { batchId: batch.id, ...(args.status?.length ? { status: { $in: [...new Set(args.status)] } } : {}) };
    const page = await paginate(this.em, MassInvoiceItem, where, args, { position: 'asc', id: 'asc' });
    const nodes = page.nodes.map((i) => MassInvoiceItemView.from(i));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Authenticated()
  @Subscription(() => MassInvoiceProgressView, {
    description:
      'Progress of a mass invoice: its current counters at once, then each change, ending after it finishes ' +
      '(graphql-ws on /graphql; connectionParams: { authorization: "Bearer <token>" })',
    resolve: (payload: MassInvoiceProgressEvent) => MassInvoiceProgressView.from(payload),
  })
  async massInvoiceProgress(
    @CurrentUser() principal: Principal,
    @Args('batchId', { type: () => ID }, batchId()) id: string,
  ): Promise<AsyncIterableIterator<MassInvoiceProgressEvent>> {
    // A WebSocket operation has no request-scoped EntityManager: a fork scoped to the subscriber's organization, so
    // another organization's batch is NOT_FOUND like a missing one.
    const em = this.orm.em.fork();
    scopeToTenant(em, principal.organizationId);
    const read = async (): Promise<MassInvoiceProgressEvent> => {
      const b = await this.batches.get(em.fork(), id);
      return { organizationId: b.organizationId, batchId: b.id, status: b.status, total: b.total, invoiced: b.invoiced, failed: b.failed, skipped: b.skipped };
    };
    await read(); // NOT_FOUND before anything is subscribed
    return this.pubsub.subscribe(id, read, (e) => FINISHED_MASS_INVOICE_STATUSES.includes(e.status));
  }

  private async view(batch: MassInvoiceBatch): Promise<MassInvoiceView> {
    const org = await this.context.of(this.em);
    return MassInvoiceView.from(batch, org.locale);
  }
}

/** The customer and the invoice of an item. */
@Resolver(() => MassInvoiceItemView)
export class MassInvoiceItemsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly customers: CustomerDirectory,
    private readonly context: OrganizationContext,
  ) {}

  @ResolveField(() => CustomerView)
  async customer(@Parent() item: MassInvoiceItemView, @Context() ctx: GraphQLContext): Promise<CustomerView> {
    const loader = ctx.loaders.get<string, CustomerView>('massInvoicing.customer', async (ids) =>
      byKeys(ids, await this.customers.views(this.em, ids), (c) => c.id, (id) => new Error(`Customer ${id} of a mass invoice was not found`)),
    );
    return loader.load(item.customerId);
  }

  @ResolveField(() => InvoiceView, { nullable: true, description: 'The invoice created for this customer' })
  async invoice(@Parent() item: MassInvoiceItemView, @Context() ctx: GraphQLContext): Promise<InvoiceView | null> {
    if (!item.invoiceId) return null;
    const org = await this.org(ctx);
    const loader = ctx.loaders.get<string, InvoiceView | null>('massInvoicing.invoice', async (ids) => {
      const rows = new Map((await this.em.find(Invoice, { id: { $in: [...ids] } })).map((i) => [i.id, i]));
      return ids.map((id) => {
        const invoice = rows.get(id);
        return invoice ? InvoiceView.from(invoice, org.locale, org.today) : null;
      });
    });
    return loader.load(item.invoiceId);
  }

  private async org(ctx: GraphQLContext): Promise<InvoicingContextValue> {
    const loader = ctx.loaders.get<string, InvoicingContextValue>('massInvoicing.org', async (keys) => {
      const value = await this.context.of(this.em);
      return keys.map(() => value);
    });
    return loader.load('org');
  }
}
