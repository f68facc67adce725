import { MassChargePaymentSettled } from './application/mass-charge-payment-settled.handler.js';
import { MassChargeRunner } from './application/mass-charge-runner.js';
import { MassCharges } from './application/mass-charges.use-case.js';
import { MassChargeItemsResolver, MassChargesResolver } from './graphql/mass-charges.resolver.js';
import { ChargePacer } from './infrastructure/charge-pacer.js';
import { MassChargeProgressPubSub } from './infrastructure/mass-charge-progress.pubsub.js';
import { MASS_CHARGE_QUEUE, MassChargeProcessor, MassChargeQueue } from './infrastructure/mass-charge.processor.js';
import type { ModulePart } from '../../platform/module-part.js';

/**
 * Mass charge: each selected customer's default consented method charged once per batch, as a queued job; and the
 * ChargePacer every charging job (billing runs too) waits on, exported for other modules.
 */
export const MASS_CHARGE_PART: ModulePart = {
  providers: [ChargePacer, MassChargeProgressPubSub, MassChargeRunner, MassCharges, MassChargeQueue, MassChargePaymentSettled],
  api: [MassChargesResolver, MassChargeItemsResolver],
  worker: [MassChargeProcessor],
  queues: [MASS_CHARGE_QUEUE],
  exports: [ChargePacer],
};
