import { Injectable, Logger } from '@nestjs/common';
import { type EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationError, Clock, isUuid } from '#libs/ddd/index.js';
import { scopeToTenant } from '#libs/tenancy/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { AgreementsError, AgreementsErrorReason } from '../agreements.error.js';
import { isCalendarDate } from '../domain/billing-schedule.js';
import { AgreementBillingSettings, BillingRun, FINISHED_BILLING_RUN_STATUSES } from '../domain/billing-run.entity.js';
import { BillingRunQueue } from '../infrastructure/billing-run.queue.js';
import { BillingRunRunner } from './billing-run-runner.js';
import { dateIn, OrganizationClock } from './organization-today.js';

export const billingRunNotFound = (id?: string) => ApplicationError.notFound('Billing run', id);

export interface BillingSettingsValue {
  autoBill: boolean;
  hour: number;
  lastScheduledOn: string | null;
  updatedBy: string | null;
  updatedAt: Date | null;
}

/**
 * Starting, reading and resuming billing runs, and the organization's automatic billing setting. A run is written
 * QUEUED and its planning job enqueued after commit; everything else happens in the jobs (BillingRunRunner).
 */
@Injectable()
export class BillingRuns {
  private readonly logger = new Logger(BillingRuns.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly org: OrganizationClock,
    private readonly identity: IdentityDirectory,
    private readonly queue: BillingRunQueue,
    private readonly runner: BillingRunRunner,
  ) {}

  /** A new QUEUED run for every period that starts on or before `upTo` (default: today); not after today. */
  async create(em: EntityManager, upTo: string | null | undefined, actorUserId: string | null, scheduled = false): Promise<BillingRun> {
    const org = await this.org.of(em);
    const date = upTo ?? org.today;
    if (!isCalendarDate(date)) throw AgreementsError.invalid([{ field: 'upTo', message: `must be a date as YYYY-MM-DD, got ${JSON.stringify(upTo)}` }]);
    if (date > org.today) {
      throw AgreementsError.invalid([{ field: 'upTo', message: `must be today (${org.today}) or earlier: a period is billed once it has started` }]);
    }
    const run = em.create(BillingRun, { upTo: date, currency: org.currency, createdBy: actorUserId, scheduled, createdAt: org.now } as BillingRun);
    await em.flush();
    return run;
  }

  /** Enqueues the planning job of a run just committed. Should it fail, resumeBillingRun enqueues it again. */
  async enqueue(run: BillingRun): Promise<void> {
    await this.queue.plan(run.organizationId, run.id);
  }

  async get(em: EntityManager, id: string): Promise<BillingRun> {
    const run = isUuid(id) ? await em.findOne(BillingRun, { id }, { refresh: true }) : null;
    if (!run) throw billingRunNotFound(id);
    return run;
  }

  /**
   * Re-enqueues what a QUEUED or RUNNING run still has to do (Redis lost its jobs, or they used up their retries):
   * its planning job, or a job per batch not DONE. Harmless while its jobs are alive. A finished run is CONFLICT.
   */
  async resume(em: EntityManager, id: string): Promise<BillingRun> {
    const run = await this.get(em, id);
    if (FINISHED_BILLING_RUN_STATUSES.includes(run.status)) {
      throw new AgreementsError(AgreementsErrorReason.BILLING_RUN_FINISHED, `The billing run has finished (${run.status}); start a new one to bill what is due since`);
    }
    if (!run.plannedAt) {
      await this.queue.plan(run.organizationId, run.id);
      return run;
    }
    const pending = await em.execute<{ seq: number }[]>(`select seq from billing_run_batch where run_id = ? and organization_id = ? and status = 'PENDING' order by seq`, [
      run.id,
      run.organizationId,
    ]);
    if (pending.length) await this.queue.batches(run.organizationId, run.id, pending.map((p) => p.seq));
    else await this.runner.finishIfDone(run.organizationId, run.id);
    return this.get(em.fork(), id);
  }

