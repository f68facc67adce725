import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261201220000_data_change_notifications } from './Migration20261201220000_data_change_notifications.js';
import { Migration20261202070000_no_change_notifications_from_the_outbox } from './Migration20261202070000_no_change_notifications_from_the_outbox.js';
import { Migration20261201210100_accounting_sync } from './Migration20261201210100_accounting_sync.js';
import { Migration20261201210000_outbound_webhooks } from './Migration20261201210000_outbound_webhooks.js';
import { Migration20261201200000_agreements } from './Migration20261201200000_agreements.js';
import { Migration20261201200100_billing_runs } from './Migration20261201200100_billing_runs.js';
import { Migration20261201200300_payment_requests } from './Migration20261201200300_payment_requests.js';
import { Migration20261201200200_dunning } from './Migration20261201200200_dunning.js';
import { Migration20261201190000_payments } from './Migration20261201190000_payments.js';
import { Migration20261201190100_payment_webhooks } from './Migration20261201190100_payment_webhooks.js';
import { Migration20261201190200_refunds } from './Migration20261201190200_refunds.js';
import { Migration20261201190300_mass_charges } from './Migration20261201190300_mass_charges.js';
import { Migration20261201180100_installment_plans } from './Migration20261201180100_installment_plans.js';
import { Migration20261201180200_receipts } from './Migration20261201180200_receipts.js';
import { Migration20261201180300_mass_invoicing } from './Migration20261201180300_mass_invoicing.js';
import { Migration20261121145909_invoicing } from './Migration20261121145909_invoicing.js';
import { Migration20261121141948_payment_profile_requests } from './Migration20261121141948_payment_profile_requests.js';
import { Migration20261121141750_sandbox_gateway } from './Migration20261121141750_sandbox_gateway.js';
import { Migration20261121141648_customers } from './Migration20261121141648_customers.js';
import { Migration20261121141137_wallet } from './Migration20261121141137_wallet.js';
import { Migration20261121134545_notifications } from './Migration20261121134545_notifications.js';
import { Migration20261121133120_initial } from './Migration20261121133120_initial.js';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list serves the compiled app and the
 * TypeScript test run. `npm run migrate:create` appends new entries here. Never edit a migration that has landed.
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261121133120_initial', class: Migration20261121133120_initial },
  { name: 'Migration20261121134545_notifications', class: Migration20261121134545_notifications },
  { name: 'Migration20261121141137_wallet', class: Migration20261121141137_wallet },
  { name: 'Migration20261121141648_customers', class: Migration20261121141648_customers },
  { name: 'Migration20261121141750_sandbox_gateway', class: Migration20261121141750_sandbox_gateway },
  { name: 'Migration20261121141948_payment_profile_requests', class: Migration20261121141948_payment_profile_requests },
  { name: 'Migration20261121145909_invoicing', class: Migration20261121145909_invoicing },
  { name: 'Migration20261201180100_installment_plans', class: Migration20261201180100_installment_plans },
  { name: 'Migration20261201180200_receipts', class: Migration20261201180200_receipts },
  { name: 'Migration20261201180300_mass_invoicing', class: Migration20261201180300_mass_invoicing },
  { name: 'Migration20261201190000_payments', class: Migration20261201190000_payments },
  { name: 'Migration20261201190100_payment_webhooks', class: Migration20261201190100_payment_webhooks },
  { name: 'Migration20261201190200_refunds', class: Migration20261201190200_refunds },
  { name: 'Migration20261201190300_mass_charges', class: Migration20261201190300_mass_charges },
  { name: 'Migration20261201200000_agreements', class: Migration20261201200000_agreements },
  { name: 'Migration20261201200100_billing_runs', class: Migration20261201200100_billing_runs },
  { name: 'Migration20261201200200_dunning', class: Migration20261201200200_dunning },
  { name: 'Migration20261201200300_payment_requests', class: Migration20261201200300_payment_requests },
  { name: 'Migration20261201210000_outbound_webhooks', class: Migration20261201210000_outbound_webhooks },
  { name: 'Migration20261201210100_accounting_sync', class: Migration20261201210100_accounting_sync },
  { name: 'Migration20261201220000_data_change_notifications', class: Migration20261201220000_data_change_notifications },
  { name: 'Migration20261202070000_no_change_notifications_from_the_outbox', class: Migration20261202070000_no_change_notifications_from_the_outbox },
];
