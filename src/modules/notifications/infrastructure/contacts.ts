import { parsePhoneNumberWithError, type CountryCode } from 'libphonenumber-js/max';
import { NotificationError, NotificationErrorReason } from '../notification.error.js';

const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]{2,}$/;

export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (!EMAIL.test(email)) {
    throw new NotificationError(NotificationErrorReason.INVALID_EMAIL, `"${raw}" is not a valid email address`, 'email');
  }
  return email;
}

/**
 * Validates a phone number and returns it in E.164 (+15145550123). Numbers without a country prefix are read as
 * numbers of `defaultCountry`. Uses libphonenumber's full metadata, so a number that cannot exist is refused.
 */
export function normalizePhone(raw: string, defaultCountry: string = 'US'): string {
  try {
    const phone = parsePhoneNumberWithError(raw.trim(), defaultCountry as CountryCode);
    if (!phone.isValid()) throw new Error('not a valid number');
    return phone.number;
  } catch {
    throw new NotificationError(
      NotificationErrorReason.INVALID_PHONE,
      `"${raw}" is not a valid phone number (include the country code, e.g. +1 514 555 0123)`,
      'phone',
    );
  }
}
