import { InstallmentCharger } from '../invoicing/index.js';
import type { ModulePart } from '../../platform/module-part.js';
import { PaymentsInstallmentCharger } from './application/installment-charger.js';

/**
 * Installments charged through Payments: the implementation of Invoicing's InstallmentCharger port, exported so the
 * (global) Invoicing module's daily installment job injects it without importing Payments.
 */
const INSTALLMENT_CHARGER = { provide: InstallmentCharger, useClass: PaymentsInstallmentCharger };

export const INSTALLMENTS_PART: ModulePart = {
  providers: [INSTALLMENT_CHARGER],
  exports: [INSTALLMENT_CHARGER],
};
