// Public contract of the customers module: the only file other modules may import.
export { CustomersModule, type CustomersModuleOptions } from './customers.module.js';
export {
  CustomerDirectory,
  type ContactPatch,
  type CustomerSnapshot,
  type PaymentSummary,
  type BalanceSummary,
} from './application/customer-directory.js';
export type { CustomerFilter } from './application/customer-search.js';
export { CustomerStatus } from './domain/customer.entity.js';
export { CustomerView, CustomerMemberView, ServiceAddressType } from './graphql/customer.types.js';
export { CustomerFilterInput } from './graphql/customer.inputs.js';
export { CustomerError, CustomerErrorReason } from './customer.error.js';
export { CustomerEvents, type CustomerEventPayload } from './customer.events.js';
