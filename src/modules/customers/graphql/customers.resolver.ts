import { ParseUUIDPipe } from '@nestjs/common';
import { Args, Context, ID, Info, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { connectionComplexity, type Connection } from '../../../graphql/pagination.js';
import { CustomerSearch } from '../application/customer-search.js';
import { ManageCustomers } from '../application/manage-customers.use-case.js';
import { ManageMembers } from '../application/manage-members.use-case.js';
import { CustomerError } from '../customer.error.js';
import { CustomerMember } from '../domain/customer-member.entity.js';
import { Customer } from '../domain/customer.entity.js';
import {
  AddCustomerMemberInput,
  CreateCustomerInput,
  CustomersArgs,
  UpdateCustomerInput,
  UpdateCustomerMemberInput,
} from './customer.inputs.js';
import { customerPage } from './customer-list.js';
import { CustomerConnection, CustomerMemberView, CustomerView } from './customer.types.js';

/** Archiving hides a customer from lists and from mass charging: not for STAFF. */
export const ARCHIVE_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER];

const customerId = () => new ParseUUIDPipe({ exceptionFactory: () => CustomerError.customerNotFound() });
const memberId = () => new ParseUUIDPipe({ exceptionFactory: () => CustomerError.memberNotFound() });

/** Customers over GraphQL: every staff role views, creates and edits them; archiving needs a manager of payments. */
@Resolver(() => CustomerView)
export class CustomersResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly search: CustomerSearch,
    private readonly manage: ManageCustomers,
    private readonly manageMembers: ManageMembers,
  ) {}

  @Authenticated()
  @Query(() => CustomerConnection, {
    description: "The organization's customers matching the filter, A to Z by name (archived ones only when asked for)",
    complexity: connectionComplexity,
  })
  async customers(@Args() args: CustomersArgs, @Info() info: GraphQLResolveInfo): Promise<Connection<CustomerView>> {
    const where = await this.search.where(this.em, args.filter ?? {});
    return customerPage(this.em, where, args, { totalCount: selects(info, 'totalCount'), edges: selects(info, 'edges') });
  }

  @Authenticated()
  @Query(() => CustomerView, { description: 'One customer, archived or not' })
  async customer(@Args('id', { type: () => ID }, customerId()) id: string): Promise<CustomerView> {
    const customer = await this.em.findOne(Customer, { id });
    if (!customer) throw CustomerError.customerNotFound(id);
    return CustomerView.from(customer);
  }

  @Authenticated()
  @Mutation(() => CustomerView, { description: 'Add a customer (any staff role)' })
  async createCustomer(@CurrentUser() principal: Principal, @Args('input') input: CreateCustomerInput): Promise<CustomerView> {
    const customer = await this.em.transactional((tx) => this.manage.create(tx, input, principal.userId));
    return CustomerView.from(customer);
  }

  @Authenticated()
  @Mutation(() => CustomerView, { description: "Change a customer's details (any staff role); only the fields given change" })
  async updateCustomer(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, customerId()) id: string,
    @Args('input') input: UpdateCustomerInput,
  ): Promise<CustomerView> {
    const customer = await this.em.transactional((tx) => this.manage.update(tx, id, input, principal.userId));
    return CustomerView.from(customer);
  }

  @Roles(...ARCHIVE_ROLES)
  @Mutation(() => CustomerView, {
    description: 'Archive a customer: hidden from lists unless asked for, no new payment methods (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async archiveCustomer(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, customerId()) id: string) {
    return CustomerView.from(await this.em.transactional((tx) => this.manage.archive(tx, id, principal.userId)));
  }

  @Roles(...ARCHIVE_ROLES)
  @Mutation(() => CustomerView, { description: 'Make an archived customer ACTIVE again (OWNER, ADMIN, PAYMENT_MANAGER)' })
  async reactivateCustomer(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, customerId()) id: string) {
    return CustomerView.from(await this.em.transactional((tx) => this.manage.reactivate(tx, id, principal.userId)));
  }

  @Authenticated()
  @Mutation(() => CustomerMemberView, { description: 'Add a person to a customer account, billed to the account (any staff role)' })
  async addCustomerMember(
    @Args('customerId', { type: () => ID }, customerId()) id: string,
    @Args('input') input: AddCustomerMemberInput,
  ): Promise<CustomerMemberView> {
    return CustomerMemberView.from(await this.em.transactional((tx) => this.manageMembers.add(tx, id, { ...input })));
  }

  @Authenticated()
  @Mutation(() => CustomerMemberView, { description: "Change a member's details (any staff role); only the fields given change" })
  async updateCustomerMember(
    @Args('id', { type: () => ID }, memberId()) id: string,
    @Args('input') input: UpdateCustomerMemberInput,
  ): Promise<CustomerMemberView> {
    return CustomerMemberView.from(await this.em.transactional((tx) => this.manageMembers.update(tx, id, { ...input })));
  }

  @Authenticated()
  @Mutation(() => CustomerView, { description: 'Remove a person from a customer account (any staff role); answers the account' })
  async removeCustomerMember(@Args('id', { type: () => ID }, memberId()) id: string): Promise<CustomerView> {
    return CustomerView.from(await this.em.transactional((tx) => this.manageMembers.remove(tx, id)));
  }

  @ResolveField(() => [CustomerMemberView], { description: 'The people on the account, oldest first' })
  members(@Parent() customer: CustomerView, @Context() ctx: GraphQLContext): Promise<CustomerMemberView[]> {
    return ctx.loaders
      .get<string, CustomerMemberView[]>('customerMembersByCustomerId', async (ids) => {
        const rows = await this.em.find(
          CustomerMember,
          { customerId: { $in: [...ids] } },
          { orderBy: { createdAt: 'asc', id: 'asc' } },
        );
        const byCustomer = new Map<string, CustomerMemberView[]>(ids.map((id) => [id, []]));
        for (const row of rows) byCustomer.get(row.customerId)?.push(CustomerMemberView.from(row));
        return ids.map((id) => byCustomer.get(id) ?? []);
      })
      .load(customer.id);
  }
}

/** Whether the field being resolved selects `name` directly (through fragments too). */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === name;
      if (s.kind === Kind.INLINE_FRAGMENT) return walk(s.selectionSet);
      if (seen.has(s.name.value)) return false;
      seen.add(s.name.value);
      return walk(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((f) => walk(f.selectionSet));
}
