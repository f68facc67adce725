import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Field, ID, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { MANAGERS, Roles } from '#libs/auth/index.js';
import { ApplicationError } from '#libs/ddd/index.js';
import { DeliveryStatus, OutboxDelivery, OutboxDeliveryService } from '#libs/outbox/index.js';
import { ConnectionType, connectionComplexity, paginate, PageArgs } from '../graphql/pagination.js';

@ObjectType('DeadLetter', { description: 'An event one of Settle\'s handlers failed to process after every retry' })
export class DeadLetterType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Id of the event (the outbox message)' })
  messageId!: string;

  @Field()
  eventType!: string;

  @Field({ description: 'The handler that failed' })
  handler!: string;

  @Field()
  attempts!: number;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field({ description: 'When it was dead-lettered' })
  updatedAt!: Date;

  static from(d: OutboxDelivery): DeadLetterType {
    return Object.assign(new DeadLetterType(), d);
  }
}

const DeadLetterConnection = ConnectionType(DeadLetterType, 'DeadLetter');

@Resolver(() => DeadLetterType)
export class DeadLettersResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly deliveries: OutboxDeliveryService,
  ) {}

  @Roles(...MANAGERS)
  @Query(() => DeadLetterConnection, { description: "The organization's dead-lettered events, newest first", complexity: connectionComplexity })
  async deadLetters(@Args() page: PageArgs) {
    const result = await paginate(this.em, OutboxDelivery, { status: DeliveryStatus.DEAD }, page, {
      updatedAt: 'desc',
      id: 'desc',
    });
    return {
      ...result,
      nodes: result.nodes.map(DeadLetterType.from),
      edges: result.edges.map((e) => ({ cursor: e.cursor, node: DeadLetterType.from(e.node) })),
    };
  }

  @Roles(...MANAGERS)
  @Mutation(() => DeadLetterType, { description: 'Send a dead-lettered event back to its handler with fresh retries' })
  async replayDeadLetter(
    @Args('id', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Dead letter') })) id: string,
  ): Promise<DeadLetterType> {
    return DeadLetterType.from(await this.deliveries.replay(this.em, id));
  }
}
