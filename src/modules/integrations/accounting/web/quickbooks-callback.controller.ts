import { Controller, Get, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '#libs/auth/index.js';
import { escapeHtml, setHostedPageHeaders } from '../../../../platform/hosted-pages.js';
import { QuickBooksConnections } from '../application/quickbooks-connection.js';

/**
 * Where Intuit sends the browser back after the user authorized (or refused) the connection:
 * `GET /integrations/quickbooks/callback?code&state&realmId`. Public: the signed, expiring `state` says which
 * organization asked, and the code only works with our client secret.
 */
@Controller('integrations/quickbooks')
export class QuickBooksCallbackController {
  constructor(private readonly connections: QuickBooksConnections) {}

  @Public()
  @Get('callback')
  async callback(
    @Query('code') code: unknown,
    @Query('state') state: unknown,
    @Query('realmId') realmId: unknown,
    @Query('error') error: unknown,
    @Res() res: Response,
  ): Promise<void> {
    const text = (v: unknown) => (typeof v === 'string' && v.length <= 2048 ? v : undefined);
    const result = await this.connections.complete({ code: text(code), state: text(state), realmId: text(realmId), error: text(error) });
    setHostedPageHeaders(res);
    res
      .status(result.ok ? 200 : 400)
      .type('html')
      .send(
        page(
          result.ok ? 'QuickBooks is connected' : 'QuickBooks was not connected',
          result.ok ? 'Settle will now keep your QuickBooks company up to date. You can close this window.' : result.reason,
        ),
      );
  }
}

function page(title: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`;
}
