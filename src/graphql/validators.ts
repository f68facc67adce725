import { registerDecorator, type ValidationOptions } from 'class-validator';

/** A locale Intl knows (BCP 47), e.g. en-US or fr-CA. */
export function IsLocale(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isLocale',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          try {
            return Intl.getCanonicalLocales(value).length === 1 && Intl.NumberFormat.supportedLocalesOf(value).length === 1;
          } catch {
            return false;
          }
        },
      },
    });
}

/** A bigint (MinorUnits) within [min, max]; class-validator's own @Min/@Max only compare numbers. */
export function IsBigIntInRange(min: bigint, max: bigint, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isBigIntInRange',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate(value: unknown) {
          return typeof value === 'bigint' && value >= min && value <= max;
        },
      },
    });
}
