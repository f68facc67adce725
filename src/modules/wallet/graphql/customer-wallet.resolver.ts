import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { CustomerView } from '../../customers/index.js';
import { PaymentMethod, PaymentMethodStatus } from '../domain/payment-method.entity.js';
import { PaymentMethodView } from './payment-methods.types.js';

/** The wallet's fields on the Customers module's `Customer` type: one query per page of customers, not per customer. */
@Resolver(() => CustomerView)
export class CustomerWalletResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
  ) {}

  @ResolveField(() => [PaymentMethodView], { description: 'Saved cards and bank accounts, default first' })
  async paymentMethods(@Parent() customer: CustomerView, @Context() ctx: GraphQLContext): Promise<PaymentMethodView[]> {
    const methods = await ctx.loaders
      .get<string, PaymentMethod[]>('activePaymentMethodsByCustomer', async (ids) => {
        // Read-only rows for views, not entities: no hydration and nothing in the request's identity map. Each row gets
        // PaymentMethod's prototype (for label(), expiresOn()) after its own properties are set, so MikroORM's property
        // accessors on the prototype are never run.
        const qb = this.em
          .createQueryBuilder(PaymentMethod, 'm')
          .select('*')
          .where({ customerId: { $in: [...new Set(ids)] }, status: PaymentMethodStatus.ACTIVE })
          .orderBy({ isDefault: 'desc', createdAt: 'desc', id: 'desc' });
        await qb.applyFilters();
        const rows = ((await qb.execute('all', true)) as object[]).map((r) => Object.setPrototypeOf(r, PaymentMethod.prototype) as PaymentMethod);
        const byCustomer = new Map<string, PaymentMethod[]>(ids.map((id) => [id, []]));
        for (const row of rows) byCustomer.get(row.customerId)?.push(row);
        return ids.map((id) => byCustomer.get(id) ?? []);
      })
      .load(customer.id);
    const now = this.clock.now();
    return methods.map((m) => PaymentMethodView.from(m, now));
  }

  @ResolveField(() => PaymentMethodView, { nullable: true, description: 'The method charged when none is chosen' })
  async defaultPaymentMethod(@Parent() customer: CustomerView, @Context() ctx: GraphQLContext): Promise<PaymentMethodView | null> {
    const methods = await this.paymentMethods(customer, ctx);
    return methods.find((m) => m.isDefault) ?? null;
  }
}
