import { type ArgumentMetadata, BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

function flatten(errors: ValidationError[], prefix = ''): FieldProblem[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * Text PostgreSQL cannot store, found anywhere in an input (nested objects and arrays included): a NUL character
 * (`text` refuses it: "invalid message format") or a lone UTF-16 surrogate (`jsonb` refuses it, `text` silently turns
 * it into U+FFFD). No person types either; refusing them here keeps them from ever reaching a query as a 500.
 */
export function unstorableTextProblems(value: unknown, field: string, depth = 0): FieldProblem[] {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return [{ field, message: 'must not contain a NUL character' }];
    if (!value.isWellFormed()) return [{ field, message: 'must be valid Unicode text (it has a lone surrogate)' }];
    return [];
  }
  if (!value || typeof value !== 'object' || depth > 20) return [];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return entries.flatMap(([k, v]) => unstorableTextProblems(v, field ? `${field}.${k}` : k, depth + 1));
}

/**
 * class-validator on every input, after the unstorable-text check above. Unknown properties are refused; the error
 * is BAD_USER_INPUT with each field named, and nothing has been changed because validation runs before the resolver.
 * The unstorable-text refusal is a BadRequestException carrying the same body, so it is a 400 on REST routes (hosted
 * pages, the sandbox gateway) too (a pipe cannot tell GraphQL args from a REST body: both arrive as 'body');
 * GraphQL's formatError keeps its reason and fields (toApplicationError).
 */
class InputValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      const fields = unstorableTextProblems(value, metadata.data ?? '');
      if (fields.length) {
        const message = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
        throw new BadRequestException({ code: ErrorCode.BAD_USER_INPUT, reason: 'VALIDATION_FAILED', message, fields });
      }
    }
    return super.transform(value, metadata);
  }
}

export function inputValidationPipe(): ValidationPipe {
  return new InputValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      return new ApplicationError(
        ErrorCode.BAD_USER_INPUT,
        fields.map((f) => `${f.field}: ${f.message}`).join('; '),
        'VALIDATION_FAILED',
        fields,
      );
    },
  });
}
