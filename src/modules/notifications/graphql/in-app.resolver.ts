import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Int, Mutation, Query, Resolver, Subscription } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Cursor } from '@mikro-orm/core';
import { Authenticated, CurrentUser, type Principal } from '#libs/auth/index.js';
import { ApplicationError, Clock, isUuid } from '#libs/ddd/index.js';
import { connectionComplexity, type Connection } from '../../../graphql/pagination.js';
import { InAppNotification } from '../domain/in-app-notification.entity.js';
import { NotificationPubSub, type PushedNotification } from '../infrastructure/notification-pubsub.js';
import { MyNotificationsArgs, NotificationConnection } from './in-app.types.js';

/** Position of a notification in `myNotifications`: unread ones first, then newest first (id breaks ties). */
interface Position {
  unread: boolean;
  createdAt: Date;
  id: string;
}

const encode = (n: InAppNotification): string => Cursor.encode([n.readAt === null, n.createdAt.toISOString(), n.id]);

function decode(after: string): Position {
  const invalid = () => ApplicationError.badInput('after', 'is not a cursor of this connection', 'INVALID_CURSOR');
  let values: unknown;
  try {
    values = Cursor.decode(after);
  } catch {
    throw invalid();
  }
  if (!Array.isArray(values) || values.length !== 3) throw invalid();
  const [unread, createdAt, id] = values as unknown[];
  const date = typeof createdAt === 'string' ? new Date(createdAt) : undefined;
  if (typeof unread !== 'boolean' || !date || Number.isNaN(date.getTime()) || typeof id !== 'string' || !isUuid(id)) {
    throw invalid();
  }
  return { unread, createdAt: date, id };
}

/** Rows after `p` in (createdAt desc, id desc) order. */
const after = (p: Position) => ({
  $or: [{ createdAt: { $lt: p.createdAt } }, { createdAt: p.createdAt, id: { $lt: p.id } }],
});

/** In-app notifications of the signed-in staff user: only ever their own. */
@Resolver(() => InAppNotification)
export class InAppNotificationsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
    private readonly pubsub: NotificationPubSub,
  ) {}

  @Authenticated()
  @Query(() => NotificationConnection, {
    description: 'Your notifications: unread first, then newest first',
    complexity: connectionComplexity,
  })
  async myNotifications(@CurrentUser() principal: Principal, @Args() args: MyNotificationsArgs): Promise<Connection<InAppNotification>> {
    const position = args.after !== undefined && args.after !== null ? decode(args.after) : undefined;
    const mine = { userId: principal.userId };
    const order = { orderBy: { createdAt: 'desc', id: 'desc' } } as const;
    // Keyset pagination over two segments (unread, then read), each in (createdAt desc, id desc) order and each
    // served by the (user_id, read_at, created_at) index; one row more than asked says whether a next page exists.
    const want = args.first + 1;
    const rows: InAppNotification[] = [];
    if (!position || position.unread) {
      rows.push(
        ...(await this.em.find(InAppNotification, { ...mine, readAt: null, ...(position ? after(position) : {}) }, { ...order, limit: want })),
      );
    }
    if (!args.unreadOnly && rows.length < want) {
      const where = { ...mine, readAt: { $ne: null }, ...(position && !position.unread ? after(position) : {}) };
      rows.push(...(await this.em.find(InAppNotification, where, { ...order, limit: want - rows.length })));
    }
    const totalCount = await this.em.count(InAppNotification, args.unreadOnly ? { ...mine, readAt: null } : mine);
    const nodes = rows.slice(0, args.first);
    const edges = nodes.map((node) => ({ node, cursor: encode(node) }));
    return {
      edges,
      nodes,
      pageInfo: {
        hasNextPage: rows.length > args.first,
        hasPreviousPage: position !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
      totalCount,
    };
  }

  @Authenticated()
  @Query(() => Int, { description: 'How many of your notifications are unread' })
  unreadNotificationCount(@CurrentUser() principal: Principal): Promise<number> {
    return this.em.count(InAppNotification, { userId: principal.userId, readAt: null });
  }

  @Authenticated()
  @Mutation(() => InAppNotification, { description: 'Mark one of your notifications read (reading it again changes nothing)' })
  async markNotificationRead(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Notification') })) id: string,
  ): Promise<InAppNotification> {
    // Someone else's notification is NOT_FOUND, like a missing one: whether it exists is not revealed.
    const notification = await this.em.findOne(InAppNotification, { id, userId: principal.userId });
    if (!notification) throw ApplicationError.notFound('Notification', id);
    if (notification.readAt === null) {
      notification.readAt = this.clock.now();
      await this.em.flush();
    }
    return notification;
  }

  @Authenticated()
  @Mutation(() => Int, { description: 'Mark all your notifications read; answers how many were unread' })
  markAllNotificationsRead(@CurrentUser() principal: Principal): Promise<number> {
    const now = this.clock.now();
    return this.em.nativeUpdate(InAppNotification, { userId: principal.userId, readAt: null }, { readAt: now, updatedAt: now });
  }

  @Authenticated()
  @Subscription(() => InAppNotification, {
    description:
      'Your notifications as they are created (graphql-ws on /graphql; connectionParams: { authorization: "Bearer <token>" })',
    resolve: (payload: PushedNotification) => toNotification(payload),
  })
  notificationReceived(@CurrentUser() principal: Principal): AsyncIterableIterator<PushedNotification> {
    return this.pubsub.subscribe(principal.userId);
  }
}

function toNotification(p: PushedNotification): InAppNotification {
  return Object.assign(new InAppNotification(), {
    id: p.id,
    organizationId: p.organizationId,
    userId: p.userId,
    title: p.title,
    body: p.body,
    link: p.link,
    readAt: null,
    createdAt: p.createdAt,
    updatedAt: p.createdAt,
  });
}
