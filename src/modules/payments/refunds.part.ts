import type { ModulePart } from '../../platform/module-part.js';
import { Refunds } from './application/refunds.use-case.js';
import { RefundsResolver } from './graphql/refunds.resolver.js';

/** Refunds and cancellation of processing bank debits. */
export const REFUNDS_PART: ModulePart = {
  providers: [Refunds],
  api: [RefundsResolver],
  exports: [Refunds],
};
