import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Money } from '#libs/money/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { MoneyType } from '../../../graphql/scalars.js';
import { OrganizationContext } from '../application/organization-context.js';
import { Credit, CreditApplication } from '../domain/credit.entity.js';
import { PaymentAllocation, ReceivedPayment } from '../domain/received-payment.entity.js';
import { InvoiceCreditView } from './credits.types.js';
import { InvoiceView } from './invoice.types.js';
import { orgOf } from './reconciliation.shared.js';
import { InvoicePaymentView } from './reconciliation.types.js';

/** What settles an invoice, on the Invoice type: one query per relation per page of invoices, not per invoice. */
@Resolver(() => InvoiceView)
export class ReconciliationInvoiceResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly context: OrganizationContext,
  ) {}

  @ResolveField(() => [InvoicePaymentView], { description: 'Payment allocations in force, oldest first, with the payment they came from' })
  async payments(@Parent() invoice: InvoiceView, @Context() ctx: GraphQLContext): Promise<InvoicePaymentView[]> {
    const { locale } = await orgOf(this.em, this.context, ctx);
    const rows = await ctx.loaders
      .get<string, { allocation: PaymentAllocation; payment: ReceivedPayment }[]>('invoicing.paymentsByInvoice', async (ids) => {
        const allocations = await this.em.find(
          PaymentAllocation,
          { invoiceId: { $in: [...ids] }, reversedAt: null },
          { orderBy: { createdAt: 'asc', id: 'asc' } },
        );
        const payments = new Map(
          (await this.em.find(ReceivedPayment, { id: { $in: [...new Set(allocations.map((a) => a.paymentId))] } })).map((p) => [p.id, p]),
        );
        return ids.map((id) =>
          allocations.filter((a) => a.invoiceId === id).map((allocation) => ({ allocation, payment: payments.get(allocation.paymentId)! })),
        );
      })
      .load(invoice.id);
    return rows.map(({ allocation, payment }) =>
      Object.assign(new InvoicePaymentView(), {
        id: allocation.id,
        paymentId: payment.id,
        amount: MoneyType.from(Money.of(allocation.amount, allocation.currency), locale),
        allocatedAt: allocation.createdAt,
        receivedAt: payment.receivedAt,
        source: payment.source,
        method: payment.method,
        reference: payment.reference,
      }),
    );
  }

  @ResolveField(() => [InvoiceCreditView], { description: 'Credit applications in force (credit notes and account credit), oldest first' })
  async credits(@Parent() invoice: InvoiceView, @Context() ctx: GraphQLContext): Promise<InvoiceCreditView[]> {
    const { locale } = await orgOf(this.em, this.context, ctx);
    const rows = await ctx.loaders
      .get<string, { application: CreditApplication; credit: Credit }[]>('invoicing.creditsByInvoice', async (ids) => {
        const applications = await this.em.find(
          CreditApplication,
          { invoiceId: { $in: [...ids] }, reversedAt: null },
          { orderBy: { createdAt: 'asc', id: 'asc' } },
        );
        const credits = new Map(
          (await this.em.find(Credit, { id: { $in: [...new Set(applications.map((a) => a.creditId))] } })).map((c) => [c.id, c]),
        );
        return ids.map((id) =>
          applications.filter((a) => a.invoiceId === id).map((application) => ({ application, credit: credits.get(application.creditId)! })),
        );
      })
      .load(invoice.id);
    return rows.map(({ application, credit }) =>
      Object.assign(new InvoiceCreditView(), {
        id: application.id,
        creditId: credit.id,
        kind: credit.kind,
        amount: MoneyType.from(Money.of(application.amount, application.currency), locale),
        reason: credit.reason,
        appliedAt: application.createdAt,
      }),
    );
  }
}
