import { Controller, Get, Param, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, Public } from '#libs/auth/index.js';
import { isUuid } from '#libs/ddd/index.js';
import { Receipt } from '../domain/receipt.entity.js';
import { type ReceiptFile, receiptNotFound, Receipts } from '../application/receipts.use-case.js';
import { ApplicationErrorFilter } from '../../../infra/http-errors.filter.js';
import { renderReceiptLinkUnknown } from './receipt-pages.js';

/**
 * Receipt PDFs. `GET /receipts/:id.pdf` for staff (Bearer access token, any role; a receipt of another organization
 * is not found), and `GET /r/:token`, the customer's link from the receipt email (public: the token is the key).
 */
@Controller()
@UseFilters(ApplicationErrorFilter)
export class ReceiptsController {
  constructor(
    private readonly em: EntityManager,
    private readonly receipts: Receipts,
  ) {}

  @Authenticated()
  @Get('receipts/:id.pdf')
  async staffPdf(@Param('id') id: string, @Res() res: Response): Promise<void> {
    // Scoped to the signed-in user's organization by the access guard.
    const receipt = isUuid(id) ? await this.em.findOne(Receipt, { id }) : null;
    if (!receipt) throw receiptNotFound(id);
    send(res, await this.receipts.pdf(this.em, receipt), 'private, no-store');
  }

  @Public()
  @Get('r/:token')
  async customerPdf(@Param('token') token: string, @Res() res: Response): Promise<void> {
    const file = await this.receipts.pdfForLink(token);
    // The token is in the URL: keep it out of caches and Referer headers, and the page out of search engines.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    if (!file) {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
      res.status(404).type('html').send(renderReceiptLinkUnknown());
      return;
    }
    send(res, file, 'no-store');
  }
}

function send(res: Response, file: ReceiptFile, cacheControl: string): void {
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Disposition', `inline; filename="${file.filename}"`);
  res.status(200).type('application/pdf').send(file.pdf);
}