  /**
   * Across organizations: re-enqueues what the QUEUED and RUNNING runs lost from Redis (restarted empty, flushed) —
   * the planning job of a run not planned, a job per PENDING batch that has none. Jobs Redis still holds are left
   * alone (a killed worker's active jobs come back through Bull's stalled check). Runs on worker start and whenever
   * the queue's connection to Redis comes back, so no operator has to call resumeBillingRun. Answers how many runs
   * it resumed.
   */
  async resumeLost(): Promise<number> {
    const runs = await this.orm.em
      .fork()
      .execute<{ id: string; organization_id: string; planned_at: Date | null }[]>(`select id, organization_id, planned_at from billing_run where status in ('QUEUED', 'RUNNING')`);
    if (!runs.length) return 0;
    const queued = await this.queue.queued();
    let resumed = 0;
    for (const run of runs) {
      try {
        if (!run.planned_at) {
          if (!queued.plans.has(run.id)) {
            await this.queue.plan(run.organization_id, run.id);
            resumed += 1;
          }
          continue;
        }
        const pending = await this.orm.em
          .fork()
          .execute<{ seq: number }[]>(`select seq from billing_run_batch where run_id = ? and organization_id = ? and status = 'PENDING' order by seq`, [run.id, run.organization_id]);
        const lost = pending.map((p) => p.seq).filter((seq) => !queued.batches.has(`${run.id}:${seq}`));
        if (lost.length) {
          this.logger.warn(`Billing run ${run.id}: ${lost.length} batches had no job in Redis; enqueued again`);
          await this.queue.batches(run.organization_id, run.id, lost);
          resumed += 1;
        } else if (!pending.length) {
          await this.runner.finishIfDone(run.organization_id, run.id);
        }
      } catch (error) {
        this.logger.error(`Billing run ${run.id} not resumed: ${String(error)}`);
      }
    }
    return resumed;
  }

  async settings(em: EntityManager): Promise<BillingSettingsValue> {
    const row = await em.findOne(AgreementBillingSettings, {}, { refresh: true });
    return row
      ? { autoBill: row.autoBill, hour: row.hour, lastScheduledOn: row.lastScheduledOn, updatedBy: row.updatedBy, updatedAt: row.updatedAt }
      : { autoBill: false, hour: 6, lastScheduledOn: null, updatedBy: null, updatedAt: null };
  }

  async updateSettings(em: EntityManager, input: { autoBill?: boolean | null; hour?: number | null }, actorUserId: string): Promise<BillingSettingsValue> {
    if (input.hour != null && (!Number.isInteger(input.hour) || input.hour < 0 || input.hour > 23)) {
      throw AgreementsError.invalid([{ field: 'hour', message: 'must be a whole hour from 0 to 23' }]);
    }
    const org = await this.org.of(em);
    await em.execute(
      `insert into agreement_billing_settings (organization_id, auto_bill, hour, updated_by, updated_at) values (?, ?, ?, ?, ?)
       on conflict (organization_id) do update set auto_bill = coalesce(?, agreement_billing_settings.auto_bill),
         hour = coalesce(?, agreement_billing_settings.hour), updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      [org.id, input.autoBill ?? false, input.hour ?? 6, actorUserId, org.now, input.autoBill ?? null, input.hour ?? null],
    );
    return this.settings(em);
  }

  /**
   * The hourly tick: every organization with automatic billing whose hour has come today (its time zone) and that
   * has not had its run today gets one run up to today. The claim is a conditional update of lastScheduledOn, so
   * two ticks (two schedulers, a retried job) start one run. Answers how many runs it started.
   */
  async startScheduled(): Promise<number> {
    const rows = await this.orm.em
      .fork()
      .execute<{ organization_id: string; hour: number; last_scheduled_on: string | null }[]>(
        `select organization_id, hour, last_scheduled_on::text from agreement_billing_settings where auto_bill`,
      );
    let started = 0;
    for (const row of rows) {
      try {
        const em = this.orm.em.fork();
        scopeToTenant(em, row.organization_id);
        const profile = await this.identity.organization(em, row.organization_id);
        if (!profile) continue;
        const now = this.clock.now();
        const today = dateIn(now, profile.timeZone);
        const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: profile.timeZone, hour: '2-digit', hourCycle: 'h23' }).format(now));
        if (hour < row.hour || (row.last_scheduled_on !== null && row.last_scheduled_on >= today)) continue;
        const run = await em.transactional(async (tx) => {
          const claimed = await tx.execute<{ organization_id: string }[]>(
            `update agreement_billing_settings set last_scheduled_on = ? where organization_id = ? and auto_bill and (last_scheduled_on is null or last_scheduled_on < ?)
             returning organization_id`,
            [today, row.organization_id, today],
          );
          return claimed.length ? this.create(tx, today, null, true) : null;
        });
        if (run) {
          await this.enqueue(run);
          started += 1;
        }
      } catch (error) {
        this.logger.error(`Scheduled billing run of organization ${row.organization_id} not started: ${String(error)}`);
      }
    }
    return started;
  }
}


