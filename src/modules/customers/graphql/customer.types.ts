import { Field, ID, ObjectType } from '@nestjs/graphql';
import { PostalAddressType } from '../../../graphql/address.js';
import { ConnectionType } from '../../../graphql/pagination.js';
import type { CustomerMember } from '../domain/customer-member.entity.js';
import { type Customer, CustomerStatus } from '../domain/customer.entity.js';

@ObjectType('ServiceAddress', { description: 'A place where the organization works for the customer' })
export class ServiceAddressType {
  @Field(() => String, { nullable: true, description: 'e.g. "Cottage", "Main office"' })
  label!: string | null;

  @Field(() => PostalAddressType)
  address!: PostalAddressType;
}

@ObjectType('CustomerMember', { description: 'A person on a customer account (household member, participant), billed to the account' })
export class CustomerMemberView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  customerId!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true, description: 'E.164, e.g. +15145550123' })
  phone!: string | null;

  @Field(() => String, { nullable: true, description: 'To the account owner, e.g. "Child"' })
  relationship!: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD' })
  dateOfBirth!: string | null;

  @Field()
  createdAt!: Date;

  static from(m: CustomerMember): CustomerMemberView {
    return Object.assign(new CustomerMemberView(), {
      id: m.id,
      customerId: m.customerId,
      name: m.name,
      email: m.email,
      phone: m.phone,
      relationship: m.relationship,
      dateOfBirth: m.dateOfBirth,
      createdAt: m.createdAt,
    });
  }
}

/**
 * The GraphQL `Customer`. Other modules add fields to it with `@ResolveField` in their own resolvers
 * (`@Resolver(() => CustomerView)`), e.g. the Wallet's `paymentMethods`; `id` is all they need from the parent.
 */
@ObjectType('Customer', { description: 'A customer account of the organization: the person or business that is billed' })
export class CustomerView {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true, description: 'E.164, e.g. +15145550123' })
  phone!: string | null;

  @Field(() => PostalAddressType, {
    nullable: true,
    description: 'Required before a card or bank account is saved: payment processors decline less with it',
  })
  billingAddress!: PostalAddressType | null;

  @Field(() => [ServiceAddressType])
  serviceAddresses!: ServiceAddressType[];

  @Field(() => String, { nullable: true, description: "The customer's id in the organization's accounting system" })
  externalReference!: string | null;

  @Field(() => String, { nullable: true })
  notes!: string | null;

  @Field(() => [String], { description: 'Lower case' })
  tags!: string[];

  @Field(() => CustomerStatus)
  status!: CustomerStatus;

  @Field({ description: 'Marketing notices (renewal notices) are not sent; receipts and payment messages are' })
  marketingOptOut!: boolean;

  @Field({ description: 'Has an active saved card' })
  hasCard!: boolean;

  @Field({ description: 'Has an active saved bank account' })
  hasBankAccount!: boolean;

  @Field({ description: 'Has an active saved payment method with consent to charge it' })
  hasConsent!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'YYYY-MM-DD: last day of the expiry month of the soonest-expiring active card; null without a card',
  })
  cardExpiresOn!: string | null;

  @Field(() => BigInt, { description: "Owed on issued, unpaid invoices, in minor units of the organization's currency (kept by Invoicing)" })
  balanceOwed!: bigint;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD: the earliest due date among unpaid invoices; null when nothing is owed' })
  oldestUnpaidDueDate!: string | null;

  @Field(() => Date, { nullable: true })
  archivedAt!: Date | null;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  static from(c: Customer): CustomerView {
    return Object.assign(new CustomerView(), {
      id: c.id,
      name: c.name,
      email: c.email,
      phone: c.phone,
      billingAddress: c.billingAddress ? PostalAddressType.from(c.billingAddress) : null,
      serviceAddresses: c.serviceAddresses.map((s) =>
        Object.assign(new ServiceAddressType(), { label: s.label ?? null, address: PostalAddressType.from(s.address) }),
      ),
      externalReference: c.externalReference,
      notes: c.notes,
      tags: c.tags,
      status: c.status,
      marketingOptOut: c.marketingOptOut,
      hasCard: c.hasCard,
      hasBankAccount: c.hasBankAccount,
      hasConsent: c.hasConsent,
      cardExpiresOn: c.cardExpiresOn,
      balanceOwed: c.balanceOwed,
      oldestUnpaidDueDate: c.oldestUnpaidDueDate,
      archivedAt: c.archivedAt,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    });
  }
}

export const CustomerConnection = ConnectionType(CustomerView, 'Customer');
