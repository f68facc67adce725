import { Body, Controller, Get, Inject, Injectable, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { Public } from '#libs/auth/index.js';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { setHostedPageHeaders } from '../../../platform/hosted-pages.js';
import { LinkRateLimiter } from '../../../platform/link-rate-limiter.js';
import { type PayPage, PayPages } from '../application/payment-request-page.js';
import {
  renderPayClosed,
  renderPayForm,
  renderPayLeft,
  renderPayPaid,
  renderPayProcessing,
  renderPayRefused,
  renderPayTooMany,
  renderPayUnavailable,
  renderPayUnknown,
} from './pay-page.pages.js';

/** Unknown pay links (/pay/…) per client address: see LinkRateLimiter. */
@Injectable()
export class PayLinkRateLimiter extends LinkRateLimiter {
  constructor(@Inject(REDIS) redis: Redis, config: AppConfig) {
    super(redis, config, 'pay-link');
  }
}

/**
 * The hosted pay page behind a payment request's link. Public: the link's token is the only key. Routes:
 * `GET|POST /pay/:token`, `GET /pay/session/complete?session=…` (back from the gateway: the card is charged, then a
 * redirect to the link shows the outcome), `GET /pay/session/left?request=…` (back without a card).
 */
@Controller('pay')
export class PayPageController {
  constructor(
    private readonly pages: PayPages,
    private readonly limiter: PayLinkRateLimiter,
  ) {}

  @Public()
  @Get('session/complete')
  async complete(@Query('session') session: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.guarded(req, res, () => this.pages.complete(typeof session === 'string' ? session : ''));
  }

  @Public()
  @Get('session/left')
  async left(@Query('request') requestId: unknown, @Res() res: Response): Promise<void> {
    send(res, await this.pages.left(typeof requestId === 'string' ? requestId : ''));
  }

  @Public()
  @Get(':token')
  async open(@Param('token') token: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.guarded(req, res, () => this.pages.open(token));
  }

  @Public()
  @Post(':token')
  async submit(@Param('token') token: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    // `method` (CARD, BANK_ACCOUNT, INSTALLMENTS) and `accept=yes` (the authorization, for the last two).
    const posted = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    await this.guarded(req, res, () =>
      this.pages.submit(token, posted, { ipAddress: req.ip ?? 'unknown', userAgent: String(req.headers['user-agent'] ?? 'unknown') }),
    );
  }

  private async guarded(req: Request, res: Response, load: () => Promise<PayPage>): Promise<void> {
    const ip = req.ip ?? 'unknown';
    const wait = await this.limiter.retryAfter(ip);
    if (wait > 0) {
      setHostedPageHeaders(res);
      res.setHeader('Retry-After', String(wait));
      res.status(429).type('html').send(renderPayTooMany(wait));
      return;
    }
    const page = await load();
    if (page.type === 'unknown') await this.limiter.recordMiss(ip);
    send(res, page);
  }
}

function send(res: Response, page: PayPage): void {
  setHostedPageHeaders(res);
  if (page.type === 'redirect') {
    res.redirect(303, page.url);
    return;
  }
  res.status(page.status).type('html');
  switch (page.type) {
    case 'form':
      res.send(renderPayForm(page));
      break;
    case 'paid':
      res.send(renderPayPaid(page));
      break;
    case 'processing':
      res.send(renderPayProcessing(page));
      break;
    case 'closed':
      res.send(renderPayClosed(page));
      break;
    case 'unknown':
      res.send(renderPayUnknown());
      break;
    case 'left':
      res.send(renderPayLeft(page));
      break;
    case 'refused':
      res.send(renderPayRefused(page));
      break;
    case 'unavailable':
      res.send(renderPayUnavailable());
      break;
  }
}
