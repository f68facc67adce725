import type { ArgumentsHost } from '@nestjs/common';
import { ConnectionException } from '@mikro-orm/core';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';
import { ApplicationErrorFilter } from './http-errors.filter.js';

/** What the client of a REST route receives: status, headers and JSON body. */
function answer(error: unknown): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const out = { status: 0, headers: {} as Record<string, string>, body: {} as Record<string, unknown> };
  const res = {
    headersSent: false,
    setHeader(name: string, value: string) {
      out.headers[name.toLowerCase()] = value;
      return res;
    },
    status(code: number) {
      out.status = code;
      return res;
    },
    json(body: Record<string, unknown>) {
      out.body = body;
      return res;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  new ApplicationErrorFilter().catch(error, host);
  return out;
}

describe('REST error filter', () => {
  it('answers 503 SERVICE_UNAVAILABLE / DATABASE_UNAVAILABLE (retryable) while PostgreSQL is down', () => {
    const outages = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      new ConnectionException(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
      Object.assign(new Error('query failed'), { cause: Object.assign(new Error('x'), { code: '08006' }) }),
    ];
    for (const error of outages) {
      const { status, headers, body } = answer(error);
      expect(status).toBe(503);
      expect(headers['cache-control']).toBe('no-store');
      expect(body).toEqual({
        code: ErrorCode.SERVICE_UNAVAILABLE,
        reason: 'DATABASE_UNAVAILABLE',
        message: 'The database is not answering right now; try again in a moment',
      });
    }
  });

  it('keeps bugs internal (500, no detail) and application errors with their own status', () => {
    const bug = answer(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(bug.status).toBe(500);
    expect(bug.body).toEqual({ code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Something went wrong; try again later' });
    expect(answer(Object.assign(new Error('duplicate key value'), { code: '23505' })).status).toBe(500);
    const notFound = answer(new ApplicationError(ErrorCode.NOT_FOUND, 'No such receipt', 'RECEIPT_NOT_FOUND'));
    expect(notFound.status).toBe(404);
    expect(notFound.body).toMatchObject({ code: ErrorCode.NOT_FOUND, reason: 'RECEIPT_NOT_FOUND' });
  });
});
