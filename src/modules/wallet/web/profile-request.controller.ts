import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '#libs/auth/index.js';
import { setHostedPageHeaders } from '../../../platform/hosted-pages.js';
import { type HostedPage, ProfileRequestPages } from '../application/profile-requests.hosted-page.js';
import { ProfileLinkRateLimiter } from '../application/profile-requests.rate-limiter.js';
import {
  renderClosed,
  renderDone,
  renderForm,
  renderLeft,
  renderRefused,
  renderTooMany,
  renderUnavailable,
  renderUnknown,
} from './profile-request.pages.js';

/**
 * The hosted page behind a payment profile request's secure link. Public: the link's token is the only key. Routes:
 * `GET|POST /p/:token` (the form), `GET /p/session/complete?session=…` (back from the gateway's page, method saved),
 * `GET /p/session/left?request=…` (back from the gateway's page without saving).
 */
@Controller('p')
export class ProfileRequestController {
  constructor(
    private readonly pages: ProfileRequestPages,
    private readonly limiter: ProfileLinkRateLimiter,
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
    const posted = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    await this.guarded(req, res, () =>
      this.pages.submit(token, posted, { ipAddress: req.ip ?? 'unknown', userAgent: String(req.headers['user-agent'] ?? 'unknown') }),
    );
  }

  /** Unknown links count against the client's address; past the limit, nothing is looked up for a while. */
  private async guarded(req: Request, res: Response, load: () => Promise<HostedPage>): Promise<void> {
    const ip = req.ip ?? 'unknown';
    const wait = await this.limiter.retryAfter(ip);
    if (wait > 0) {
      headers(res);
      res.setHeader('Retry-After', String(wait));
      res.status(429).type('html').send(renderTooMany(wait));
      return;
    }
    const page = await load();
    if (page.type === 'unknown') await this.limiter.recordMiss(ip);
    send(res, page);
  }
}

const headers = setHostedPageHeaders;

function send(res: Response, page: HostedPage): void {
  headers(res);
  if (page.type === 'redirect') {
    res.redirect(303, page.url);
    return;
  }
  res.status(page.status).type('html');
  switch (page.type) {
    case 'form':
      res.send(renderForm(page));
      break;
    case 'closed':
      res.send(renderClosed(page));
      break;
    case 'unknown':
      res.send(renderUnknown());
      break;
    case 'left':
      res.send(renderLeft(page));
      break;
    case 'done':
      res.send(renderDone(page));
      break;
    case 'refused':
      res.send(renderRefused(page));
      break;
    case 'unavailable':
      res.send(renderUnavailable());
      break;
  }
}
