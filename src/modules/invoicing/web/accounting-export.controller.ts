import { Controller, Get, Param, Query, Res, UseFilters } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import type { Response } from 'express';
import { Role, Roles } from '#libs/auth/index.js';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';
import { ApplicationErrorFilter } from '../../../infra/http-errors.filter.js';
import { AccountingExport, EXPORT_KINDS, exportRange, type ExportKind } from '../application/accounting-export.js';

/**
 * `GET /invoicing/export/<invoices|payments|credits|allocations>.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`, with the staff
 * access token as `Authorization: Bearer …` (OWNER, ADMIN, PAYMENT_MANAGER). Streams the CSV page by page.
 */
@Controller('invoicing/export')
@UseFilters(ApplicationErrorFilter)
export class AccountingExportController {
  constructor(
    private readonly em: EntityManager,
    private readonly exporter: AccountingExport,
  ) {}

  @Roles(Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER)
  @Get(':file')
  async export(@Param('file') file: string, @Query('from') from: unknown, @Query('to') to: unknown, @Res() res: Response): Promise<void> {
    const kind = /^([a-z]+)\.csv$/.exec(file)?.[1] as ExportKind | undefined;
    if (!kind || !EXPORT_KINDS.includes(kind)) {
      throw new ApplicationError(ErrorCode.NOT_FOUND, `No such export: ${file}; there are ${EXPORT_KINDS.map((k) => `${k}.csv`).join(', ')}`, 'NOT_FOUND');
    }
    const range = exportRange(from, to);
    res.status(200);
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${kind}-${range.from}-to-${range.to}.csv"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    await this.exporter.export(this.em, kind, range, (chunk) => write(res, chunk));
    res.end();
  }
}

/** Writes a chunk and waits while the client's buffer is full; fails when the client went away. */
function write(res: Response, chunk: string): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('the client closed the connection'));
  return new Promise((resolve, reject) => {
    if (res.write(chunk)) {
      resolve();
      return;
    }
    const done = (error?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the client closed the connection'));
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
