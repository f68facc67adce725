import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { FilterQuery } from '@mikro-orm/postgresql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { ApplicationError } from '#libs/ddd/index.js';
import { Money, MoneyError } from '#libs/money/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, type Connection, paginate } from '../../../graphql/pagination.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Payments } from '../application/payments.facade.js';
import type { ChargeCommand } from '../application/payments.contract.js';
import { Payment, PaymentAttempt, PaymentEvent, PaymentPurpose } from '../domain/payment.entity.js';
import { PaymentsError } from '../payments.error.js';
import { PaymentAttemptView, PaymentConnection, PaymentEventView, type PaymentFilterInput, PaymentsArgs, PaymentView, TakePaymentInput } from './payments.types.js';

/** Who may see every payment of the organization (lists, any payment's timeline). */
export const PAYMENT_VIEWER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;
/** Who may take a payment: the office, and technicians collecting on a job (seed 000: "Process Payment" in iFleet). */
export const PAYMENT_TAKER_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER, Role.STAFF] as const;

const NEWEST_FIRST = { createdAt: 'desc', id: 'desc' } as const;
export const paymentIdPipe = () => new ParseUUIDPipe({ exceptionFactory: () => PaymentsError.notFound() });

/**
 * Taking payments and looking at them. A decline is not a GraphQL error: takePayment answers the payment with
 * status FAILED and failureMessage in words; errors are for requests that were not attempted (bad input, conflicts).
 */
