import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
};

/**
 * The receipt download routes answer errors as JSON `{ error: { code, message } }` with the HTTP status of the code
 * (401 without a valid access token, 404 for a receipt of another organization): never a stack trace.
 */
@Catch()
export class ReceiptHttpErrors implements ExceptionFilter {
  private readonly logger = new Logger(ReceiptHttpErrors.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let status = 500;
    let code: string = ErrorCode.INTERNAL_SERVER_ERROR;
    let message = 'Something went wrong; try again later';
    if (error instanceof ApplicationError) {
      status = STATUS[error.code] ?? 500;
      code = error.code;
      message = error.message;
    } else if (error instanceof HttpException && error.getStatus() < 500) {
      status = error.getStatus();
      code = status === 404 ? ErrorCode.NOT_FOUND : ErrorCode.BAD_USER_INPUT;
      message = error.message;
    }
    if (status >= 500) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).json({ error: { code, message } });
  }
}
