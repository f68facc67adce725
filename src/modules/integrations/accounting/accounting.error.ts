import { ApplicationError, ErrorCode } from '#libs/ddd/index.js';

export enum AccountingErrorReason {
  /** QBO_CLIENT_ID / QBO_CLIENT_SECRET are not set: QuickBooks cannot be connected on this installation. */
  QUICKBOOKS_NOT_CONFIGURED = 'QUICKBOOKS_NOT_CONFIGURED',
  ACCOUNTING_SYNC_ITEM_NOT_FOUND = 'ACCOUNTING_SYNC_ITEM_NOT_FOUND',
  /** Only a FAILED (or still PENDING) sync can be retried; a SYNCED one has nothing left to do. */
  ACCOUNTING_SYNC_NOT_RETRYABLE = 'ACCOUNTING_SYNC_NOT_RETRYABLE',
  /** There is no QuickBooks connection to disconnect. */
  ACCOUNTING_NOT_CONNECTED = 'ACCOUNTING_NOT_CONNECTED',
}

const CODES: Record<AccountingErrorReason, ErrorCode> = {
  QUICKBOOKS_NOT_CONFIGURED: ErrorCode.SERVICE_UNAVAILABLE,
  ACCOUNTING_SYNC_ITEM_NOT_FOUND: ErrorCode.NOT_FOUND,
  ACCOUNTING_SYNC_NOT_RETRYABLE: ErrorCode.CONFLICT,
  ACCOUNTING_NOT_CONNECTED: ErrorCode.CONFLICT,
};

/** The accounting sync's error type: a reason from the enum, mapped to a stable GraphQL code. */
export class AccountingError extends ApplicationError {
  constructor(reason: AccountingErrorReason, message: string) {
    super(CODES[reason], message, reason);
  }

  static syncItemNotFound(id?: string): AccountingError {
    return new AccountingError(
      AccountingErrorReason.ACCOUNTING_SYNC_ITEM_NOT_FOUND,
      id ? `Accounting sync ${id} was not found` : 'Accounting sync was not found',
    );
  }
}
