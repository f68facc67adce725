// The payment gateway port and its adapters. Modules depend on the abstract PaymentGateway only.
export * from './payment-gateway.js';
export { PaymentGatewayModule, type PaymentGatewayModuleOptions } from './payment-gateway.module.js';
export { StripeGateway, type StripeGatewayOptions } from './stripe-gateway.js';
export { gatewayErrorFromStripe, type StripeErrorFields } from './stripe-error-mapping.js';
export {
  SANDBOX_TEST_CARDS,
  SANDBOX_TEST_BANK_ACCOUNTS,
  SANDBOX_TEST_ROUTING_NUMBER,
  SANDBOX_LEGACY_CARD_TOKENS,
  type SandboxTestCard,
  type SandboxTestBankAccount,
  type SandboxCardOutcome,
  type SandboxBankOutcome,
} from './sandbox/sandbox-test-numbers.js';
export { SandboxGatewayObject } from './sandbox/sandbox-gateway-object.entity.js';
export { SandboxGateway } from './sandbox/sandbox-gateway.js';
export { signWebhook, type SandboxWebhook } from './sandbox/sandbox-webhook-signature.js';
