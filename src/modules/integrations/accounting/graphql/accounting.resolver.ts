import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ArgsType, Field, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { IsBoolean, IsOptional } from 'class-validator';
import { CurrentUser, MANAGERS, type Principal, Roles } from '#libs/auth/index.js';
import { ConnectionType, connectionComplexity, paginate, PageArgs } from '../../../../graphql/pagination.js';
import { AccountingError } from '../accounting.error.js';
import { QuickBooksConnections } from '../application/quickbooks-connection.js';
import { AccountingConnection, AccountingSyncItem, AccountingSyncStatus } from '../domain/accounting.entities.js';
import { AccountingConnectionView, AccountingSyncView, ConnectQuickBooksPayload } from './accounting.types.js';

const AccountingSyncConnection = ConnectionType(AccountingSyncView, 'AccountingSync');

@ArgsType()
export class AccountingSyncErrorsArgs extends PageArgs {
  @Field({ defaultValue: false, description: 'Also list syncs still being retried (PENDING after a failed try)' })
  @IsOptional()
  @IsBoolean()
  includeRetrying: boolean = false;
}

/** The accounting connection and its sync errors: OWNER and ADMIN, who manage the organization's integrations. */
@Resolver(() => AccountingSyncView)
export class AccountingResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly connections: QuickBooksConnections,
  ) {}

  @Roles(...MANAGERS)
  @Query(() => AccountingConnectionView, { description: "The organization's QuickBooks Online connection: NONE when never connected (OWNER, ADMIN)" })
  async accountingConnection(): Promise<AccountingConnectionView> {
    return this.view();
  }

  @Roles(...MANAGERS)
  @Mutation(() => ConnectQuickBooksPayload, {
    description: "Start connecting QuickBooks Online: answers Intuit's authorization page for this organization (OWNER, ADMIN). Reconnects an EXPIRED or DISCONNECTED connection",
  })
  connectQuickBooks(@CurrentUser() principal: Principal): ConnectQuickBooksPayload {
    return Object.assign(new ConnectQuickBooksPayload(), { authorizeUrl: this.connections.authorizeUrl(principal.organizationId, principal.userId) });
  }

  @Roles(...MANAGERS)
  @Mutation(() => AccountingConnectionView, { description: 'Stop syncing to QuickBooks and revoke the grant; events keep queuing until connected again (OWNER, ADMIN)' })
  async disconnectQuickBooks(): Promise<AccountingConnectionView> {
    await this.connections.disconnect(this.em);
    return this.view();
  }

  @Roles(...MANAGERS)
  @Query(() => AccountingSyncConnection, {
    description: 'Syncs QuickBooks refused or that ran out of retries, newest first, with the QuickBooks fault (OWNER, ADMIN)',
    complexity: connectionComplexity,
  })
  async accountingSyncErrors(@Args() args: AccountingSyncErrorsArgs) {
    const where = args.includeRetrying
      ? { $or: [{ status: AccountingSyncStatus.FAILED }, { status: AccountingSyncStatus.PENDING, attempts: { $gt: 0 } }] }
      : { status: AccountingSyncStatus.FAILED };
    const result = await paginate(this.em, AccountingSyncItem, where, args, { updatedAt: 'desc', id: 'desc' });
    return {
      ...result,
      nodes: result.nodes.map(AccountingSyncView.from),
      edges: result.edges.map((e) => ({ cursor: e.cursor, node: AccountingSyncView.from(e.node) })),
    };
  }

  @Roles(...MANAGERS)
  @Mutation(() => AccountingSyncView, { description: 'Try a failed sync again now, with fresh retries (OWNER, ADMIN)' })
  async retryAccountingSync(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => AccountingError.syncItemNotFound() })) id: string,
  ): Promise<AccountingSyncView> {
    return AccountingSyncView.from(await this.connections.retry(this.em, principal.organizationId, id));
  }

  private async view(): Promise<AccountingConnectionView> {
    const conn = await this.em.findOne(AccountingConnection, {});
    const [pending, failed] = await Promise.all([
      this.em.count(AccountingSyncItem, { status: AccountingSyncStatus.PENDING }),
      this.em.count(AccountingSyncItem, { status: AccountingSyncStatus.FAILED }),
    ]);
    return AccountingConnectionView.of(conn, pending, failed);
  }
}
