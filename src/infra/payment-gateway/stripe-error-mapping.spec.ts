import { GatewayErrorCode } from './payment-gateway.js';
import { gatewayErrorFromStripe } from './stripe-error-mapping.js';

describe('gatewayErrorFromStripe', () => {
  it('treats a concurrent request under the same idempotency key as an unknown outcome worth retrying, not a failure', () => {
    const e = gatewayErrorFromStripe({
      type: 'idempotency_error',
      statusCode: 409,
      message: 'There is currently another in-progress request using this Idempotent Key.',
    });
    expect(e.code).toBe(GatewayErrorCode.UNAVAILABLE);
    expect(e.retryable).toBe(true);
  });

  it('keeps a key reused with other parameters a refused request (our fault), as the gateway contract says', () => {
    const e = gatewayErrorFromStripe({
      type: 'idempotency_error',
      statusCode: 400,
      message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.',
    });
    expect(e.code).toBe(GatewayErrorCode.INVALID_REQUEST);
    expect(e.retryable).toBe(false);
  });

  it('still maps a real decline to CARD_DECLINED', () => {
    expect(gatewayErrorFromStripe({ type: 'card_error', code: 'card_declined', statusCode: 402 }).code).toBe(
      GatewayErrorCode.CARD_DECLINED,
    );
  });
});
