import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import type { Principal, Role } from '#libs/auth/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { CustomerView } from '../../customers/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { Payment } from '../domain/payment.entity.js';
import { PAYMENT_VIEWER_ROLES } from './payments.resolver.js';
import { PaymentView } from './payments.types.js';

/**
 * The payments module's field on the Customers module's `Customer` type: the customer's most recent payment, for
 * lists of customers. One statement per page of customers (a lateral join on the customer's newest payment, by the
 * (organization_id, customer_id, created_at) index), not one per customer. Visibility is `payment(id)`'s: OWNER, ADMIN
 * and PAYMENT_MANAGER see every payment; STAFF see the last payment they took themselves.
 */
@Resolver(() => CustomerView)
export class CustomerLastPaymentResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly identity: IdentityDirectory,
  ) {}

  @ResolveField(() => PaymentView, {
    nullable: true,
    description:
      'The most recent payment taken from the customer, whatever its status (a decline shows); null when none. STAFF: the last one they took',
  })
  async lastPayment(@Parent() customer: CustomerView, @Context() ctx: GraphQLContext): Promise<PaymentView | null> {
    const loader = ctx.loaders.get<string, PaymentView | null>('payments.lastPaymentByCustomer', async (ids) => {
      const org = currentTenant(this.em);
      if (!org) throw new Error('lastPayment needs a tenant-scoped EntityManager');
      const principal = (ctx.req as { user?: Principal }).user;
      if (!principal) return ids.map(() => null);
      const takenBy = (PAYMENT_VIEWER_ROLES as readonly Role[]).includes(principal.role) ? null : principal.userId;
      const [rows, profile] = await Promise.all([
        this.em.execute<Record<string, unknown>[]>(
          `select p.* from unnest(array[?]::uuid[]) as k(id)
             cross join lateral (select * from payment p where p.organization_id = ? and p.customer_id = k.id
                                    ${takenBy === null ? '' : 'and p.created_by = ?'}
                                  order by p.created_at desc, p.id desc limit 1) p`,
          takenBy === null ? [[...new Set(ids)], org] : [[...new Set(ids)], org, takenBy],
        ),
        this.identity.organization(this.em, org),
      ]);
      const locale = profile?.locale ?? 'en-US';
      const byCustomer = new Map(rows.map((row) => {
        const payment = this.em.map(Payment, row);
        return [payment.customerId, PaymentView.from(payment, locale)] as const;
      }));
      return ids.map((id) => byCustomer.get(id) ?? null);
    });
    return loader.load(customer.id);
  }
}
