import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { Authenticated, Role, Roles } from '#libs/auth/index.js';
import { connectionComplexity, paginate } from '../../../graphql/pagination.js';
import { OrganizationContext } from '../application/organization-context.js';
import { receiptNotFound, Receipts } from '../application/receipts.use-case.js';
import { Receipt } from '../domain/receipt.entity.js';
import { ReceiptConnection, ReceiptsArgs, ReceiptView } from './receipt.types.js';

const idPipe = () => new ParseUUIDPipe({ exceptionFactory: () => receiptNotFound() });

/** Receipts over GraphQL: every staff role may read them; resending one is for OWNER, ADMIN and PAYMENT_MANAGER. */
@Resolver(() => ReceiptView)
export class ReceiptsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly org: OrganizationContext,
    private readonly service: Receipts,
  ) {}

  @Authenticated()
  @Query(() => ReceiptView, { description: 'One receipt (every staff role)' })
  async receipt(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<ReceiptView> {
    const receipt = await this.em.findOne(Receipt, { id });
    if (!receipt) throw receiptNotFound(id);
    return this.view(receipt, (await this.org.of(this.em)).locale);
  }

  @Authenticated()
  @Query(() => ReceiptConnection, {
    description: 'Receipts, newest payment first; optionally of one customer (every staff role)',
    complexity: connectionComplexity,
  })
  async receipts(@Args() args: ReceiptsArgs) {
    const where: FilterQuery<Receipt> = {};
    if (args.customerId) where.customerId = args.customerId;
    const page = await paginate(this.em, Receipt, where, args, { receivedAt: 'desc', id: 'desc' });
    const { locale } = await this.org.of(this.em);
    const view = (r: Receipt) => this.view(r, locale);
    return { ...page, nodes: page.nodes.map(view), edges: page.edges.map((e) => ({ cursor: e.cursor, node: view(e.node) })) };
  }

  @Roles(Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER)
  @Mutation(() => ReceiptView, {
    description:
      "Email the receipt to the customer again, at the customer's current email address (OWNER, ADMIN, PAYMENT_MANAGER). " +
      'Each call sends a new message and extends the link in it by 90 days.',
  })
  async resendReceipt(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<ReceiptView> {
    const receipt = await this.em.transactional((tx) => this.service.resend(tx, id));
    return this.view(receipt, (await this.org.of(this.em)).locale);
  }

  private view(receipt: Receipt, locale: string): ReceiptView {
    return ReceiptView.from(receipt, locale, this.service.staffUrl(receipt));
  }
}
