import type { ModulePart } from '../../platform/module-part.js';
import { BillingRunRunner } from './application/billing-run-runner.js';
import { BillingRuns } from './application/billing-runs.use-case.js';
import { AgreementBillingSettingsResolver, BillingRunsResolver } from './graphql/billing-runs.resolver.js';
import { BillingRunProgressPubSub } from './infrastructure/billing-run-progress.pubsub.js';
import { BillingRunProcessor, BillingRunSchedule } from './infrastructure/billing-run.processor.js';
import { BILLING_RUN_QUEUE, BillingRunQueue } from './infrastructure/billing-run.queue.js';

/**
 * Billing runs (issue 8, "Billing runs"): bill all unbilled agreements up to a date as a queued run of batch jobs,
 * exactly once per (agreement, period); progress over a subscription; the daily scheduled run per organization.
 */
export const BILLING_RUNS_PART: ModulePart = {
  providers: [BillingRunProgressPubSub, BillingRunQueue, BillingRunRunner, BillingRuns],
  api: [BillingRunsResolver, AgreementBillingSettingsResolver],
  worker: [BillingRunProcessor],
  schedule: [BillingRunSchedule],
  queues: [BILLING_RUN_QUEUE],
  exports: [BillingRuns],
};
