import { ActionCenter } from './application/action-center.js';
import { PaymentRetries } from './application/action-center-retries.js';
import { PaymentSettingsService } from './application/payment-settings.js';
import { METHOD_UPDATE_REQUESTS } from './application/payments.facade.js';
import { RetryScheduleOnPaymentFailed } from './application/retry-schedule.handler.js';
import { ActionCenterResolver, PaymentActionCenterFieldsResolver } from './graphql/action-center.resolver.js';
import { PaymentSettingsResolver } from './graphql/payment-settings.resolver.js';
import { PAYMENT_RETRIES_QUEUE, PaymentRetriesProcessor, PaymentRetriesSchedule } from './infrastructure/payment-retries.processor.js';
import type { ModulePart } from '../../platform/module-part.js';

/**
 * The Payment Action Center (seed 002): failed payments with their reason, what they were for and the attempts so far;
 * retry now, ask the customer for a new method (a payment profile request), mark resolved; the organization's
 * automatic retry schedule (payment settings), planned on PaymentFailed and run hourly.
 */
export const ACTION_CENTER_PART: ModulePart = {
  providers: [
    ActionCenter,
    PaymentSettingsService,
    PaymentRetries,
    RetryScheduleOnPaymentFailed,
    // Payments.requestMethodUpdate (for other modules: Agreements' dunning) reaches the action center through it.
    { provide: METHOD_UPDATE_REQUESTS, useExisting: ActionCenter },
  ],
  api: [ActionCenterResolver, PaymentActionCenterFieldsResolver, PaymentSettingsResolver],
  worker: [PaymentRetriesProcessor],
  schedule: [PaymentRetriesSchedule],
  queues: [PAYMENT_RETRIES_QUEUE],
};
