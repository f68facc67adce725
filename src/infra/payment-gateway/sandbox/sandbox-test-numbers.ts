import { createHash } from 'node:crypto';

/**
 * Stripe's published test cards and bank accounts (https://docs.stripe.com/testing), the only numbers the sandbox
 * accepts. The same table drives the sandbox, the hosted sandbox page's help text, the README and the local Stripe
 * test server, so the two gateways agree on what each number does.
 */

/** What happens when the method is saved (a confirmed SetupIntent) and, for `charge_fails`, when it is charged. */
export type SandboxCardOutcome =
  | 'success'
  | 'generic_decline'
  | 'insufficient_funds'
  | 'expired_card'
  | 'incorrect_cvc'
  | 'authentication_required'
  /** Saves fine; every later charge is declined (card_declined / generic_decline). */
  | 'charge_fails';

export interface SandboxTestCard {
  number: string;
  brand: string;
  funding: 'credit' | 'debit';
  /** Stripe's test PaymentMethod token for the same card. */
  token: string;
  outcome: SandboxCardOutcome;
  description: string;
}

export const SANDBOX_TEST_CARDS: readonly SandboxTestCard[] = [
  { number: '4242424242424242', brand: 'visa', funding: 'credit', token: 'pm_card_visa', outcome: 'success', description: 'Visa: saves and charges' },
  { number: '4000056655665556', brand: 'visa', funding: 'debit', token: 'pm_card_visa_debit', outcome: 'success', description: 'Visa debit: saves and charges' },
  { number: '5555555555554444', brand: 'mastercard', funding: 'credit', token: 'pm_card_mastercard', outcome: 'success', description: 'Mastercard: saves and charges' },
  { number: '378282246310005', brand: 'amex', funding: 'credit', token: 'pm_card_amex', outcome: 'success', description: 'American Express (4-digit CVC): saves and charges' },
  { number: '6011111111111117', brand: 'discover', funding: 'credit', token: 'pm_card_discover', outcome: 'success', description: 'Discover: saves and charges' },
  { number: '4000000000000002', brand: 'visa', funding: 'credit', token: 'pm_card_chargeDeclined', outcome: 'generic_decline', description: 'Declined (card_declined / generic_decline)' },
  { number: '4000000000009995', brand: 'visa', funding: 'credit', token: 'pm_card_chargeDeclinedInsufficientFunds', outcome: 'insufficient_funds', description: 'Declined for insufficient funds' },
  { number: '4000000000000069', brand: 'visa', funding: 'credit', token: 'pm_card_chargeDeclinedExpiredCard', outcome: 'expired_card', description: 'Declined as expired (expired_card)' },
  { number: '4000000000000127', brand: 'visa', funding: 'credit', token: 'pm_card_chargeDeclinedIncorrectCvc', outcome: 'incorrect_cvc', description: 'Declined for a wrong CVC (incorrect_cvc)' },
  { number: '4000002760003184', brand: 'visa', funding: 'credit', token: 'pm_card_authenticationRequired', outcome: 'authentication_required', description: 'Needs 3-D Secure: refused when saved for the customer (AUTHENTICATION_REQUIRED); on the hosted page the customer authenticates' },
  { number: '4000000000000341', brand: 'visa', funding: 'credit', token: 'pm_card_chargeCustomerFail', outcome: 'charge_fails', description: 'Saves fine; charges to it are declined later' },
];

/** Stripe's legacy card tokens (`tok_visa`, ...): accepted where a PaymentMethod token is, for the same cards. */
export const SANDBOX_LEGACY_CARD_TOKENS: Readonly<Record<string, string>> = {
  tok_visa: 'pm_card_visa',
  tok_visa_debit: 'pm_card_visa_debit',
  tok_mastercard: 'pm_card_mastercard',
  tok_amex: 'pm_card_amex',
  tok_discover: 'pm_card_discover',
  tok_chargeDeclined: 'pm_card_chargeDeclined',
  tok_chargeDeclinedInsufficientFunds: 'pm_card_chargeDeclinedInsufficientFunds',
  tok_chargeDeclinedExpiredCard: 'pm_card_chargeDeclinedExpiredCard',
  tok_chargeDeclinedIncorrectCvc: 'pm_card_chargeDeclinedIncorrectCvc',
  tok_chargeCustomerFail: 'pm_card_chargeCustomerFail',
};

