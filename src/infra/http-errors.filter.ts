import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';
import { databaseUnavailableError, isDatabaseUnavailable } from './database/unavailable.js';

/** The HTTP status of each stable error code, for REST routes (GraphQL answers 200 with `extensions.code`). */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
};

/**
 * Errors of the JSON/file routes (accounting export, receipt PDFs) as `{ code, reason, message, fields }` with the
 * HTTP status of the code — the access guard's UNAUTHENTICATED/FORBIDDEN included — and never a stack trace. A database
 * outage (the same classification as GraphQL's) is 503 SERVICE_UNAVAILABLE / DATABASE_UNAVAILABLE, retryable. Once a
 * streamed body has started, the only honest signal left is to cut the connection: a truncated file must not look
 * complete.
 */
@Catch()
export class ApplicationErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');

  catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      this.logger.error(`response aborted: ${error instanceof Error ? error.message : String(error)}`);
      res.destroy();
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    const app = error instanceof ApplicationError ? error : isDatabaseUnavailable(error) ? databaseUnavailableError() : null;
    if (app) {
      res.status(HTTP_STATUS[app.code] ?? 500).json({
        code: app.code,
        reason: app.reason,
        message: app.message,
        ...(app.fields.length ? { fields: app.fields } : {}),
      });
      return;
    }
    if (error instanceof HttpException && error.getStatus() < 500) {
      const status = error.getStatus();
      res.status(status).json({ code: status === 404 ? ErrorCode.NOT_FOUND : ErrorCode.BAD_USER_INPUT, message: error.message });
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    res.status(500).json({ code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Something went wrong; try again later' });
  }
}
