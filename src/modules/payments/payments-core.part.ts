import type { ModulePart } from '../../platform/module-part.js';
import { BulkPayments } from './application/bulk-payments.js';
import { PaymentJanitor } from './application/payment-janitor.js';
import { PaymentOutcomes } from './application/payment-outcomes.js';
import { Payments } from './application/payments.facade.js';
import { TakePayment } from './application/take-payment.use-case.js';
import { CustomerLastPaymentResolver } from './graphql/customer-last-payment.resolver.js';
import { PaymentsResolver } from './graphql/payments.resolver.js';
import { PAYMENTS_JANITOR_QUEUE, PaymentJanitorProcessor, PaymentJanitorSchedule } from './infrastructure/payment-janitor.processor.js';

/** The payments core: take a payment (saved or one-off method), exactly-once attempts, the janitor for unknown outcomes, lists and timelines. */
export const PAYMENTS_CORE_PART: ModulePart = {
  providers: [PaymentOutcomes, TakePayment, BulkPayments, Payments, PaymentJanitor],
  api: [PaymentsResolver, CustomerLastPaymentResolver],
  worker: [PaymentJanitorProcessor],
  schedule: [PaymentJanitorSchedule],
  queues: [PAYMENTS_JANITOR_QUEUE],
  exports: [Payments],
};