export type SandboxBankOutcome =
  | 'success'
  | 'account_closed'
  | 'no_account'
  /** Saves fine; debits are processing, then fail for insufficient funds. */
  | 'insufficient_funds'
  /** Saves fine; debits are processing, then returned as not authorized. */
  | 'debit_not_authorized';

export interface SandboxTestBankAccount {
  routingNumber: string;
  accountNumber: string;
  bankName: string;
  token: string;
  outcome: SandboxBankOutcome;
  description: string;
}

export const SANDBOX_TEST_ROUTING_NUMBER = '110000000';

export const SANDBOX_TEST_BANK_ACCOUNTS: readonly SandboxTestBankAccount[] = [
  { routingNumber: '110000000', accountNumber: '000123456789', bankName: 'STRIPE TEST BANK', token: 'pm_usBankAccount_success', outcome: 'success', description: 'Saves and debits' },
  { routingNumber: '110000000', accountNumber: '000111111113', bankName: 'STRIPE TEST BANK', token: 'pm_usBankAccount_accountClosed', outcome: 'account_closed', description: 'Refused: the account is closed' },
  { routingNumber: '110000000', accountNumber: '000111111116', bankName: 'STRIPE TEST BANK', token: 'pm_usBankAccount_noAccount', outcome: 'no_account', description: 'Refused: no such account' },
  { routingNumber: '110000000', accountNumber: '000222222227', bankName: 'STRIPE TEST BANK', token: 'pm_usBankAccount_insufficientFunds', outcome: 'insufficient_funds', description: 'Saves; debits fail later for insufficient funds' },
  { routingNumber: '110000000', accountNumber: '000333333335', bankName: 'STRIPE TEST BANK', token: 'pm_usBankAccount_debitNotAuthorized', outcome: 'debit_not_authorized', description: 'Saves; debits are returned as not authorized' },
];

/** A Stripe-shaped refusal: what the sandbox's HTTP endpoints answer and what becomes a GatewayError. */
export interface StripeLikeError {
  status: number;
  type: 'card_error' | 'invalid_request_error';
  code: string;
  decline_code?: string;
  message: string;
  param?: string;
}

export type TestToken = { kind: 'card'; card: SandboxTestCard } | { kind: 'bank'; account: SandboxTestBankAccount };

/** The test card or bank account behind a test token (`pm_card_visa`, `tok_visa`, `pm_usBankAccount_success`), if any. */
export function testToken(token: string): TestToken | null {
  const pm = SANDBOX_LEGACY_CARD_TOKENS[token] ?? token;
  const card = SANDBOX_TEST_CARDS.find((c) => c.token === pm);
  if (card) return { kind: 'card', card };
  const account = SANDBOX_TEST_BANK_ACCOUNTS.find((a) => a.token === token);
  return account ? { kind: 'bank', account } : null;
}

/**
 * Same number, same fingerprint, and the number cannot be recovered from it (test numbers are public, but the
 * sandbox stores no number at all). `salt` keeps fingerprints of different gateways apart, as Stripe's are per account.
 */
export function fingerprintOf(salt: string, ...parts: string[]): string {
  return createHash('sha256').update(`${salt}:${parts.join(':')}`).digest('base64url').replace(/[-_]/g, '').slice(0, 16);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const cardError = (code: string, message: string, param: string): StripeLikeError => ({ status: 402, type: 'card_error', code, message, param });

export const NOT_A_TEST_CARD_MESSAGE =
  "This card number is not one of Stripe's test numbers. Sandbox mode accepts only Stripe's published test cards, " +
  'such as 4242 4242 4242 4242; a real card is never accepted here.';

export const NOT_A_TEST_BANK_ACCOUNT_MESSAGE =
  "This routing and account number are not one of Stripe's test bank accounts. Sandbox mode accepts only routing " +
  'number 110000000 with a test account number such as 000123456789; a real account is never accepted here.';

export interface CardInput {
  number: string;
  expMonth: string | number;
  expYear: string | number;
  cvc?: string | null;
}

export type ValidCard = { card: SandboxTestCard; expMonth: number; expYear: number; cvcProvided: boolean };

/**
 * Checks card details the way Stripe's tokenization does: a well-formed number (Luhn) that is one of the test cards,
 * then expiry, then CVC. `now` is the injected clock's time: a card is valid through the last day of its month.
 */
export function checkCard(input: CardInput, now: Date, options: { requireCvc: boolean }): ValidCard | StripeLikeError {
  const number = String(input.number ?? '').replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(number)) return cardError('invalid_number', 'Your card number is invalid: enter the 12 to 19 digits on the card.', 'card[number]');
  if (!luhnValid(number)) return cardError('incorrect_number', 'Your card number is incorrect.', 'card[number]');

  const card = SANDBOX_TEST_CARDS.find((c) => c.number === number);
  if (!card) return { status: 400, type: 'invalid_request_error', code: 'not_a_test_number', message: NOT_A_TEST_CARD_MESSAGE, param: 'card[number]' };

  const expiry = checkExpiry(input.expMonth, input.expYear, now);
  if ('status' in expiry) return expiry;

  const cvc = String(input.cvc ?? '').trim();
  if (cvc || options.requireCvc) {
    const digits = card.brand === 'amex' ? 4 : 3;
    if (!new RegExp(`^\\d{${digits}}$`).test(cvc)) {
      return cardError('invalid_cvc', `Your card's security code is invalid: enter the ${digits} digits ${digits === 4 ? 'on the front' : 'on the back'} of the card.`, 'card[cvc]');
    }
  }
  return { card, expMonth: expiry.expMonth, expYear: expiry.expYear, cvcProvided: cvc !== '' };
}

