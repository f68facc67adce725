import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { connectionComplexity, paginate, PageArgs, type Connection } from '../../../graphql/pagination.js';
import { billingRunNotFound, BillingRuns } from '../application/billing-runs.use-case.js';
import { OrganizationClock } from '../application/organization-today.js';
import { BilledPeriod, BillingRun, BillingRunSkip, FINISHED_BILLING_RUN_STATUSES } from '../domain/billing-run.entity.js';
import { BillingRunProgressPubSub, type BillingRunProgressEvent } from '../infrastructure/billing-run-progress.pubsub.js';
import {
  AgreementBillingSettingsView,
  BilledPeriodConnection,
  BilledPeriodsArgs,
  BilledPeriodView,
  BillingRunConnection,
  BillingRunProgressView,
  BillingRunSkipConnection,
  BillingRunSkipView,
  BillingRunView,
  UpdateAgreementBillingSettingsInput,
} from './billing-run.types.js';

const runId = () => new ParseUUIDPipe({ exceptionFactory: () => billingRunNotFound() });
const MANAGERS = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER] as const;

/**
 * Billing runs over GraphQL (seed 001: "bill all unbilled agreements up to the current date"). Starting and resuming
 * a run charges customers: OWNER, ADMIN, PAYMENT_MANAGER. Any staff role may follow one.
 */
@Resolver(() => BillingRunView)
export class BillingRunsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly orm: MikroORM,
    private readonly runs: BillingRuns,
    private readonly org: OrganizationClock,
    private readonly pubsub: BillingRunProgressPubSub,
  ) {}

  private async view(run: BillingRun): Promise<BillingRunView> {
    return BillingRunView.from(run, (await this.org.of(this.em)).locale);
  }

  @Roles(...MANAGERS)
  @Mutation(() => BillingRunView, {
    description:
      'Bill all unbilled agreements up to a date (default today; not later): a queued run gives every due period of every ACTIVE ' +
      'agreement one invoice and one charge of its method, exactly once whatever happens. Follow it with billingRun or billingRunProgress',
  })
  async billAgreements(
    @CurrentUser() principal: Principal,
    @Args('upTo', { type: () => String, nullable: true, description: 'YYYY-MM-DD' }) upTo?: string | null,
  ): Promise<BillingRunView> {
    const run = await this.em.transactional((tx) => this.runs.create(tx, upTo, principal.userId));
    // After commit: the job must find the run. Should this fail, the run stays QUEUED and resumeBillingRun enqueues it.
    await this.runs.enqueue(run);
    return this.view(run);
  }

  @Roles(...MANAGERS)
  @Mutation(() => BillingRunView, {
    description: "Enqueue again what a QUEUED or RUNNING run still has to do (its jobs were lost, e.g. Redis restarted empty). Harmless while they're alive",
  })
  async resumeBillingRun(@Args('id', { type: () => ID }, runId()) id: string): Promise<BillingRunView> {
    return this.view(await this.runs.resume(this.em, id));
  }

  @Authenticated()
  @Query(() => BillingRunView, { description: 'One billing run: its counters, and its report (periods, skippedAgreements)' })
  async billingRun(@Args('id', { type: () => ID }, runId()) id: string): Promise<BillingRunView> {
    return this.view(await this.runs.get(this.em, id));
  }

  @Authenticated()
  @Query(() => BillingRunConnection, { description: 'Billing runs, newest first', complexity: connectionComplexity })
  async billingRuns(@Args() args: PageArgs): Promise<Connection<BillingRunView>> {
    const locale = (await this.org.of(this.em)).locale;
    const page = await paginate(this.em, BillingRun, {}, args, { createdAt: 'desc', id: 'desc' });
    const nodes = page.nodes.map((r) => BillingRunView.from(r, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @ResolveField(() => BilledPeriodConnection, {
    description: 'The periods this run invoiced, by agreement and date, with their charge status; status: [FAILED] lists the failures with reasons',
    complexity: connectionComplexity,
  })
  async periods(@Parent() run: BillingRunView, @Args() args: BilledPeriodsArgs): Promise<Connection<BilledPeriodView>> {
    const locale = (await this.org.of(this.em)).locale;
    const where = { runId: run.id, ...(args.status?.length ? { status: { $in: [...new Set(args.status)] } } : {}) };
    const page = await paginate(this.em, BilledPeriod, where, args, { agreementId: 'asc', periodStart: 'asc', id: 'asc' });
    const nodes = page.nodes.map((p) => BilledPeriodView.from(p, locale));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @ResolveField(() => BillingRunSkipConnection, { description: 'The agreements this run did not bill, and why', complexity: connectionComplexity })
  async skippedAgreements(@Parent() run: BillingRunView, @Args() args: PageArgs): Promise<Connection<BillingRunSkipView>> {
    const page = await paginate(this.em, BillingRunSkip, { runId: run.id }, args, { agreementId: 'asc', id: 'asc' });
    const nodes = page.nodes.map((s) => BillingRunSkipView.from(s));
    return { ...page, nodes, edges: page.edges.map((e, i) => ({ cursor: e.cursor, node: nodes[i]! })) };
  }

  @Authenticated()
  @Subscription(() => BillingRunProgressView, {
    description:
      'Progress of a billing run: its current counters at once, then each change, ending after it finishes ' +
      '(graphql-ws on /graphql; connectionParams: { authorization: "Bearer <token>" })',
    resolve: (payload: BillingRunProgressEvent) => BillingRunProgressView.from(payload),
  })
  async billingRunProgress(
    @CurrentUser() principal: Principal,
    @Args('runId', { type: () => ID }, runId()) id: string,
  ): Promise<AsyncIterableIterator<BillingRunProgressEvent>> {
    const em = this.orm.em.fork();
    scopeToTenant(em, principal.organizationId);
    const read = async (): Promise<BillingRunProgressEvent> => {
      const r = await this.runs.get(em.fork(), id);
      return {
        organizationId: r.organizationId,
        batchId: r.id,
        runId: r.id,
        status: r.status,
        total: r.agreementsTotal,
        agreementsDone: r.agreementsDone,
        invoiced: r.invoiced,
        charged: r.charged,
        failed: r.failed,
        skipped: r.skipped,
        upToDate: r.upToDate,
      };
    };
    await read(); // NOT_FOUND before anything is subscribed
    return this.pubsub.subscribe(id, read, (e) => FINISHED_BILLING_RUN_STATUSES.includes(e.status));
  }
}

/** The organization's automatic billing runs. */
@Resolver(() => AgreementBillingSettingsView)
export class AgreementBillingSettingsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly runs: BillingRuns,
  ) {}

  @Authenticated()
  @Query(() => AgreementBillingSettingsView, { description: 'Whether agreements are billed automatically every day, and when' })
  async agreementBillingSettings(): Promise<AgreementBillingSettingsView> {
    return AgreementBillingSettingsView.from(await this.runs.settings(this.em));
  }

  @Roles(Role.OWNER, Role.ADMIN)
  @Mutation(() => AgreementBillingSettingsView, { description: 'Turn the daily billing run on or off and set its hour (OWNER, ADMIN)' })
  async updateAgreementBillingSettings(
    @CurrentUser() principal: Principal,
    @Args('input') input: UpdateAgreementBillingSettingsInput,
  ): Promise<AgreementBillingSettingsView> {
    return AgreementBillingSettingsView.from(await this.em.transactional((tx) => this.runs.updateSettings(tx, input, principal.userId)));
  }
}
