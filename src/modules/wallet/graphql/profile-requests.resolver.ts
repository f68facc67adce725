import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal } from '#libs/auth/index.js';
import { ApplicationError, Clock } from '#libs/ddd/index.js';
import { connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { notFound, ProfileRequests } from '../application/profile-requests.use-case.js';
import { PaymentProfileRequest, ProfileRequestStatus } from '../domain/payment-profile-request.entity.js';
import {
  PaymentProfileRequestConnection,
  PaymentProfileRequestsArgs,
  PaymentProfileRequestView,
  SendPaymentProfileRequestInput,
} from './profile-requests.types.js';

const idPipe = () => new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Payment profile request') });

/**
 * Payment profile requests over GraphQL. Every staff role may send and view them (sending a link asks the customer;
 * it charges nothing and shows staff no payment details). Cancelling is for the sender, or an OWNER, ADMIN or
 * PAYMENT_MANAGER (checked in ProfileRequests.cancel).
 */
@Resolver(() => PaymentProfileRequestView)
export class ProfileRequestsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
    private readonly requests: ProfileRequests,
  ) {}

  @Authenticated()
  @Mutation(() => PaymentProfileRequestView, {
    description:
      'Email and/or text a customer a secure, single-use link to add a card or bank account (every staff role). The link ' +
      'expires after PROFILE_REQUEST_TTL_HOURS; it is only ever in the message.',
  })
  async sendPaymentProfileRequest(
    @CurrentUser() principal: Principal,
    @Args('input') input: SendPaymentProfileRequestInput,
  ): Promise<PaymentProfileRequestView> {
    const request = await this.em.transactional((tx) =>
      this.requests.send(tx, {
        customerId: input.customerId,
        channels: input.channels,
        email: input.email,
        phone: input.phone,
        kinds: input.kinds,
        note: input.message,
        requestedBy: principal.userId,
      }),
    );
    return PaymentProfileRequestView.from(request, this.clock.now());
  }

  @Authenticated()
  @Mutation(() => PaymentProfileRequestView, {
    description: 'Cancel a pending request: its link stops working (the sender, or OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async cancelPaymentProfileRequest(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, idPipe()) id: string,
  ): Promise<PaymentProfileRequestView> {
    const request = await this.em.transactional((tx) => this.requests.cancel(tx, id, principal));
    return PaymentProfileRequestView.from(request, this.clock.now());
  }

  @Authenticated()
  @Query(() => PaymentProfileRequestView, { description: 'One payment profile request' })
  async paymentProfileRequest(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<PaymentProfileRequestView> {
    const request = await this.em.findOne(PaymentProfileRequest, { id });
    if (!request) throw notFound(id);
    return PaymentProfileRequestView.from(request, this.clock.now());
  }

  @Authenticated()
  @Query(() => PaymentProfileRequestConnection, {
    description: 'Payment profile requests, newest first; by customer, status (EXPIRED is computed) and purpose',
    complexity: connectionComplexity,
  })
  async paymentProfileRequests(@Args() args: PaymentProfileRequestsArgs) {
    const now = this.clock.now();
    const where: FilterQuery<PaymentProfileRequest> = {};
    if (args.customerId) where.customerId = args.customerId;
    if (args.purpose) where.purpose = args.purpose;
    if (args.status === ProfileRequestStatus.PENDING) Object.assign(where, { status: ProfileRequestStatus.PENDING, expiresAt: { $gt: now } });
    else if (args.status === ProfileRequestStatus.EXPIRED) Object.assign(where, { status: ProfileRequestStatus.PENDING, expiresAt: { $lte: now } });
    else if (args.status) where.status = args.status;
    const page = await paginate(this.em, PaymentProfileRequest, where, args, { createdAt: 'desc', id: 'desc' });
    const view = (r: PaymentProfileRequest) => PaymentProfileRequestView.from(r, now);
    return { ...page, nodes: page.nodes.map(view), edges: page.edges.map((e) => ({ cursor: e.cursor, node: view(e.node) })) };
  }
}
