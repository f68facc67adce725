import { InstallmentCharges } from './application/installment-charges.js';
import { InstallmentFollowsPayment } from './application/installment-payment-events.handler.js';
import { InstallmentPaymentOutcomes } from './application/installment-payment-outcomes.js';
import { InstallmentPlans } from './application/installment-plans.use-case.js';
import { InstallmentPlansResolver, InvoiceInstallmentPlanResolver } from './graphql/installment-plans.resolver.js';
import {
  INSTALLMENT_CHARGES_QUEUE,
  InstallmentChargesProcessor,
  InstallmentChargesSchedule,
} from './infrastructure/installment-charges.processor.js';
import type { ModulePart } from '../../platform/module-part.js';

/**
 * Installment plans: schedules on a saved method, upcoming payments, the daily charge job. The job charges through the
 * InstallmentCharger port, which the Payments module provides and exports (src/modules/payments/installments.part.ts;
 * both modules are global, and Invoicing never imports Payments); the installments follow their payments through
 * Payments' events (InstallmentFollowsPayment).
 */
export const INSTALLMENTS_PART: ModulePart = {
  providers: [InstallmentPlans, InstallmentPaymentOutcomes, InstallmentCharges, InstallmentFollowsPayment],
  api: [InstallmentPlansResolver, InvoiceInstallmentPlanResolver],
  worker: [InstallmentChargesProcessor],
  schedule: [InstallmentChargesSchedule],
  queues: [INSTALLMENT_CHARGES_QUEUE],
};
