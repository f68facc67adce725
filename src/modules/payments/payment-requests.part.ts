import type { ModulePart } from '../../platform/module-part.js';
import { PaymentRequestExpiry } from './application/payment-request-expiry.js';
import { PayPages } from './application/payment-request-page.js';
import { PaymentRequestPayments, PaymentRequestPaymentSettled } from './application/payment-request-payments.js';
import { PaymentRequests } from './application/payment-requests.use-case.js';
import { PaymentRequestsResolver } from './graphql/payment-requests.resolver.js';
import {
  PAYMENT_REQUEST_EXPIRY_QUEUE,
  PaymentRequestExpiryProcessor,
  PaymentRequestExpirySchedule,
} from './infrastructure/payment-request-expiry.processor.js';
import { PayLinkRateLimiter, PayPageController } from './web/pay-page.controller.js';

/**
 * Payment requests (seed 003, issue 7): staff request a payment by email / SMS with an expiring pay link; the customer
 * pays on the hosted pay page (`/pay/<token>`, the card entered on the gateway's page) and may retry a declined card
 * while the link is open; the creator is notified and marks it read; a PAYMENT_MANAGER consolidates it.
 */
export const PAYMENT_REQUESTS_PART: ModulePart = {
  providers: [PaymentRequests, PaymentRequestPayments, PaymentRequestPaymentSettled, PaymentRequestExpiry],
  api: [PaymentRequestsResolver, PayPages, PayLinkRateLimiter],
  controllers: [PayPageController],
  worker: [PaymentRequestExpiryProcessor],
  schedule: [PaymentRequestExpirySchedule],
  queues: [PAYMENT_REQUEST_EXPIRY_QUEUE],
};
