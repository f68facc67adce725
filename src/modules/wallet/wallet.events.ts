/** Integration events the wallet publishes (past tense). Payloads carry ids, never card data. */
export const WalletEvents = {
  PaymentMethodSaved: 'PaymentMethodSaved',
  PaymentMethodRemoved: 'PaymentMethodRemoved',
  PaymentMethodConsentGranted: 'PaymentMethodConsentGranted',
  PaymentMethodConsentRevoked: 'PaymentMethodConsentRevoked',
} as const;

export interface PaymentMethodEventPayload {
  paymentMethodId: string;
  customerId: string;
  kind: string;
}
