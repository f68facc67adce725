import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import type { Principal, Role } from '#libs/auth/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { type GraphQLContext, organizationOnce } from '../../../graphql/loaders.js';
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
        this.em.execute<PaymentRow[]>(
          `select p.id, p.customer_id, p.status, p.amount::text, p.currency, p.amount_refunded::text, p.purpose, p.purpose_ref_id, p.allocations,
                  p.description, p.method_type, p.method_label, p.brand, p.last4, p.payment_method_id, p.attempt_count, p.failure_code,
                  p.failure_message, p.resolution, p.created_by, p.created_at, p.succeeded_at, p.failed_at
             from unnest(array[?]::uuid[]) as k(id)
             cross join lateral (select * from payment p where p.organization_id = ? and p.customer_id = k.id
                                    ${takenBy === null ? '' : 'and p.created_by = ?'}
                                  order by p.created_at desc, p.id desc limit 1) p`,
          takenBy === null ? [[...new Set(ids)], org] : [[...new Set(ids)], org, takenBy],
        ),
        organizationOnce(ctx, this.identity, this.em, org),
      ]);
      const locale = profile?.locale ?? 'en-US';
      // Read-only rows for a view: not hydrated into the request's identity map (em.map cost more than the query).
      const byCustomer = new Map(rows.map((row) => [row.customer_id, PaymentView.from(paymentOf(row), locale)] as const));
      return ids.map((id) => byCustomer.get(id) ?? null);
    });
    return loader.load(customer.id);
  }
}

interface PaymentRow {
  id: string;
  customer_id: string;
  status: Payment['status'];
  amount: string;
  currency: string;
  amount_refunded: string;
  purpose: Payment['purpose'];
  purpose_ref_id: string | null;
  allocations: Payment['allocations'];
  description: string | null;
  method_type: Payment['methodType'];
  method_label: string;
  brand: string | null;
  last4: string | null;
  payment_method_id: string | null;
  attempt_count: number;
  failure_code: string | null;
  failure_message: string | null;
  resolution: Payment['resolution'];
  created_by: string | null;
  created_at: Date | string;
  succeeded_at: Date | string | null;
  failed_at: Date | string | null;
}

const dateOf = (v: Date | string | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

/** The fields PaymentView reads, on an unmanaged Payment (never flushed: this is a read). */
function paymentOf(r: PaymentRow): Payment {
  // Own properties first, then the prototype: `new Payment()` would run MikroORM's accessor of every property.
  return Object.setPrototypeOf({
    id: r.id,
    customerId: r.customer_id,
    status: r.status,
    amount: BigInt(r.amount),
    currency: r.currency,
    amountRefunded: BigInt(r.amount_refunded),
    purpose: r.purpose,
    purposeRefId: r.purpose_ref_id,
    allocations: typeof r.allocations === 'string' ? JSON.parse(r.allocations) : r.allocations,
    description: r.description,
    methodType: r.method_type,
    methodLabel: r.method_label,
    brand: r.brand,
    last4: r.last4,
    paymentMethodId: r.payment_method_id,
    attemptCount: Number(r.attempt_count),
    failureCode: r.failure_code,
    failureMessage: r.failure_message,
    resolution: r.resolution,
    createdBy: r.created_by,
    createdAt: dateOf(r.created_at)!,
    succeededAt: dateOf(r.succeeded_at),
    failedAt: dateOf(r.failed_at),
  }, Payment.prototype) as Payment;
}
