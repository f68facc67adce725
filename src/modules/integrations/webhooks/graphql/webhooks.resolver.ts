import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { isUuid } from '#libs/ddd/index.js';
import type { GraphQLContext } from '../../../../graphql/loaders.js';
import { type Connection, connectionComplexity, paginate } from '../../../../graphql/pagination.js';
import { WebhookEndpoints } from '../application/webhook-endpoints.use-case.js';
import { PUBLIC_EVENT_TYPES } from '../domain/event-catalog.js';
import { WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint } from '../domain/webhook.entities.js';
import { WebhooksError } from '../webhooks.error.js';
import {
  CreateWebhookEndpointInput,
  UpdateWebhookEndpointInput,
  WebhookDeliveriesArgs,
  WebhookDeliveryAttemptView,
  WebhookDeliveryConnection,
  WebhookDeliveryView,
  WebhookEndpointSecretPayload,
  WebhookEndpointView,
} from './webhook.types.js';

/** Manage endpoints and replay deliveries. */
const MANAGE = [Role.OWNER, Role.ADMIN] as const;
/** Read endpoints (never their secrets) and deliveries: also PAYMENT_MANAGER, who follows what happens to payments. */
const READ = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

const endpointId = () => new ParseUUIDPipe({ exceptionFactory: () => WebhooksError.endpointNotFound() });
const deliveryId = () => new ParseUUIDPipe({ exceptionFactory: () => WebhooksError.deliveryNotFound() });

const secretPayload = (r: { endpoint: WebhookEndpoint; secret: string }) =>
  Object.assign(new WebhookEndpointSecretPayload(), { endpoint: WebhookEndpointView.from(r.endpoint), secret: r.secret });

@Resolver(() => WebhookEndpointView)
export class WebhookEndpointsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly endpoints: WebhookEndpoints,
  ) {}

  @Roles(...READ)
  @Query(() => [String], { description: 'Every event name an endpoint may subscribe to (OWNER, ADMIN, PAYMENT_MANAGER)' })
  webhookEventTypes(): string[] {
    return PUBLIC_EVENT_TYPES;
  }

  @Roles(...READ)
  @Query(() => [WebhookEndpointView], { description: "The organization's webhook endpoints, oldest first (OWNER, ADMIN, PAYMENT_MANAGER)" })
  async webhookEndpoints(): Promise<WebhookEndpointView[]> {
    const rows = await this.em.find(WebhookEndpoint, {}, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return rows.map(WebhookEndpointView.from);
  }

  @Roles(...READ)
  @Query(() => WebhookEndpointView, { description: 'One webhook endpoint (OWNER, ADMIN, PAYMENT_MANAGER)' })
  async webhookEndpoint(@Args('id', { type: () => ID }, endpointId()) id: string): Promise<WebhookEndpointView> {
    return WebhookEndpointView.from(await this.endpoints.require(this.em, id));
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookEndpointSecretPayload, {
    description: 'Register an HTTPS endpoint for the chosen event types; answers its signing secret, shown only this once (OWNER, ADMIN)',
  })
  async createWebhookEndpoint(
    @CurrentUser() principal: Principal,
    @Args('input') input: CreateWebhookEndpointInput,
  ): Promise<WebhookEndpointSecretPayload> {
    return secretPayload(await this.em.transactional((tx) => this.endpoints.create(tx, input, principal.userId)));
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookEndpointView, { description: "Change an endpoint's URL, event types or description (OWNER, ADMIN)" })
  async updateWebhookEndpoint(
    @Args('id', { type: () => ID }, endpointId()) id: string,
    @Args('input') input: UpdateWebhookEndpointInput,
  ): Promise<WebhookEndpointView> {
    return WebhookEndpointView.from(await this.em.transactional((tx) => this.endpoints.update(tx, id, input)));
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookEndpointView, {
    description: 'Stop sending to an endpoint: deliveries waiting for a (re)try are skipped (OWNER, ADMIN)',
  })
  async disableWebhookEndpoint(@Args('id', { type: () => ID }, endpointId()) id: string): Promise<WebhookEndpointView> {
    return WebhookEndpointView.from(await this.em.transactional((tx) => this.endpoints.setEnabled(tx, id, false)));
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookEndpointView, { description: 'Send to an endpoint again, from the next event on (OWNER, ADMIN)' })
  async enableWebhookEndpoint(@Args('id', { type: () => ID }, endpointId()) id: string): Promise<WebhookEndpointView> {
    return WebhookEndpointView.from(await this.em.transactional((tx) => this.endpoints.setEnabled(tx, id, true)));
  }

  @Roles(...MANAGE)
  @Mutation(() => ID, { description: 'Delete an endpoint with its delivery history; answers its id (OWNER, ADMIN)' })
  async deleteWebhookEndpoint(@Args('id', { type: () => ID }, endpointId()) id: string): Promise<string> {
    await this.em.transactional((tx) => this.endpoints.delete(tx, id));
    return id;
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookEndpointSecretPayload, {
    description: 'Replace the signing secret, effective at once (the old one stops verifying); answers the new secret, shown only now (OWNER, ADMIN)',
  })
  async rotateWebhookSecret(@Args('id', { type: () => ID }, endpointId()) id: string): Promise<WebhookEndpointSecretPayload> {
    return secretPayload(await this.em.transactional((tx) => this.endpoints.rotateSecret(tx, id)));
  }
}

@Resolver(() => WebhookDeliveryView)
export class WebhookDeliveriesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly endpoints: WebhookEndpoints,
  ) {}

  @Roles(...READ)
  @Query(() => WebhookDeliveryConnection, {
    description: "An endpoint's deliveries, newest first, with their attempts (OWNER, ADMIN, PAYMENT_MANAGER)",
    complexity: connectionComplexity,
  })
  async webhookDeliveries(@Args() args: WebhookDeliveriesArgs): Promise<Connection<WebhookDeliveryView>> {
    const id = args.endpointId;
    if (!isUuid(id)) throw WebhooksError.endpointNotFound();
    await this.endpoints.require(this.em, id);
    const page = await paginate(this.em, WebhookDelivery, { endpointId: id, ...(args.status ? { status: args.status } : {}) }, args, {
      createdAt: 'desc',
      id: 'desc',
    });
    const nodes = page.nodes.map(WebhookDeliveryView.from);
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Roles(...MANAGE)
  @Mutation(() => WebhookDeliveryView, {
    description: 'Send a delivery again, with the same event id and body and a fresh 3-day retry window (OWNER, ADMIN)',
  })
  async replayWebhookDelivery(@Args('id', { type: () => ID }, deliveryId()) id: string): Promise<WebhookDeliveryView> {
    const delivery = await this.em.transactional((tx) => this.endpoints.replay(tx, id));
    await this.endpoints.queueSend(delivery.id);
    return WebhookDeliveryView.from(delivery);
  }

  @ResolveField(() => [WebhookDeliveryAttemptView], { description: 'Every attempt, oldest first' })
  async attempts(@Parent() delivery: WebhookDeliveryView, @Context() ctx: GraphQLContext): Promise<WebhookDeliveryAttemptView[]> {
    const loader = ctx.loaders.get<string, WebhookDeliveryAttemptView[]>('integrations.webhooks.attempts', async (ids) => {
      const rows = await this.em.find(WebhookDeliveryAttempt, { deliveryId: { $in: [...ids] } }, { orderBy: { number: 'asc' } });
      return ids.map((id) => rows.filter((r) => r.deliveryId === id).map(WebhookDeliveryAttemptView.from));
    });
    return loader.load(delivery.id);
  }
}
