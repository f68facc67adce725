import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, isUuid } from '#libs/ddd/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { AppConfig } from '../../../config/index.js';
import { IdentityDirectory } from '../../identity/index.js';
import { CustomerError, CustomerErrorReason } from '../customer.error.js';
import { cleanDateOfBirth, cleanName, cleanOptionalText, LIMITS, Problems } from '../domain/customer-details.js';
import { CustomerMember } from '../domain/customer-member.entity.js';
import type { Customer } from '../domain/customer.entity.js';
import { localDate } from './customer-search.js';
import { cleanEmail, cleanPhone } from './customer-input.js';
import { ManageCustomers } from './manage-customers.use-case.js';

export interface MemberInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  relationship?: string | null;
  /** YYYY-MM-DD. */
  dateOfBirth?: string | null;
}

/**
 * The people of a customer account (household members, participants), billed to the account owner. Each change
 * locks the account row and rewrites the account's search text, so a search for a member's name finds the account.
 */
@Injectable()
export class ManageMembers {
  constructor(
    private readonly customers: ManageCustomers,
    private readonly identity: IdentityDirectory,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async add(em: EntityManager, customerId: string, input: MemberInput): Promise<CustomerMember> {
    const details = await this.clean(em, { ...input, name: input.name ?? '' });
    const customer = await this.customers.lock(em, customerId);
    const members = await this.customers.membersOf(em, customer.id);
    if (members.length >= LIMITS.membersPerCustomer) {
      throw new CustomerError(
        CustomerErrorReason.MEMBER_LIMIT_REACHED,
        `${customer.name} already has ${LIMITS.membersPerCustomer} members, the most an account holds; remove one first`,
        [],
        { limit: LIMITS.membersPerCustomer },
      );
    }
    const member = Object.assign(new CustomerMember(), details, { customerId: customer.id });
    member.createdAt = member.updatedAt = this.clock.now();
    em.persist(member);
    await this.touch(em, customer, [...members, member]);
    return member;
  }

  async update(em: EntityManager, memberId: string, input: MemberInput): Promise<CustomerMember> {
    const details = await this.clean(em, input);
    const { member, customer } = await this.find(em, memberId);
    Object.assign(member, details);
    member.updatedAt = this.clock.now();
    await this.touch(em, customer, await this.customers.membersOf(em, customer.id));
    return member;
  }

  /** Removes the member; answers the account. */
  async remove(em: EntityManager, memberId: string): Promise<Customer> {
    const { member, customer } = await this.find(em, memberId);
    em.remove(member);
    await em.flush();
    await this.touch(em, customer, await this.customers.membersOf(em, customer.id));
    return customer;
  }

  private async find(em: EntityManager, memberId: string): Promise<{ member: CustomerMember; customer: Customer }> {
    const found = isUuid(memberId) ? await em.findOne(CustomerMember, { id: memberId }) : null;
    if (!found) throw CustomerError.memberNotFound(memberId);
    const customer = await this.customers.lock(em, found.customerId);
    // Read again under the account's lock: it may have been removed meanwhile.
    const member = await em.findOne(CustomerMember, { id: memberId }, { refresh: true });
    if (!member) throw CustomerError.memberNotFound(memberId);
    return { member, customer };
  }

  private async touch(em: EntityManager, customer: Customer, members: CustomerMember[]): Promise<void> {
    customer.refreshDerived(members);
    customer.updatedAt = this.clock.now();
    await em.flush();
  }

  private async clean(em: EntityManager, input: MemberInput): Promise<Partial<CustomerMember>> {
    const problems = new Problems();
    const out: Partial<CustomerMember> = {};
    if (input.name !== undefined) out.name = cleanName(input.name, 'name', problems);
    if (input.email !== undefined) out.email = cleanEmail(input.email, 'email', problems);
    if (input.phone !== undefined) out.phone = cleanPhone(input.phone, 'phone', this.config.notifications.defaultPhoneCountry, problems);
    if (input.relationship !== undefined) {
      out.relationship = cleanOptionalText(input.relationship, 'relationship', LIMITS.relationship, problems);
    }
    if (input.dateOfBirth !== undefined) {
      out.dateOfBirth = cleanDateOfBirth(input.dateOfBirth, 'dateOfBirth', await this.today(em), problems);
    }
    if (problems.any) throw CustomerError.invalid(problems.list);
    return out;
  }

  private async today(em: EntityManager): Promise<string> {
    const organizationId = currentTenant(em);
    const org = organizationId ? await this.identity.organization(em, organizationId) : null;
    return localDate(this.clock.now(), org?.timeZone ?? 'UTC');
  }
}