/** Month 1–12 and a year of 2 or 4 digits, not before the current month. */
export function checkExpiry(month: string | number, year: string | number, now: Date): { expMonth: number; expYear: number } | StripeLikeError {
  const m = String(month ?? '').trim();
  const y = String(year ?? '').trim();
  if (!/^\d{1,2}$/.test(m) || Number(m) < 1 || Number(m) > 12) {
    return cardError('invalid_expiry_month', "Your card's expiration month is invalid: enter a month from 1 to 12.", 'card[exp_month]');
  }
  if (!/^(\d{2}|\d{4})$/.test(y)) return cardError('invalid_expiry_year', "Your card's expiration year is invalid: enter it as YYYY or YY.", 'card[exp_year]');
  const expMonth = Number(m);
  const expYear = y.length === 2 ? 2000 + Number(y) : Number(y);
  const thisYear = now.getUTCFullYear();
  if (expYear < thisYear) return cardError('invalid_expiry_year', "Your card's expiration year is in the past.", 'card[exp_year]');
  if (expYear > thisYear + 50) return cardError('invalid_expiry_year', "Your card's expiration year is invalid.", 'card[exp_year]');
  if (expYear === thisYear && expMonth < now.getUTCMonth() + 1) {
    return cardError('invalid_expiry_month', "Your card's expiration date is in the past.", 'card[exp_month]');
  }
  return { expMonth, expYear };
}

export interface BankInput {
  routingNumber: string;
  accountNumber: string;
  accountType?: string | null;
  accountHolderType?: string | null;
}

export type ValidBankAccount = { account: SandboxTestBankAccount; accountType: 'checking' | 'savings'; accountHolderType: 'individual' | 'company' };

export function checkBankAccount(input: BankInput): ValidBankAccount | StripeLikeError {
  const routing = String(input.routingNumber ?? '').replace(/\s/g, '');
  const accountNumber = String(input.accountNumber ?? '').replace(/\s/g, '');
  const invalid = (code: string, message: string, param: string): StripeLikeError => ({ status: 400, type: 'invalid_request_error', code, message, param });
  if (!/^\d{9}$/.test(routing)) return invalid('routing_number_invalid', 'The routing number must have 9 digits.', 'us_bank_account[routing_number]');
  if (!/^\d{4,17}$/.test(accountNumber)) return invalid('account_number_invalid', 'The account number must have 4 to 17 digits.', 'us_bank_account[account_number]');
  const accountType = (input.accountType || 'checking').toLowerCase();
  if (accountType !== 'checking' && accountType !== 'savings') return invalid('parameter_invalid_string', 'The account type must be checking or savings.', 'us_bank_account[account_type]');
  const holder = (input.accountHolderType || 'individual').toLowerCase();
  if (holder !== 'individual' && holder !== 'company') return invalid('parameter_invalid_string', 'The account holder type must be individual or company.', 'us_bank_account[account_holder_type]');
  const account = SANDBOX_TEST_BANK_ACCOUNTS.find((a) => a.routingNumber === routing && a.accountNumber === accountNumber);
  if (!account) return invalid('not_a_test_number', NOT_A_TEST_BANK_ACCOUNT_MESSAGE, 'us_bank_account[account_number]');
  return { account, accountType, accountHolderType: holder };
}

/**
 * What Stripe answers when a SetupIntent is confirmed with this card or account: null (it succeeds), `requires_action`
 * (3-D Secure), or the decline.
 */
