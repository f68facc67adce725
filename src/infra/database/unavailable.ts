import { ConnectionException } from '@mikro-orm/core';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

/** PostgreSQL's connection-level failures (restarting, shutting down, unreachable): retryable, not a bug. */
const DB_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);
const DB_UNAVAILABLE_MESSAGE =
  /Connection terminated|connection error|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|ECONNREFUSED/i;

/**
 * Whether an error (or one of its causes) says the database is not answering: MikroORM's ConnectionException, the
 * driver's connection error codes (SQLSTATE class 08, 57P01-03, socket errors) or its messages. The one
 * classification GraphQL's error formatting and the REST error filter share.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ConnectionException) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (DB_UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && DB_UNAVAILABLE_MESSAGE.test(message)) return true;
  }
  return false;
}

/** What a client is told during a database outage: SERVICE_UNAVAILABLE / DATABASE_UNAVAILABLE, worth retrying. */
export function databaseUnavailableError(): ApplicationError {
  return new ApplicationError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is not answering right now; try again in a moment', 'DATABASE_UNAVAILABLE');
}
