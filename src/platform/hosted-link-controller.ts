import { Body, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '#libs/auth/index.js';
import { isDatabaseUnavailable } from '../infra/database/unavailable.js';
import { setHostedPageHeaders } from './hosted-pages.js';
import type { LinkRateLimiter } from './link-rate-limiter.js';

/*
 * The HTTP side every hosted page shares (the customer's side of a secure link: payment profile requests /p, agreement
 * sign-up /a, payment requests /pay): the four public routes, the unknown-link rate limit, the no-store headers, the
 * 303 to the gateway's page, and each page with its own status. What a page says and when it is shown is the
 * module's (its `…Pages` service and its renderers); this only puts it on the wire.
 */

/** Where a hosted page's submission came from (kept with the customer's consent or acceptance). */
export interface ClientInfo {
  ipAddress: string;
  userAgent: string;
}

/** What a hosted page's service answers: a redirect (303, to the gateway's page or back to the link) or a page. */
export type HostedLinkPage = { type: 'redirect'; url: string } | { type: string; status: number };

/** One HTML renderer per kind of page (every kind but the redirect). */
export type HostedPageRenderers<P extends HostedLinkPage> = {
  [K in Exclude<P['type'], 'redirect'>]: (page: Extract<P, { type: K }>) => string;
};

/** The module's side of a hosted link: what each route shows. */
export interface HostedLinkPages<P extends HostedLinkPage> {
  /** GET /<prefix>/:token */
  open(token: string): Promise<P>;
  /** POST /<prefix>/:token (the form, urlencoded) */
  submit(token: string, posted: Record<string, unknown>, client: ClientInfo): Promise<P>;
  /** GET /<prefix>/session/complete?session=… — back from the gateway's page */
  complete(sessionId: string): Promise<P>;
  /** GET /<prefix>/session/left?<leftParam>=… — back from the gateway's page without finishing */
  left(id: string): Promise<P>;
}

export interface HostedLinkView<P extends HostedLinkPage> {
  render: HostedPageRenderers<P>;
  /** The 429 page shown while the client's address is over the unknown-link limit. */
  tooMany(retryAfterSeconds: number): string;
  /**
   * The 503 page shown when the database does not answer before the page's service could (looking the link up):
   * the same page the service shows for an outage later on.
   */
  unavailable(): string;
}

/** Puts a page on the wire: the hosted-page headers always, then a 303 or the page's HTML with its status. */
export function sendHostedPage<P extends HostedLinkPage>(res: Response, page: P, render: HostedPageRenderers<P>): void {
  setHostedPageHeaders(res);
  if (page.type === 'redirect') {
    res.redirect(303, (page as { url: string }).url);
    return;
  }
  const { status, type } = page as { type: Exclude<P['type'], 'redirect'>; status: number };
  res.status(status).type('html').send((render[type] as (p: P) => string)(page));
}

/**
 * The base of a hosted link's controller (`@Controller('<prefix>')` on the subclass): public routes, the link's token
 * as the only key. `leftParam` names the query parameter of the gateway's cancel URL (`/session/left?<leftParam>=…`).
 * Unknown links count against the client's address (LinkRateLimiter): past the limit, nothing is looked up for a
 * while and the 429 page says how long (Retry-After). The gateway's "left" return is not limited: it looks nothing
 * up by token.
 */
export function HostedLinkController<P extends HostedLinkPage>(leftParam: string) {
  abstract class HostedLinkControllerBase {
    protected constructor(
      private readonly pages: HostedLinkPages<P>,
      private readonly limiter: LinkRateLimiter,
      private readonly view: HostedLinkView<P>,
    ) {}

    @Public()
    @Get('session/complete')
    async complete(@Query('session') session: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
      await this.guarded(req, res, () => this.pages.complete(typeof session === 'string' ? session : ''));
    }

    @Public()
    @Get('session/left')
    async left(@Query(leftParam) id: unknown, @Res() res: Response): Promise<void> {
      await this.answer(res, () => this.pages.left(typeof id === 'string' ? id : ''));
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

    private async guarded(req: Request, res: Response, load: () => Promise<P>): Promise<void> {
      const ip = req.ip ?? 'unknown';
      const wait = await this.limiter.retryAfter(ip);
      if (wait > 0) {
        setHostedPageHeaders(res);
        res.setHeader('Retry-After', String(wait));
        res.status(429).type('html').send(this.view.tooMany(wait));
        return;
      }
      const page = await this.answer(res, load);
      if (page?.type === 'unknown') await this.limiter.recordMiss(ip);
    }

    /** Sends the page `load` answers; a database outage on the way is the 503 page, not an error body. */
    private async answer(res: Response, load: () => Promise<P>): Promise<P | undefined> {
      let page: P;
      try {
        page = await load();
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        setHostedPageHeaders(res);
        res.status(503).type('html').send(this.view.unavailable());
        return undefined;
      }
      sendHostedPage(res, page, this.view.render);
      return page;
    }
  }
  return HostedLinkControllerBase;
}
