import { registerDecorator, type ValidationOptions } from 'class-validator';
import { normalizeEmail } from '../../notifications/index.js';
import { isCalendarDate, normalizeTag, TAG_PATTERN } from '../domain/customer-details.js';

/**
 * Edge checks that agree with the domain's rules (customer-details.ts), so that one answer names every bad field:
 * class-validator's own IsEmail refuses the surrounding spaces the domain trims, and knows nothing of tags.
 */
function rule(name: string, validate: (value: unknown) => boolean, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({ name, target: target.constructor, propertyName: String(propertyName), options, validator: { validate } });
}

/** Not empty once trimmed. */
export const IsNotBlank = (options?: ValidationOptions) =>
  rule('isNotBlank', (v) => typeof v === 'string' && v.trim() !== '', options);

/** An email address as the notifications module reads it (trimmed, any case). Null and '' mean none. */
export const IsEmailAddress = (options?: ValidationOptions) =>
  rule(
    'isEmailAddress',
    (v) => {
      if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) return true;
      if (typeof v !== 'string') return false;
      try {
        normalizeEmail(v);
        return true;
      } catch {
        return false;
      }
    },
    options,
  );

/** A tag as it will be stored: not blank, letters, digits, spaces and - _ . / & + # : only. */
export const IsTag = (options?: ValidationOptions) =>
  rule('isTag', (v) => typeof v === 'string' && TAG_PATTERN.test(normalizeTag(v)), options);

/** A date written YYYY-MM-DD that exists on the calendar. Null and '' mean none. */
export const IsCalendarDate = (options?: ValidationOptions) =>
  rule('isCalendarDate', (v) => v === null || v === undefined || v === '' || (typeof v === 'string' && isCalendarDate(v.trim())), options);
