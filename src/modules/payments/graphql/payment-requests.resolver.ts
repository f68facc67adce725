import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { Clock } from '#libs/ddd/index.js';
import { Money, MoneyError } from '#libs/money/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, type Connection, paginate } from '../../../graphql/pagination.js';
import { IdentityDirectory } from '../../identity/index.js';
import { notFound, PAYMENT_REQUEST_MANAGER_ROLES, PaymentRequests } from '../application/payment-requests.use-case.js';
import { PAID_REQUEST_STATUSES, PaymentRequest, PaymentRequestAttempt, PaymentRequestStatus } from '../domain/payment-request.entity.js';
import { PaymentsError } from '../payments.error.js';
import {
  CreatePaymentRequestInput,
  type PaymentRequestFilterInput,
  PaymentRequestFilterStatus,
  PaymentRequestsArgs,
  PaymentRequestAttemptView,
  PaymentRequestConnection,
  PaymentRequestSettingsView,
  PaymentRequestView,
  UpdatePaymentRequestSettingsInput,
} from './payment-request.types.js';

/** Every staff role may request a payment (sales staff do, seed 003) and see the requests they sent. */
const REQUESTER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER, Role.STAFF] as const;
/** "Payment list (all employees)". */
const LIST_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;
const NEWEST_FIRST = { createdAt: 'desc', id: 'desc' } as const;
const requestIdPipe = () => new ParseUUIDPipe({ exceptionFactory: () => notFound() });

/**
 * Payment requests (seed 003): request a payment by email / SMS with a pay link, follow it (my requests, all
 * requests), re-send or re-create it, cancel it, mark its "paid" notice read (its creator only) and consolidate it
 * (PAYMENT_MANAGER only: every other role, OWNER and ADMIN included, is FORBIDDEN).
 */
