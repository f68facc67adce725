import { Args, Context, ID, Mutation, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { Money, MoneyError } from '#libs/money/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Refunds } from '../application/refunds.use-case.js';
import { Payment } from '../domain/payment.entity.js';
import { Refund } from '../domain/refund.entity.js';
import { PaymentsError } from '../payments.error.js';
import { PaymentView } from './payments.types.js';
import { paymentIdPipe } from './payments.resolver.js';
import { RefundPaymentInput, RefundView } from './refund.types.js';

/** Who may give money back or cancel a bank debit. */
export const REFUND_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

/** Refunds and cancellation of processing bank debits; `Payment.refunds`. */
@Resolver(() => PaymentView)
export class RefundsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly refundsUseCase: Refunds,
    private readonly identity: IdentityDirectory,
  ) {}

  @Roles(...REFUND_ROLES)
  @Mutation(() => RefundView, {
    description:
      'Refund all or part of a succeeded payment (OWNER, ADMIN, PAYMENT_MANAGER); never more than was paid, summed over refunds. ' +
      'A refusal by the gateway answers status FAILED with failureMessage.',
  })
  async refundPayment(@CurrentUser() principal: Principal, @Args('input') input: RefundPaymentInput): Promise<RefundView> {
    let amount: Money | null;
    try {
      amount = input.amount ? input.amount.toMoney() : null;
    } catch (error) {
      if (error instanceof MoneyError) throw PaymentsError.invalid([{ field: 'amount', message: error.message }]);
      throw error;
    }
    const refund = await this.refundsUseCase.refundPayment(principal.organizationId, {
      paymentId: input.paymentId,
      amount,
      reason: input.reason,
      reopenInvoices: input.reopenInvoices ?? false,
      idempotencyKey: input.idempotencyKey ? `client:${principal.userId}:${input.idempotencyKey}` : null,
      actorUserId: principal.userId,
    });
    return RefundView.from(refund, await this.locale(principal));
  }

  @Roles(...REFUND_ROLES)
  @Mutation(() => PaymentView, { description: 'Cancel a bank debit that is still processing (OWNER, ADMIN, PAYMENT_MANAGER): CANCELLED, nothing is taken' })
  async cancelPayment(
    @CurrentUser() principal: Principal,
    @Args('paymentId', { type: () => ID }, paymentIdPipe()) paymentId: string,
    @Args('reason') reason: string,
  ): Promise<PaymentView> {
    const payment = await this.refundsUseCase.cancelPayment(principal.organizationId, paymentId, reason, principal.userId);
    const fresh = await this.em.findOneOrFail(Payment, { id: payment.id }, { refresh: true });
    return PaymentView.from(fresh, await this.locale(principal));
  }

  @ResolveField(() => [RefundView], { description: 'Its refunds, oldest first' })
  async refunds(@CurrentUser() principal: Principal, @Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<RefundView[]> {
    const rows = await ctx.loaders
      .get<string, Refund[]>('payments.refunds', async (ids) => {
        const all = await this.em.find(Refund, { paymentId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
        return ids.map((id) => all.filter((r) => r.paymentId === id));
      })
      .load(payment.id);
    const locale = await this.locale(principal);
    return rows.map((r) => RefundView.from(r, locale));
  }

  private async locale(principal: Principal): Promise<string> {
    return (await this.identity.organization(this.em, principal.organizationId))?.locale ?? 'en-US';
  }
}
