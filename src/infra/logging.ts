import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

/** Paths pino replaces with [Redacted]: credentials, tokens and anything card-like that might be logged by mistake. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordHash',
  '*.accessToken',
  '*.refreshToken',
  '*.token',
  '*.cardNumber',
  '*.number',
  '*.cvc',
  '*.cvv',
  '*.accountNumber',
  // Stripe-shaped names, as the sandbox's tokenization endpoint and hosted page receive them.
  '*.card',
  '*.account_number',
  '*.card_number',
];

/**
 * A secure link's token in a path (`/p/<token>` payment profile requests, `/a/<token>` agreement sign-up, `/pay/<token>`
 * payment requests) works like a password: never logged.
 */
export function redactLinkTokens(url: string): string {
  return typeof url === 'string' ? url.replace(/(\/(?:p|a|pay)\/)[A-Za-z0-9_-]{32,}/g, '$1[Redacted]') : url;
}

export function loggerParams(level: string): Params {
  return {
    pinoHttp: {
      level,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      // Bodies (GraphQL variables included) are never logged: they may hold passwords or payment details.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactLinkTokens(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' || req.url === '/ready' },
    },
  };
}
