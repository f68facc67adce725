import { InstallmentCharges } from './application/installment-charges.js';
import { InstallmentPlans } from './application/installment-plans.use-case.js';
import { InstallmentPlansResolver, InvoiceInstallmentPlanResolver } from './graphql/installment-plans.resolver.js';
import { InstallmentCharger } from './infrastructure/installment-charger.js';
import {
  INSTALLMENT_CHARGES_QUEUE,
  InstallmentChargesProcessor,
  InstallmentChargesSchedule,
} from './infrastructure/installment-charges.processor.js';
import type { ModulePart } from '../../platform/module-part.js';

/**
 * Installment plans: schedules on a saved method, upcoming payments, the daily charge job. InstallmentCharger is the
 * charging step the Payments module (issue 6) will replace with its own provider.
 */
export const INSTALLMENTS_PART: ModulePart = {
  providers: [InstallmentPlans, InstallmentCharger, InstallmentCharges],
  api: [InstallmentPlansResolver, InvoiceInstallmentPlanResolver],
  worker: [InstallmentChargesProcessor],
  schedule: [InstallmentChargesSchedule],
  queues: [INSTALLMENT_CHARGES_QUEUE],
};
