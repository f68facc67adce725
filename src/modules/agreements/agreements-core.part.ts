import type { ModulePart } from '../../platform/module-part.js';
import { AgreementLifecycle } from './application/agreement-lifecycle.js';
import { AgreementQuotes } from './application/agreement-quotes.use-case.js';
import { OrganizationClock } from './application/organization-today.js';
import { Renewals } from './application/renewals.use-case.js';
import { AgreementSignupPages } from './application/signup.hosted-page.js';
import { WorkOrders } from './application/work-orders.use-case.js';
import { AgreementsResolver } from './graphql/agreements.resolver.js';
import { WorkOrdersResolver } from './graphql/work-orders.resolver.js';
import { AgreementSignupController, SignupLinkRateLimiter } from './web/agreement-signup.controller.js';

/**
 * Agreements and work orders: quotes, the hosted sign-up page (/a/<token>), approval, the lifecycle with its recorded
 * transitions (suspend/reactivate for dunning), renewals, and work orders (generated from the schedule, added by staff,
 * one-off jobs with their invoice).
 */
export const AGREEMENTS_CORE_PART: ModulePart = {
  providers: [OrganizationClock, WorkOrders, AgreementLifecycle, AgreementQuotes, Renewals],
  api: [AgreementsResolver, WorkOrdersResolver, AgreementSignupPages, SignupLinkRateLimiter],
  controllers: [AgreementSignupController],
  exports: [AgreementLifecycle, WorkOrders],
};
