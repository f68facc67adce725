// The payment gateway port and its adapters. Modules depend on the abstract PaymentGateway only.
export * from './payment-gateway.js';
