import { HttpException, HttpStatus, Logger } from '@nestjs/common';
import { NotFoundError, UniqueConstraintViolationException } from '@mikro-orm/core';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';
import { MoneyError } from '#libs/money/index.js';
import { databaseUnavailableError, isDatabaseUnavailable } from '../infra/database/unavailable.js';

export { isDatabaseUnavailable };

const logger = new Logger('GraphQL');

/** Maps any error a resolver throws onto one with a stable code. Unknown errors become INTERNAL_SERVER_ERROR. */
export function toApplicationError(error: unknown): ApplicationError | undefined {
  if (error instanceof ApplicationError) return error;
  if (error instanceof MoneyError) return new ApplicationError(ErrorCode.BAD_USER_INPUT, error.message, 'INVALID_MONEY');
  if (error instanceof NotFoundError) return new ApplicationError(ErrorCode.NOT_FOUND, 'Not found', 'NOT_FOUND');
  if (error instanceof UniqueConstraintViolationException) {
    return new ApplicationError(ErrorCode.CONFLICT, 'That record already exists', 'ALREADY_EXISTS');
  }
  if (isDatabaseUnavailable(error)) return databaseUnavailableError();
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code =
      status === HttpStatus.UNAUTHORIZED
        ? ErrorCode.UNAUTHENTICATED
        : status === HttpStatus.FORBIDDEN
          ? ErrorCode.FORBIDDEN
          : status === HttpStatus.NOT_FOUND
            ? ErrorCode.NOT_FOUND
            : status === HttpStatus.CONFLICT
              ? ErrorCode.CONFLICT
              : status === HttpStatus.TOO_MANY_REQUESTS
                ? ErrorCode.RATE_LIMITED
                : status < 500
                  ? ErrorCode.BAD_USER_INPUT
                  : undefined;
    // A refusal that carries its own reason and fields (the input validation pipe's) keeps them.
    const body = error.getResponse() as { reason?: unknown; fields?: unknown };
    const reason = typeof body?.reason === 'string' ? body.reason : undefined;
    const fields = Array.isArray(body?.fields) ? (body.fields as ApplicationError['fields']) : [];
    return code ? new ApplicationError(code, error.message, reason, fields) : undefined;
  }
  return undefined;
}

/**
 * Apollo's formatError: keeps GraphQL's own errors (parse, validation, variable coercion) as they are, gives
 * application errors their code, reason and fields, and hides everything else. Never a stack trace.
 */
export function formatError(production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const app = toApplicationError(original);
    if (app) {
      return {
        message: app.message,
        path: formatted.path,
        locations: formatted.locations,
        extensions: {
          code: app.code,
          ...(app.reason ? { reason: app.reason } : {}),
          ...(app.fields.length ? { fields: app.fields } : {}),
          ...(app.extra ?? {}),
        },
      };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError || (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR')) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      // Apollo re-codes every validation error GRAPHQL_VALIDATION_FAILED; a rule's own code (QUERY_TOO_DEEP) wins.
      const ruleCode = original instanceof GraphQLError && original.originalError instanceof GraphQLError
        ? original.originalError.extensions.code
        : undefined;
      if (code === 'GRAPHQL_VALIDATION_FAILED' && typeof ruleCode === 'string') extensions.code = ruleCode;
      return { ...formatted, extensions };
    }
    logger.error(original instanceof Error ? (original.stack ?? original.message) : String(original));
    return {
      message: production ? 'Internal server error' : `Internal server error: ${(original as Error)?.message ?? original}`,
      path: formatted.path,
      locations: formatted.locations,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