@Resolver(() => PaymentRequestView)
export class PaymentRequestsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly requests: PaymentRequests,
    private readonly identity: IdentityDirectory,
    private readonly clock: Clock,
  ) {}

  @Roles(...REQUESTER_ROLES)
  @Mutation(() => PaymentRequestView, {
    description:
      "Request a payment: the customer gets the organization's PAYMENT_REQUEST message (email, SMS or both) with a pay link that " +
      'expires after the organization\'s link lifetime (24 hours by default). A customer without the email or phone a channel needs ' +
      'is BAD_USER_INPUT naming `email` / `phone`, and nothing is written. The answer never contains the link.',
  })
  async createPaymentRequest(@CurrentUser() principal: Principal, @Args('input') input: CreatePaymentRequestInput): Promise<PaymentRequestView> {
    let amount: Money;
    try {
      amount = input.amount.toMoney();
    } catch (error) {
      if (error instanceof MoneyError) throw PaymentsError.invalid([{ field: 'amount', message: error.message }]);
      throw error;
    }
    const request = await this.em.transactional((tx) =>
      this.requests.create(
        tx,
        {
          customerId: input.customerId,
          amount,
          description: input.description,
          reference: input.reference ?? null,
          referenceType: input.referenceType ?? null,
          invoiceId: input.invoiceId ?? null,
          channels: input.channels,
        },
        principal.userId,
      ),
    );
    return this.view(principal, request);
  }

  @Authenticated()
  @Query(() => PaymentRequestView, { description: 'One payment request (STAFF: the ones they sent)' })
  async paymentRequest(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, requestIdPipe()) id: string): Promise<PaymentRequestView> {
    return this.view(principal, await this.visible(principal, id));
  }

  @Authenticated()
  @Query(() => PaymentRequestConnection, { description: 'Payment requests I sent, newest first ("My payments")', complexity: connectionComplexity })
  myPaymentRequests(@CurrentUser() principal: Principal, @Args() args: PaymentRequestsArgs): Promise<Connection<PaymentRequestView>> {
    return this.page(principal, { $and: [this.where(args.filter), { createdBy: principal.userId }] } as FilterQuery<PaymentRequest>, args);
  }

  @Roles(...LIST_ROLES)
  @Query(() => PaymentRequestConnection, {
    description: "Every employee's payment requests, newest first (OWNER, ADMIN, PAYMENT_MANAGER)",
    complexity: connectionComplexity,
  })
  paymentRequests(@CurrentUser() principal: Principal, @Args() args: PaymentRequestsArgs): Promise<Connection<PaymentRequestView>> {
    return this.page(principal, this.where(args.filter), args);
  }

  @Authenticated()
  @Mutation(() => PaymentRequestView, {
    description:
      'Send the link again (the sender, or OWNER/ADMIN/PAYMENT_MANAGER): an open request gets the same link in a new message; an ' +
      'expired or cancelled one is re-created (a new request with a new link and expiry, answered). A paid one is CONFLICT.',
  })
  async resendPaymentRequest(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, requestIdPipe()) id: string): Promise<PaymentRequestView> {
    await this.visible(principal, id);
    return this.view(principal, await this.em.transactional((tx) => this.requests.resend(tx, id, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => PaymentRequestView, {
    description: 'Cancel an open request (its sender, or OWNER/ADMIN/PAYMENT_MANAGER): the link then says it was cancelled and takes no money',
  })
  async cancelPaymentRequest(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, requestIdPipe()) id: string): Promise<PaymentRequestView> {
    await this.visible(principal, id);
    return this.view(principal, await this.em.transactional((tx) => this.requests.cancel(tx, id, principal)));
  }

  @Roles(Role.PAYMENT_MANAGER)
  @Mutation(() => PaymentRequestView, {
    description:
      'The accountant posted the payment in the books: COMPLETED → CONSOLIDATED, with who and when (PAYMENT_MANAGER only; idempotent)',
  })
  async consolidatePaymentRequest(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, requestIdPipe()) id: string): Promise<PaymentRequestView> {
    return this.view(principal, await this.em.transactional((tx) => this.requests.consolidate(tx, id, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => PaymentRequestView, {
    description: "Mark the \"paid\" notice of a request read: only the staff member who sent it (anyone else: FORBIDDEN NOT_THE_CREATOR)",
  })
  async markPaymentRequestRead(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, requestIdPipe()) id: string): Promise<PaymentRequestView> {
    await this.visible(principal, id);
    return this.view(principal, await this.em.transactional((tx) => this.requests.markRead(tx, id, principal.userId)));
  }

  @Authenticated()
  @Query(() => PaymentRequestSettingsView, { description: "The organization's payment request settings" })
  async paymentRequestSettings(): Promise<PaymentRequestSettingsView> {
    return Object.assign(new PaymentRequestSettingsView(), {
      ttlHours: await this.requests.ttlHours(this.em),
      installmentsEnabled: await this.requests.installmentsEnabled(this.em),
    });
  }

  @Roles(Role.OWNER, Role.ADMIN)
  @Mutation(() => PaymentRequestSettingsView, {
    description:
      'How long pay links stay open (applies to requests sent from now on) and whether the pay page offers "Pay in 4" (OWNER, ADMIN); only the fields given change',
  })
  async updatePaymentRequestSettings(
    @CurrentUser() principal: Principal,
    @Args('input') input: UpdatePaymentRequestSettingsInput,
  ): Promise<PaymentRequestSettingsView> {
    const settings = await this.em.transactional((tx) =>
      this.requests.updateSettings(tx, { ttlHours: input.ttlHours, installmentsEnabled: input.installmentsEnabled }, principal.userId),
    );
    return Object.assign(new PaymentRequestSettingsView(), settings);
  }

  @ResolveField(() => [PaymentRequestAttemptView], { description: 'Every try on the link, first first' })
  async attempts(@Parent() request: PaymentRequestView, @Context() ctx: GraphQLContext): Promise<PaymentRequestAttemptView[]> {
    const rows = await ctx.loaders
      .get<string, PaymentRequestAttempt[]>('payments.payment-request-attempts', async (ids) => {
        const all = await this.em.find(PaymentRequestAttempt, { requestId: { $in: [...ids] } }, { orderBy: { number: 'asc' } });
        return ids.map((id) => all.filter((a) => a.requestId === id));
      })
      .load(request.id);
    return rows.map(PaymentRequestAttemptView.from);
  }

  /** A request the principal may see and act on: the sender's own, or any for OWNER/ADMIN/PAYMENT_MANAGER. */
  private async visible(principal: Principal, id: string): Promise<PaymentRequest> {
    const request = await this.em.findOne(PaymentRequest, { id });
    if (!request || (request.createdBy !== principal.userId && !PAYMENT_REQUEST_MANAGER_ROLES.includes(principal.role))) throw notFound(id);
    return request;
  }

  private where(filter: PaymentRequestFilterInput | null | undefined): FilterQuery<PaymentRequest> {
    if (!filter) return {};
    const now = this.clock.now();
    const and: Record<string, unknown>[] = [];
    if (filter.status?.length) {
      const byStatus: Record<PaymentRequestFilterStatus, Record<string, unknown>> = {
        // A processing bank debit keeps its request OPEN past the expiry (the bank confirms it days later).
        OPEN: { status: PaymentRequestStatus.OPEN, $or: [{ expiresAt: { $gt: now } }, { bankDebitPendingSince: { $ne: null } }] },
        EXPIRED: {
          $or: [{ status: PaymentRequestStatus.EXPIRED }, { status: PaymentRequestStatus.OPEN, expiresAt: { $lte: now }, bankDebitPendingSince: null }],
        },
        COMPLETED: { status: PaymentRequestStatus.COMPLETED },
        COMPLETED_AFTER_RETRY: { status: { $in: [...PAID_REQUEST_STATUSES] }, attemptCount: { $gt: 1 } },
        CANCELLED: { status: PaymentRequestStatus.CANCELLED },
        CONSOLIDATED: { status: PaymentRequestStatus.CONSOLIDATED },
        UNREAD: { status: { $in: [...PAID_REQUEST_STATUSES] }, readAt: null },
      };
      and.push({ $or: [...new Set(filter.status)].map((s) => byStatus[s]) });
    }
    if (filter.customerId) and.push({ customerId: filter.customerId });
    if (filter.createdBy) and.push({ createdBy: filter.createdBy });
    if (filter.reference?.trim()) and.push({ reference: { $ilike: `%${filter.reference.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%` } });
    if (filter.from || filter.to) and.push({ createdAt: { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) } });
    if (filter.amountMin != null || filter.amountMax != null) {
      and.push({ amount: { ...(filter.amountMin != null ? { $gte: filter.amountMin } : {}), ...(filter.amountMax != null ? { $lte: filter.amountMax } : {}) } });
    }
    return (and.length ? { $and: and } : {}) as FilterQuery<PaymentRequest>;
  }

  private async page(principal: Principal, where: FilterQuery<PaymentRequest>, args: PaymentRequestsArgs): Promise<Connection<PaymentRequestView>> {
    const page = await paginate(this.em, PaymentRequest, where, args, NEWEST_FIRST);
    const locale = await this.locale(principal);
    const now = this.clock.now();
    const nodes = page.nodes.map((r) => PaymentRequestView.from(r, now, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  private async view(principal: Principal, request: PaymentRequest): Promise<PaymentRequestView> {
    return PaymentRequestView.from(request, this.clock.now(), await this.locale(principal));
  }

  private async locale(principal: Principal): Promise<string> {
    return (await this.identity.organization(this.em, principal.organizationId))?.locale ?? 'en-US';
  }
}
