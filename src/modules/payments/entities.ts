import { MASS_CHARGE_ENTITIES } from './domain/mass-charge.entity.js';
import { PAYMENT_CORE_ENTITIES } from './domain/payment.entity.js';
import { PAYMENT_REQUEST_ENTITIES } from './domain/payment-request.entity.js';
import { REFUND_ENTITIES } from './domain/refund.entity.js';
import { WEBHOOK_ENTITIES } from './domain/webhook-event.entity.js';

export const PAYMENTS_ENTITIES = [...PAYMENT_CORE_ENTITIES, ...WEBHOOK_ENTITIES, ...REFUND_ENTITIES, ...MASS_CHARGE_ENTITIES, ...PAYMENT_REQUEST_ENTITIES];
