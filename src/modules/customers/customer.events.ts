import type { CustomerStatus } from './domain/customer.entity.js';

/** Integration events the customers module publishes (through the outbox), e.g. for the accounting sync. */
export const CustomerEvents = {
  CustomerCreated: 'CustomerCreated',
  /** Details changed (not the payment summary, which the Wallet announces with its own events). */
  CustomerUpdated: 'CustomerUpdated',
  CustomerArchived: 'CustomerArchived',
  CustomerReactivated: 'CustomerReactivated',
} as const;

export interface CustomerEventPayload {
  customerId: string;
  name: string;
  email: string | null;
  phone: string | null;
  externalReference: string | null;
  status: CustomerStatus;
  /** CustomerUpdated: the fields that changed, e.g. ["email", "billingAddress"]. */
  changed?: string[];
  /** Who made the change: a staff user id, or null when the customer did (hosted page). */
  changedBy?: string | null;
}
