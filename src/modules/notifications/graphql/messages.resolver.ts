import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { MANAGERS, Roles } from '#libs/auth/index.js';
import { ApplicationError, Clock } from '#libs/ddd/index.js';
import { connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { Message, MessageStatus } from '../domain/message.entity.js';
import { NotificationError, NotificationErrorReason } from '../notification.error.js';
import { MessageConnection, MessagesArgs } from './messages.types.js';

/** The delivery log: every email and SMS the organization sent or is sending, for its OWNERs and ADMINs. */
@Resolver(() => Message)
export class MessagesResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
  ) {}

  @Roles(...MANAGERS)
  @Query(() => MessageConnection, {
    description: 'Emails and SMS sent on behalf of the organization, newest first (OWNER or ADMIN)',
    complexity: connectionComplexity,
  })
  messages(@Args() args: MessagesArgs) {
    const where: FilterQuery<Message> = {};
    if (args.customerId) where.customerId = args.customerId;
    if (args.status) where.status = args.status;
    return paginate(this.em, Message, where, args, { createdAt: 'desc', id: 'desc' });
  }

  @Roles(...MANAGERS)
  @Mutation(() => Message, {
    description: 'Send a FAILED message again, with a fresh set of attempts (OWNER or ADMIN). lastError stays until it is sent.',
  })
  async resendMessage(
    @Args('id', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Message') })) id: string,
  ): Promise<Message> {
    const now = this.clock.now();
    // Conditional update: only a row that is FAILED right now is requeued, so a resend never races a worker that
    // is sending the message (the dispatcher never claims FAILED rows, and records only rows it still holds).
    const requeued = await this.em.nativeUpdate(
      Message,
      { id, status: MessageStatus.FAILED },
      { status: MessageStatus.QUEUED, attempts: 0, nextAttemptAt: now, leaseUntil: null, updatedAt: now },
    );
    const message = await this.em.findOne(Message, { id }, { refresh: true });
    if (!message) throw ApplicationError.notFound('Message', id);
    if (requeued === 0) {
      throw new NotificationError(
        NotificationErrorReason.NOT_RESENDABLE,
        `Message ${id} is ${message.status}: only a FAILED message can be resent`,
      );
    }
    return message;
  }
}
