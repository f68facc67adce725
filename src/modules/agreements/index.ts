// Public contract of the agreements module: the only file other modules may import.
export { AgreementsModule, type AgreementsModuleOptions } from './agreements.module.js';
export { AgreementLifecycle } from './application/agreement-lifecycle.js';
export { WorkOrders, WORK_ORDER_HORIZON_PERIODS } from './application/work-orders.use-case.js';
export { AgreementStatus } from './domain/agreement-status.js';
export { WorkOrderStatus } from './domain/work-order.entity.js';
export { BillingFrequency, periodsDue, type BillingPeriod, type PeriodsDueInput } from './domain/billing-schedule.js';
export { AgreementsError, AgreementsErrorReason } from './agreements.error.js';
export { AgreementsEvents, type AgreementStatusChangedPayload, type WorkOrderCompletedPayload } from './agreements.events.js';
