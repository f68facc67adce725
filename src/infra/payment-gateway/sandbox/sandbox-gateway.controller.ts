import { Body, Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '#libs/auth/index.js';
import { renderAuthenticate, renderCheckoutForm, renderClosed } from './sandbox-checkout.page.js';
import { type CheckoutForm, type CheckoutOutcome, SandboxCheckout } from './sandbox-checkout.service.js';
import { SandboxGateway, type TokenizeParams } from './sandbox-gateway.js';

type RequestBody = Record<string, unknown>;

/**
 * The sandbox gateway's HTTP face, mounted only when the sandbox is the gateway (and the process serves the API):
 * a tokenization endpoint shaped like Stripe's `POST /v1/payment_methods`, and the hosted setup page. Public like
 * Stripe's own pages: a checkout session id (cs_test_ + 40 random characters) is the only key to its page.
 */
@Controller('sandbox-gateway')
export class SandboxGatewayController {
  constructor(
    private readonly sandbox: SandboxGateway,
    private readonly checkout: SandboxCheckout,
  ) {}

  /** JSON or form-encoded (`card[number]=…`), as Stripe takes it. Answers a payment method or `{ error: {…} }`. */
  @Public()
  @Post('v1/payment_methods')
  async createPaymentMethod(@Body() body: RequestBody, @Res() res: Response): Promise<void> {
    const result = await this.sandbox.tokenize(tokenizeParams(body ?? {}));
    res.setHeader('Cache-Control', 'no-store');
    if ('error' in result) {
      const { status, ...error } = result.error;
      res.status(status).json({ error });
      return;
    }
    res.status(200).json(result.paymentMethod);
  }

  @Public()
  @Get('checkout/:sessionId')
  async page(@Param('sessionId') sessionId: string, @Res() res: Response): Promise<void> {
    send(res, await this.checkout.view(sessionId));
  }

  @Public()
  @Post('checkout/:sessionId')
  async submit(@Param('sessionId') sessionId: string, @Body() body: RequestBody, @Req() req: Request, @Res() res: Response): Promise<void> {
    const form = Object.fromEntries(Object.entries(body ?? {}).filter(([, v]) => typeof v === 'string')) as CheckoutForm;
    send(res, await this.checkout.submit(sessionId, form, { ipAddress: req.ip ?? 'unknown', userAgent: String(req.headers['user-agent'] ?? 'unknown') }));
  }

  @Public()
  @Post('checkout/:sessionId/authenticate')
  async authenticate(@Param('sessionId') sessionId: string, @Body() body: RequestBody, @Res() res: Response): Promise<void> {
    send(res, await this.checkout.authenticate(sessionId, body?.action === 'complete'));
  }
}

function send(res: Response, outcome: CheckoutOutcome): void {
  // The session id is in the URL: keep it out of Referer headers, caches and frames.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
  if (outcome.type === 'redirect') {
    res.redirect(303, outcome.url);
    return;
  }
  res.type('html');
  if (outcome.type === 'form') res.status(outcome.status).send(renderCheckoutForm(outcome));
  else if (outcome.type === 'authenticate') res.status(200).send(renderAuthenticate(outcome));
  else res.status(outcome.status).send(renderClosed(outcome));
}

/** Reads nested (`{ card: { number } }`) or flat (`'card[number]'`) keys, whichever the body parser produced. */
function tokenizeParams(body: RequestBody): TokenizeParams {
  const get = (...path: string[]): string | undefined => {
    let nested: unknown = body;
    for (const p of path) nested = nested && typeof nested === 'object' ? (nested as RequestBody)[p] : undefined;
    const flat = body[path[0] + path.slice(1).map((p) => `[${p}]`).join('')];
    const value = nested ?? flat;
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  };
  return {
    type: get('type') ?? '',
    card: { number: get('card', 'number'), exp_month: get('card', 'exp_month'), exp_year: get('card', 'exp_year'), cvc: get('card', 'cvc') },
    us_bank_account: {
      routing_number: get('us_bank_account', 'routing_number'),
      account_number: get('us_bank_account', 'account_number'),
      account_type: get('us_bank_account', 'account_type'),
      account_holder_type: get('us_bank_account', 'account_holder_type'),
    },
    billing_details: {
      name: get('billing_details', 'name'),
      address: {
        line1: get('billing_details', 'address', 'line1'),
        line2: get('billing_details', 'address', 'line2'),
        city: get('billing_details', 'address', 'city'),
        state: get('billing_details', 'address', 'state'),
        postal_code: get('billing_details', 'address', 'postal_code'),
        country: get('billing_details', 'address', 'country'),
      },
    },
  };
}
