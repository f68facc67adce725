import { Args, Context, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated } from '#libs/auth/index.js';
import { Money } from '#libs/money/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { type Connection, connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { CustomerDirectory, CustomerView } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Payment, PaymentAttempt, PaymentStatus } from '../domain/payment.entity.js';
import { ProcessingPaymentConnection, ProcessingPaymentsArgs, ProcessingPaymentView } from './processing.types.js';

/** Oldest first: the order in which the bank answers. The id breaks ties for the keyset cursor. */
const OLDEST_FIRST = { createdAt: 'asc', id: 'asc' } as const;

/** Stripe: ACH Direct Debit payments take up to 4 business days to succeed or fail. */
const STRIPE_ACH_BUSINESS_DAYS = 4;

/** `from` plus `days` weekdays (Saturdays and Sundays skipped, in UTC; bank holidays are not known here). */
export function addBusinessDays(from: Date, days: number): Date {
  const at = new Date(from);
  let left = days;
  while (left > 0) {
    at.setUTCDate(at.getUTCDate() + 1);
    const day = at.getUTCDay();
    if (day !== 0 && day !== 6) left -= 1;
  }
  return at;
}

/**
 * The "eCheck payment status" report (seed 002): payments still PROCESSING — bank debits waiting for the bank — with
 * when each is expected to settle. Any staff role may read it, like the invoices and payments it relates to.
 */
@Resolver(() => ProcessingPaymentView)
export class ProcessingPaymentsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly config: AppConfig,
    private readonly customers: CustomerDirectory,
    private readonly identity: IdentityDirectory,
  ) {}

  @Authenticated()
  @Query(() => ProcessingPaymentConnection, {
    description: 'Bank debits (eChecks) waiting for the bank, oldest first, with their expected settle date (any staff role)',
    complexity: connectionComplexity,
  })
  async processingPayments(@Args() args: ProcessingPaymentsArgs): Promise<Connection<ProcessingPaymentView>> {
    if (args.customerId) await this.customers.require(this.em, args.customerId);
    const where = { status: PaymentStatus.PROCESSING, ...(args.customerId ? { customerId: args.customerId } : {}) };
    const page = await paginate(this.em, Payment, where, args, OLDEST_FIRST);
    const attempts = page.nodes.length
      ? await this.em.find(PaymentAttempt, { paymentId: { $in: page.nodes.map((p) => p.id) } }, { fields: ['paymentId', 'number', 'startedAt'] })
      : [];
    const org = await this.identity.organization(this.em, currentTenant(this.em)!);
    const locale = org?.locale ?? 'en-US';
    const view = (p: Payment): ProcessingPaymentView => {
      const attempt = attempts.find((a) => a.paymentId === p.id && a.number === p.attemptCount);
      const submittedAt = attempt?.startedAt ?? p.updatedAt;
      return Object.assign(new ProcessingPaymentView(), {
        id: p.id,
        customerId: p.customerId,
        amount: MoneyType.from(Money.of(p.amount, p.currency), locale),
        methodType: p.methodType,
        methodLabel: p.methodLabel,
        purpose: p.purpose,
        invoiceIds: p.allocations.map((a) => a.invoiceId),
        attempt: p.attemptCount,
        createdAt: p.createdAt,
        submittedAt,
        expectedSettleAt: this.expectedSettleAt(p.gateway, submittedAt),
      });
    };
    const nodes = page.nodes.map(view);
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @ResolveField(() => CustomerView, { nullable: true, description: 'Who pays it' })
  async customer(@Parent() payment: ProcessingPaymentView, @Context() ctx: GraphQLContext): Promise<CustomerView | null> {
    const loader = ctx.loaders.get<string, CustomerView | null>('payments.processing.customer', async (ids) => {
      const views = new Map((await this.customers.views(this.em, ids)).map((c) => [c.id, c]));
      return ids.map((id) => views.get(id) ?? null);
    });
    return loader.load(payment.customerId);
  }

  private expectedSettleAt(gateway: string, submittedAt: Date): Date | null {
    if (gateway === 'sandbox') return new Date(submittedAt.getTime() + this.config.sandboxGateway.debitSettleSeconds * 1000);
    if (gateway === 'stripe') return addBusinessDays(submittedAt, STRIPE_ACH_BUSINESS_DAYS);
    return null;
  }
}