export function setupRefusal(kind: 'card' | 'bank', outcome: SandboxCardOutcome | SandboxBankOutcome): StripeLikeError | 'requires_action' | null {
  if (kind === 'bank') {
    if (outcome === 'account_closed') return { status: 402, type: 'invalid_request_error', code: 'bank_account_unusable', decline_code: 'account_closed', message: 'The bank account is closed.' };
    if (outcome === 'no_account') return { status: 402, type: 'invalid_request_error', code: 'bank_account_unusable', decline_code: 'no_account', message: 'The bank could not find this account.' };
    return null;
  }
  switch (outcome) {
    case 'generic_decline':
      return { status: 402, type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };
    case 'insufficient_funds':
      return { status: 402, type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' };
    case 'expired_card':
      return { status: 402, type: 'card_error', code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' };
    case 'incorrect_cvc':
      return { status: 402, type: 'card_error', code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect." };
    case 'authentication_required':
      return 'requires_action';
    default:
      return null;
  }
}

export function lastDigits(value: string): string {
  return value.slice(-4);
}

/** Stripe's largest charge: 8 digits of minor units (e.g. $999,999.99). */
export const MAX_CHARGE_AMOUNT = 99_999_999n;

/** What the bank answers days later for a bank debit that was accepted as `processing`. */
export type DebitSettlement = { status: 'succeeded' } | { status: 'failed'; error: StripeLikeError };

/** What Stripe does when a PaymentIntent is confirmed with this card or account. */
export type ChargeOutcome =
  | { status: 'succeeded' }
  | { status: 'failed'; error: StripeLikeError }
  | { status: 'requires_action' }
  | { status: 'processing'; settlement: DebitSettlement };

const DEBIT_RETURNS: Partial<Record<SandboxBankOutcome, StripeLikeError>> = {
  insufficient_funds: {
    status: 402,
    type: 'invalid_request_error',
    code: 'insufficient_funds',
    message: "The customer's bank account has insufficient funds: the bank returned the debit.",
  },
  debit_not_authorized: {
    status: 402,
    type: 'invalid_request_error',
    code: 'debit_not_authorized',
    message: 'The customer told their bank this debit was not authorized: the bank returned it.',
  },
  account_closed: { status: 402, type: 'invalid_request_error', code: 'account_closed', message: 'The bank account is closed: the bank returned the debit.' },
  no_account: { status: 402, type: 'invalid_request_error', code: 'no_account', message: 'The bank could not find this account: it returned the debit.' },
};

/** A bank return for a debit that a test fails on purpose although the account itself debits fine. */
export const GENERIC_DEBIT_RETURN: StripeLikeError = {
  status: 402,
  type: 'invalid_request_error',
  code: 'bank_account_declined',
  message: 'The bank returned the debit.',
};

/** The bank's later answer for a debit from this test account (`processing` until then). */
export function debitSettlement(outcome: SandboxBankOutcome): DebitSettlement {
  const error = DEBIT_RETURNS[outcome];
  return error ? { status: 'failed', error } : { status: 'succeeded' };
}

/**
 * What Stripe answers when a PaymentIntent is created with `confirm=true` on this card or account: cards succeed or
 * are declined at once (`charge_fails`, 4000 0000 0000 0341, saves fine and is declined here); a card that needs
 * 3-D Secure asks for it (`requires_action`) when the customer is present and is declined with
 * `authentication_required` off-session; bank debits are `processing` and settle later, some of them as returns.
 */
export function chargeOutcome(kind: 'card' | 'bank', outcome: SandboxCardOutcome | SandboxBankOutcome, offSession: boolean): ChargeOutcome {
  if (kind === 'bank') return { status: 'processing', settlement: debitSettlement(outcome as SandboxBankOutcome) };
  if (outcome === 'charge_fails') {
    return { status: 'failed', error: { status: 402, type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } };
  }
  if (outcome === 'authentication_required') {
    return offSession
      ? {
          status: 'failed',
          error: {
            status: 402,
            type: 'card_error',
            code: 'authentication_required',
            decline_code: 'authentication_required',
            message: 'Your card was declined. This transaction requires authentication: the customer must pay while present.',
          },
        }
      : { status: 'requires_action' };
  }
  const refusal = setupRefusal('card', outcome);
  if (refusal && refusal !== 'requires_action') return { status: 'failed', error: refusal };
  return { status: 'succeeded' };
}
