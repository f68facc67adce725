import { Injectable } from '@nestjs/common';
import {
  type CreateCharge,
  type GatewayCharge,
  GatewayErrorCode,
  PaymentGateway,
} from '../../../infra/payment-gateway/index.js';

/**
 * The one step of the installment job that moves money: a charge of a saved method, and reading a charge's state.
 *
 * It sits behind this small class on purpose: the Payments module (issue 6) will own charging (its payment records,
 * retries and dunning) and replace this with a provider that charges through Payments —
 * `{ provide: InstallmentCharger, useExisting: <Payments' charger> }` — without the job changing. The contract is the
 * PaymentGateway port's: a decline is a `failed` charge with its reason; an unknown outcome is a thrown GatewayError
 * UNAVAILABLE; the same idempotency key with the same parameters returns the first charge again.
 */
@Injectable()
export class InstallmentCharger {
  constructor(private readonly gateway: PaymentGateway) {}

  charge(input: CreateCharge): Promise<GatewayCharge> {
    return this.gateway.createCharge(input);
  }

  status(chargeId: string): Promise<GatewayCharge> {
    return this.gateway.getCharge(chargeId);
  }
}

const REASONS: Partial<Record<GatewayErrorCode, string>> = {
  [GatewayErrorCode.CARD_DECLINED]: 'The card was declined by the bank',
  [GatewayErrorCode.INSUFFICIENT_FUNDS]: 'Insufficient funds',
  [GatewayErrorCode.EXPIRED_CARD]: 'The card has expired',
  [GatewayErrorCode.INCORRECT_CVC]: "The card's security code was refused",
  [GatewayErrorCode.INCORRECT_NUMBER]: 'The card number was refused',
  [GatewayErrorCode.AUTHENTICATION_REQUIRED]: 'The bank asks the customer to authenticate this payment themselves',
  [GatewayErrorCode.BANK_ACCOUNT_REJECTED]: 'The bank refused the debit',
  [GatewayErrorCode.NOT_FOUND]: 'The payment method can no longer be charged',
};

/** A refusal in words a customer and the office can act on: "Insufficient funds (Your card has insufficient funds.)". */
export function failureReason(code: GatewayErrorCode, gatewayMessage: string): string {
  const words = REASONS[code];
  if (!words) return gatewayMessage;
  return gatewayMessage && gatewayMessage !== words ? `${words} (${gatewayMessage})` : words;
}
