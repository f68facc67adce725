import { Body, Controller, Get, Inject, Injectable, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { Public } from '#libs/auth/index.js';
import { AppConfig } from '../../../config/index.js';
import { REDIS } from '../../../infra/redis.js';
import { setHostedPageHeaders } from '../../../platform/hosted-pages.js';
import { LinkRateLimiter } from '../../../platform/link-rate-limiter.js';
import { AgreementSignupPages, type SignupPage } from '../application/signup.hosted-page.js';
import {
  renderSignupClosed,
  renderSignupDone,
  renderSignupForm,
  renderSignupLeft,
  renderSignupRefused,
  renderSignupTooMany,
  renderSignupUnavailable,
  renderSignupUnknown,
} from './agreement-signup.pages.js';

/** Unknown sign-up links (/a/…) per client address: see LinkRateLimiter. */
@Injectable()
export class SignupLinkRateLimiter extends LinkRateLimiter {
  constructor(@Inject(REDIS) redis: Redis, config: AppConfig) {
    super(redis, config, 'agreement-link');
  }
}

/**
 * The hosted sign-up page behind an agreement's link. Public: the link's token is the only key. Routes:
 * `GET|POST /a/:token`, `GET /a/session/complete?session=…` (back from the gateway, method saved, agreement signed),
 * `GET /a/session/left?link=…` (back without saving).
 */
@Controller('a')
export class AgreementSignupController {
  constructor(
    private readonly pages: AgreementSignupPages,
    private readonly limiter: SignupLinkRateLimiter,
  ) {}

  @Public()
  @Get('session/complete')
  async complete(@Query('session') session: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.guarded(req, res, () => this.pages.complete(typeof session === 'string' ? session : ''));
  }

  @Public()
  @Get('session/left')
  async left(@Query('link') linkId: unknown, @Res() res: Response): Promise<void> {
    send(res, await this.pages.left(typeof linkId === 'string' ? linkId : ''));
  }

  @Public()
  @Get(':token')
  async open(@Param('token') token: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.guarded(req, res, () => this.pages.open(token));
  }

  @Public()
  @Post(':token')
  async submit(@Param('token') token: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const posted = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    await this.guarded(req, res, () =>
      this.pages.submit(token, posted, { ipAddress: req.ip ?? 'unknown', userAgent: String(req.headers['user-agent'] ?? 'unknown') }),
    );
  }

  private async guarded(req: Request, res: Response, load: () => Promise<SignupPage>): Promise<void> {
    const ip = req.ip ?? 'unknown';
    const wait = await this.limiter.retryAfter(ip);
    if (wait > 0) {
      setHostedPageHeaders(res);
      res.setHeader('Retry-After', String(wait));
      res.status(429).type('html').send(renderSignupTooMany(wait));
      return;
    }
    const page = await load();
    if (page.type === 'unknown') await this.limiter.recordMiss(ip);
    send(res, page);
  }
}

function send(res: Response, page: SignupPage): void {
  setHostedPageHeaders(res);
  if (page.type === 'redirect') {
    res.redirect(303, page.url);
    return;
  }
  res.status(page.status).type('html');
  switch (page.type) {
    case 'form':
      res.send(renderSignupForm(page));
      break;
    case 'closed':
      res.send(renderSignupClosed(page));
      break;
    case 'unknown':
      res.send(renderSignupUnknown());
      break;
    case 'left':
      res.send(renderSignupLeft(page));
      break;
    case 'done':
      res.send(renderSignupDone(page));
      break;
    case 'refused':
      res.send(renderSignupRefused(page));
      break;
    case 'unavailable':
      res.send(renderSignupUnavailable());
      break;
  }
}
