import { Controller, Headers, Logger, Post, type RawBodyRequest, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '#libs/auth/index.js';
import { WebhookSignatureError } from '../../../infra/payment-gateway/index.js';
import { WebhookReceiver } from '../application/webhook-receiver.js';

/**
 * `POST /webhooks/payments`: the gateway's webhooks (Stripe's, or the sandbox's simulated ones — same format).
 * Public: the signature over the raw body is the authentication. 200 when handled, ignored or already handled;
 * 400 for a bad or stale signature (never handled, nothing stored); 409 while another copy of the same event is being
 * handled; 500 when handling failed, so the gateway delivers it again. Bodies are short JSON, never a stack trace.
 */
@Controller('webhooks')
export class WebhooksController {
  private readonly logger = new Logger(WebhooksController.name);

  constructor(private readonly receiver: WebhookReceiver) {}

  @Public()
  @Post('payments')
  async payments(@Req() req: RawBodyRequest<Request>, @Headers('stripe-signature') signature: string | undefined, @Res() res: Response): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    try {
      const reply = await this.receiver.receive(req.rawBody, signature);
      res.status(reply.status).json(reply.body);
    } catch (error) {
      if (error instanceof WebhookSignatureError) {
        this.logger.warn(`webhook refused: ${error.message}`);
        res.status(400).json({ received: false, error: 'invalid_signature', message: error.message });
        return;
      }
      res.status(500).json({ received: false, error: 'handling_failed', message: 'The event could not be handled now; deliver it again later' });
    }
  }
}
