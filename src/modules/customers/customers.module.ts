import { type DynamicModule, Module } from '@nestjs/common';
import { IdentityModule } from '../identity/index.js';
import { CustomerDirectory } from './application/customer-directory.js';
import { CustomerSearch } from './application/customer-search.js';
import { ManageCustomers } from './application/manage-customers.use-case.js';
import { ManageMembers } from './application/manage-members.use-case.js';
import { CustomersResolver } from './graphql/customers.resolver.js';

export interface CustomersModuleOptions {
  /** Serve the GraphQL resolvers (process role api or all). */
  api: boolean;
}

/**
 * Customers of an organization: details, members, tags, status, and the payment summary the Wallet keeps current.
 * Imported as is (`imports: [CustomersModule]`, as the Wallet does) it provides the CustomerDirectory facade;
 * the composition root uses forRoot, which adds the GraphQL resolvers in the api role.
 */
@Module({
  imports: [IdentityModule],
  providers: [CustomerSearch, ManageCustomers, ManageMembers, CustomerDirectory],
  exports: [CustomerDirectory],
})
export class CustomersModule {
  static forRoot(options: CustomersModuleOptions): DynamicModule {
    return {
      module: CustomersModule,
      providers: options.api ? [CustomersResolver] : [],
    };
  }
}