@Resolver(() => PaymentView)
export class PaymentsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly facade: Payments,
    private readonly identity: IdentityDirectory,
  ) {}

  @Roles(...PAYMENT_TAKER_ROLES)
  @Mutation(() => PaymentView, {
    description:
      'Charge a saved method or a one-off card (OWNER, ADMIN, PAYMENT_MANAGER, STAFF). Exactly once per idempotency key: the ' +
      'same request again answers the stored result (replayed: true). A decline answers status FAILED with failureMessage.',
  })
  async takePayment(@CurrentUser() principal: Principal, @Args('input') input: TakePaymentInput): Promise<PaymentView> {
    const cmd = this.command(principal, input);
    try {
      const summary = await this.facade.charge(principal.organizationId, cmd);
      const payment = await this.em.findOneOrFail(Payment, { id: summary.id }, { refresh: true });
      return PaymentView.from(payment, await this.locale(principal), summary.replayed);
    } catch (error) {
      throw renameFields(error);
    }
  }

  @Authenticated()
  @Query(() => PaymentView, { description: 'One payment, with its timeline and attempts (STAFF: the payments they took)' })
  async payment(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, paymentIdPipe()) id: string): Promise<PaymentView> {
    const payment = await this.em.findOne(Payment, { id });
    const mayView = payment && (PAYMENT_VIEWER_ROLES as readonly Role[]).includes(principal.role) ? true : payment?.createdBy === principal.userId;
    if (!payment || !mayView) throw PaymentsError.notFound(id);
    return PaymentView.from(payment, await this.locale(principal));
  }

  @Roles(...PAYMENT_VIEWER_ROLES)
  @Query(() => PaymentConnection, { description: 'Payments, newest first (OWNER, ADMIN, PAYMENT_MANAGER)', complexity: connectionComplexity })
  async payments(@CurrentUser() principal: Principal, @Args() args: PaymentsArgs): Promise<Connection<PaymentView>> {
    return this.page(principal, this.where(args.filter), args);
  }

  @Authenticated()
  @Query(() => PaymentConnection, { description: 'Payments I took, newest first', complexity: connectionComplexity })
  async myPayments(@CurrentUser() principal: Principal, @Args() args: PaymentsArgs): Promise<Connection<PaymentView>> {
    return this.page(principal, { ...(this.where(args.filter) as object), createdBy: principal.userId } as FilterQuery<Payment>, args);
  }

  @ResolveField(() => [PaymentEventView], { description: 'What happened, oldest first' })
  async timeline(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<PaymentEventView[]> {
    const rows = await ctx.loaders
      .get<string, PaymentEvent[]>('payments.timeline', async (ids) => {
        const all = await this.em.find(PaymentEvent, { paymentId: { $in: [...ids] } }, { orderBy: { at: 'asc', createdAt: 'asc', id: 'asc' } });
        return ids.map((id) => all.filter((e) => e.paymentId === id));
      })
      .load(payment.id);
    return rows.map(PaymentEventView.from);
  }

  @ResolveField(() => [PaymentAttemptView], { description: 'Its calls to the gateway, first first' })
  async attempts(@Parent() payment: PaymentView, @Context() ctx: GraphQLContext): Promise<PaymentAttemptView[]> {
    const rows = await ctx.loaders
      .get<string, PaymentAttempt[]>('payments.attempts', async (ids) => {
        const all = await this.em.find(PaymentAttempt, { paymentId: { $in: [...ids] } }, { orderBy: { number: 'asc' } });
        return ids.map((id) => all.filter((a) => a.paymentId === id));
      })
      .load(payment.id);
    return rows.map(PaymentAttemptView.from);
  }

  private command(principal: Principal, input: TakePaymentInput): ChargeCommand {
    const problems: { field: string; message: string }[] = [];
    const hasMethod = !!input.paymentMethodId?.trim();
    const hasToken = !!input.token?.trim();
    if (hasMethod === hasToken) problems.push({ field: 'paymentMethodId', message: 'give either paymentMethodId (a saved method) or token (a one-off card), not both' });
    if (hasMethod && input.saveToWallet) problems.push({ field: 'saveToWallet', message: 'only applies to a one-off token' });
    const money = (value: TakePaymentInput['amount'], field: string): Money | null => {
      try {
        return value.toMoney();
      } catch (error) {
        if (!(error instanceof MoneyError)) throw error;
        problems.push({ field, message: error.message });
        return null;
      }
    };
    const amount = money(input.amount, 'amount');
    const allocations = input.invoices.map((i, n) => ({ invoiceId: i.invoiceId, amount: money(i.amount, `invoices[${n}].amount`) }));
    if (problems.length || !amount) throw PaymentsError.invalid(problems);
    return {
      customerId: input.customerId,
      method: hasMethod
        ? { paymentMethodId: input.paymentMethodId!.trim() }
        : {
            token: input.token!.trim(),
            saveToWallet: input.saveToWallet,
            consentGiven: input.consentGiven,
            billingAddress: input.billingAddress ? input.billingAddress.toAddress() : null,
          },
      amount,
      purpose: allocations.length ? PaymentPurpose.INVOICES : PaymentPurpose.ON_ACCOUNT,
      allocations: allocations.map((a) => ({ invoiceId: a.invoiceId, amount: a.amount! })),
      description: input.description ?? null,
      // The client's key lives in a namespace of its own, apart from keys Settle derives.
      idempotencyKey: input.idempotencyKey ? `client:${principal.userId}:${input.idempotencyKey}` : null,
      // The customer is present or asked for it (at the counter, on the phone, on a job).
      offSession: false,
      createdBy: principal.userId,
    };
  }

  private where(filter: PaymentFilterInput | null | undefined): FilterQuery<Payment> {
    if (!filter) return {};
    const where: Record<string, unknown> = {};
    if (filter.status?.length) where.status = { $in: filter.status };
    if (filter.methodType) where.methodType = filter.methodType;
    if (filter.purpose) where.purpose = filter.purpose;
    if (filter.customerId) where.customerId = filter.customerId;
    if (filter.createdBy) where.createdBy = filter.createdBy;
    if (filter.from || filter.to) where.createdAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
    if (filter.amountMin != null || filter.amountMax != null) {
      where.amount = { ...(filter.amountMin != null ? { $gte: filter.amountMin } : {}), ...(filter.amountMax != null ? { $lte: filter.amountMax } : {}) };
    }
    return where as FilterQuery<Payment>;
  }

  private async page(principal: Principal, where: FilterQuery<Payment>, args: PaymentsArgs): Promise<Connection<PaymentView>> {
    const page = await paginate(this.em, Payment, where, args, NEWEST_FIRST);
    const locale = await this.locale(principal);
    const nodes = page.nodes.map((p) => PaymentView.from(p, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  private async locale(principal: Principal): Promise<string> {
    return (await this.identity.organization(this.em, principal.organizationId))?.locale ?? 'en-US';
  }
}

/** The facade names allocations as in ChargeCommand; over GraphQL they are `invoices`. */
function renameFields(error: unknown): unknown {
  if (!(error instanceof ApplicationError) || !error.fields.some((f) => f.field.startsWith('allocations'))) return error;
  const fields = error.fields.map((f) => ({ ...f, field: f.field.replace(/^allocations/, 'invoices') }));
  return new PaymentsError(error.reason as never, fields.map((p) => `${p.field}: ${p.message}`).join('; '), fields, error.extra);
}
