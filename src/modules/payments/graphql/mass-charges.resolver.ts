import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { currentTenant, scopeToTenant } from '#libs/tenancy/index.js';
import { byKeys, type GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, PageArgs, type Connection } from '../../../graphql/pagination.js';
import { CustomerDirectory, CustomerView } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { progressOf } from '../application/mass-charge-runner.js';
import { massChargeNotFound, MassCharges } from '../application/mass-charges.use-case.js';
import { FINISHED_MASS_CHARGE_STATUSES, MassChargeBatch, MassChargeItem } from '../domain/mass-charge.entity.js';
import { MassChargeProgressPubSub, type MassChargeProgressEvent } from '../infrastructure/mass-charge-progress.pubsub.js';
import { MassChargeQueue } from '../infrastructure/mass-charge.processor.js';
import {
  CreateMassChargeInput,
  MassChargeConnection,
  MassChargeItemConnection,
  MassChargeItemsArgs,
  MassChargeItemView,
  MassChargeProgressView,
  MassChargeView,
} from './mass-charge.types.js';

const batchId = () => new ParseUUIDPipe({ exceptionFactory: () => massChargeNotFound() });

/** Who may charge many customers at once, and follow, resume and cancel it: the roles that take payments. */
const CHARGERS = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

/** The org's locale for amounts, as the view carries it to its items (not a GraphQL field). */
type LocatedView = MassChargeView & { locale?: string };

/** Mass charges over GraphQL (seed 002 §4.2). */
@Resolver(() => MassChargeView)
export class MassChargesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly orm: MikroORM,
    private readonly batches: MassCharges,
    private readonly queue: MassChargeQueue,
    private readonly identity: IdentityDirectory,
    private readonly pubsub: MassChargeProgressPubSub,
  ) {}

  @Roles(...CHARGERS)
  @Mutation(() => MassChargeView, {
    description:
      "Charge the default consented method of every customer matched by `filter` or listed in `customerIds` (at most 10,000): " +
      'their open balance or a FIXED amount, once each, as a queued job. Bad input is refused with nothing written. ' +
      'Follow it with massCharge or massChargeProgress',
  })
  async createMassCharge(@CurrentUser() principal: Principal, @Args('input') input: CreateMassChargeInput): Promise<MassChargeView> {
    const batch = await this.em.transactional((tx) => this.batches.create(tx, input, principal.userId));
    // After commit: the job must find the batch. Should this fail, the batch stays QUEUED and resumeMassCharge re-enqueues it.
    await this.queue.enqueue(batch.organizationId, batch.id);
    return this.view(batch);
  }

  @Roles(...CHARGERS)
  @Mutation(() => MassChargeView, {
    description:
      'Enqueue the job of a QUEUED or RUNNING mass charge again (its job was lost or its worker killed): it charges the customers ' +
      'not handled yet and finishes the ones under way, never charging anyone twice',
  })
  async resumeMassCharge(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassChargeView> {
    const batch = await this.batches.resume(this.em, id);
    await this.queue.enqueue(batch.organizationId, batch.id);
    return this.view(batch);
  }

  @Roles(...CHARGERS)
  @Mutation(() => MassChargeView, {
    description: 'Stop a mass charge: customers not charged yet are skipped; payments already made stay (refund them if needed)',
  })
  async cancelMassCharge(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassChargeView> {
    const batch = await this.em.transactional((tx) => this.batches.cancel(tx, id));
    await this.pubsub.publish(progressOf(batch.organizationId, batch.id, batch)).catch(() => undefined);
    return this.view(batch);
  }

  @Roles(...CHARGERS)
  @Query(() => MassChargeView, { description: 'One mass charge: its progress, and once finished its report (items)' })
  async massCharge(@Args('id', { type: () => ID }, batchId()) id: string): Promise<MassChargeView> {
    return this.view(await this.batches.get(this.em, id));
  }

  @Roles(...CHARGERS)
  @Query(() => MassChargeConnection, { description: 'Mass charges, newest first', complexity: connectionComplexity })
  async massCharges(@Args() args: PageArgs): Promise<Connection<MassChargeView>> {
    const locale = await this.locale(this.em);
    const page = await paginate(this.em, MassChargeBatch, {}, args, { createdAt: 'desc', id: 'desc' });
    const nodes = page.nodes.map((b) => located(b, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @ResolveField(() => MassChargeItemConnection, {
    description: 'The customers of the batch in selection order, and what became of each; status [FAILED, SKIPPED] lists the failures with reasons',
    complexity: connectionComplexity,
  })
  async items(@Parent() batch: LocatedView, @Args() args: MassChargeItemsArgs): Promise<Connection<MassChargeItemView>> {
    const where = { batchId: batch.id, ...(args.status?.length ? { status: { $in: [...new Set(args.status)] } } : {}) };
    const page = await paginate(this.em, MassChargeItem, where, args, { position: 'asc', id: 'asc' });
    const locale = batch.locale ?? (await this.locale(this.em));
    const nodes = page.nodes.map((i) => MassChargeItemView.from(i, batch.currency, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Roles(...CHARGERS)
  @Subscription(() => MassChargeProgressView, {
    description:
      'Progress of a mass charge: its current counters at once, then each change, ending after it finishes ' +
      '(graphql-ws on /graphql; connectionParams: { authorization: "Bearer <token>" })',
    resolve: (payload: MassChargeProgressEvent) => MassChargeProgressView.from(payload),
  })
  async massChargeProgress(
    @CurrentUser() principal: Principal,
    @Args('batchId', { type: () => ID }, batchId()) id: string,
  ): Promise<AsyncIterableIterator<MassChargeProgressEvent>> {
    // A WebSocket operation has no request-scoped EntityManager: a fork scoped to the subscriber's organization, so
    // another organization's batch is NOT_FOUND like a missing one.
    const em = this.orm.em.fork();
    scopeToTenant(em, principal.organizationId);
    const read = async (): Promise<MassChargeProgressEvent> => {
      const b = await this.batches.get(em.fork(), id);
      return progressOf(b.organizationId, b.id, b);
    };
    await read(); // NOT_FOUND before anything is subscribed
    return this.pubsub.subscribe(id, read, (e) => FINISHED_MASS_CHARGE_STATUSES.includes(e.status));
  }

  private async view(batch: MassChargeBatch): Promise<MassChargeView> {
    return located(batch, await this.locale(this.em));
  }

  private async locale(em: EntityManager): Promise<string> {
    const id = currentTenant(em);
    return (id ? await this.identity.organization(em, id) : null)?.locale ?? 'en-US';
  }
}

function located(batch: MassChargeBatch, locale: string): LocatedView {
  return Object.assign(MassChargeView.from(batch, locale), { locale });
}

/** The customer of an item. */
@Resolver(() => MassChargeItemView)
export class MassChargeItemsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly customers: CustomerDirectory,
  ) {}

  @ResolveField(() => CustomerView)
  async customer(@Parent() item: MassChargeItemView, @Context() ctx: GraphQLContext): Promise<CustomerView> {
    const loader = ctx.loaders.get<string, CustomerView>('massCharge.customer', async (ids) =>
      byKeys(ids, await this.customers.views(this.em, ids), (c) => c.id, (id) => new Error(`Customer ${id} of a mass charge was not found`)),
    );
    return loader.load(item.customerId);
  }
}
