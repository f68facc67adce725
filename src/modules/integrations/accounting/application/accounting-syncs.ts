import { Injectable } from '@nestjs/common';
import type { AccountingConnection } from '../domain/accounting.entities.js';
import { type AccountingSync, NoneAccountingSync } from './accounting-sync.port.js';
import { QuickBooksSync } from './quickbooks-sync.js';

/** Picks the adapter per organization: QuickBooks when it has a connection (in any state), else `none`. */
@Injectable()
export class AccountingSyncs {
  constructor(
    private readonly none: NoneAccountingSync,
    private readonly quickbooks: QuickBooksSync,
  ) {}

  adapterFor(connection: AccountingConnection | null): AccountingSync {
    return connection ? this.quickbooks : this.none;
  }
}
