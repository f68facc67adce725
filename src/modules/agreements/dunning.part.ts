import type { ModulePart } from '../../platform/module-part.js';
import { DUNNING_QUEUE, DunningDailyProcessor, DunningDailySchedule } from './application/dunning-daily.job.js';
import { Dunning } from './application/dunning.js';
import { AgreementsFollowReplacedMethod, DunningOnPaymentFailed, DunningReevaluates } from './application/dunning.handlers.js';
import { DunningResolver } from './graphql/dunning.resolver.js';

/**
 * Dunning and suspension (issue 8, seed 001 "What happens if their card fails?"): a failed agreement charge tells the
 * office and sends the customer one link to update their method; the organization's dunning policy, evaluated from
 * the facts on every payment/invoice event of the customer and daily, suspends (and optionally reactivates)
 * agreements and their visits; one-click reactivation.
 */
export const DUNNING_PART: ModulePart = {
  providers: [Dunning, DunningOnPaymentFailed, DunningReevaluates, AgreementsFollowReplacedMethod],
  api: [DunningResolver],
  worker: [DunningDailyProcessor],
  schedule: [DunningDailySchedule],
  queues: [DUNNING_QUEUE],
};
