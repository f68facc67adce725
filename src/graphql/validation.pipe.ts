import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

function flatten(errors: ValidationError[], prefix = ''): FieldProblem[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * class-validator on every input. Unknown properties are refused; the error is BAD_USER_INPUT with each field
 * named, and nothing has been changed because validation runs before the resolver.
 */
export function inputValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
