// Public contract of the payments module: the only file other modules may import.
export { PaymentsModule, type PaymentsModuleOptions } from './payments.module.js';
export type { ChargeCommand, PaymentSummary, SavedMethodSource, OneOffSource } from './application/payments.contract.js';
export {
  Payments,
  type PaymentAttemptRef,
  type GatewayResultSource,
  type AppliedPayment,
  type BulkChargeCommand,
  type PreparedPayment,
  type SentCharge,
} from './application/payments.facade.js';
export { PaymentStatus, PaymentPurpose, PaymentMethodType, PaymentResolution } from './domain/payment.entity.js';
export { PaymentsError, PaymentsErrorReason } from './payments.error.js';
// Mass charge: the pace every charging job keeps to the gateway (GATEWAY_CHARGES_PER_SECOND); inject it, acquire() before each charge.
export { ChargePacer, type PaceGrant } from './infrastructure/charge-pacer.js';
export { MassChargeStatus, MassChargeItemStatus, MassChargeAmountMode } from './domain/mass-charge.entity.js';
export {
  PaymentsEvents,
  type PaymentSucceededPayload,
  type PaymentFailedPayload,
  type PaymentRefundedPayload,
  type PaymentCancelledPayload,
  type PaymentProcessingPayload,
  type MassChargeCompletedPayload,
} from './payments.events.js';
export { MASS_CHARGE_QUEUE } from './infrastructure/mass-charge.processor.js';
