import { Injectable } from '@nestjs/common';
import { type EntityManager, LockMode, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { Clock, domainEvent, isUuid } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { AppConfig } from '../../../config/index.js';
import { CustomerError, CustomerErrorReason } from '../customer.error.js';
import { CustomerEvents, type CustomerEventPayload } from '../customer.events.js';
import { Problems } from '../domain/customer-details.js';
import { CustomerMember } from '../domain/customer-member.entity.js';
import { Customer, CustomerStatus } from '../domain/customer.entity.js';
import { cleanDetails, type CleanDetails, type CustomerDetailsInput } from './customer-input.js';

/** Who changes a customer: a staff user, or the customer on a hosted page (null). */
export type Actor = string | null;

/** The details whose change the search text depends on. */
const SEARCHED: readonly (keyof CleanDetails)[] = ['name', 'email', 'phone', 'externalReference'];

/**
 * Creating, changing, archiving and reactivating customers. Every method takes the caller's EntityManager (its
 * transaction, scoped to the organization): a refusal throws before anything is written, and the integration event
 * is recorded in the same transaction as the change.
 */
@Injectable()
export class ManageCustomers {
  constructor(
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async create(em: EntityManager, input: CustomerDetailsInput, actor: Actor): Promise<Customer> {
    const problems = new Problems();
    const details = cleanDetails({ ...input, name: input.name ?? '' }, this.config.notifications.defaultPhoneCountry, problems);
    if (problems.any) throw CustomerError.invalid(problems.list);
    await this.assertReferenceFree(em, details.externalReference ?? null, null);

    const customer = new Customer();
    Object.assign(customer, details);
    const now = this.clock.now();
    customer.createdAt = now;
    customer.updatedAt = now;
    customer.refreshDerived([]);
    em.persist(customer);
    await this.flush(em, customer);
    this.record(em, CustomerEvents.CustomerCreated, customer, { changedBy: actor });
    return customer;
  }

  async update(em: EntityManager, id: string, input: CustomerDetailsInput, actor: Actor): Promise<Customer> {
    const problems = new Problems();
    const details = cleanDetails(input, this.config.notifications.defaultPhoneCountry, problems);
    if (problems.any) throw CustomerError.invalid(problems.list);
    const customer = await this.lock(em, id);

    if (details.status !== undefined && details.status !== customer.status && customer.status === CustomerStatus.ARCHIVED) {
      throw new CustomerError(
        CustomerErrorReason.CUSTOMER_ARCHIVED,
        `Customer ${customer.name} is archived: reactivate them (reactivateCustomer) before changing their status`,
        [{ field: 'status', message: 'the customer is archived' }],
      );
    }
    if (details.billingAddress === null && customer.billingAddress !== null && (customer.hasCard || customer.hasBankAccount)) {
      throw new CustomerError(
        CustomerErrorReason.BILLING_ADDRESS_REQUIRED,
        `billingAddress: ${customer.name} has saved payment methods, which need a billing address; change it instead of removing it`,
        [{ field: 'billingAddress', message: 'cannot be removed while the customer has saved payment methods' }],
      );
    }
    if (details.externalReference !== undefined && details.externalReference !== customer.externalReference) {
      await this.assertReferenceFree(em, details.externalReference, customer.id);
    }

    const changed = (Object.keys(details) as (keyof CleanDetails)[]).filter(
      (key) => canonical(details[key]) !== canonical(customer[key]),
    );
    if (changed.length === 0) return customer;
    Object.assign(customer, details);
    customer.updatedAt = this.clock.now();
    if (changed.some((key) => SEARCHED.includes(key))) customer.refreshDerived(await this.membersOf(em, customer.id));
    await this.flush(em, customer);
    this.record(em, CustomerEvents.CustomerUpdated, customer, { changed, changedBy: actor });
    return customer;
  }

  /** Hides the customer from lists (unless asked for) and from mass operations. Archiving twice changes nothing. */
  async archive(em: EntityManager, id: string, actor: Actor): Promise<Customer> {
    const customer = await this.lock(em, id);
    if (customer.status === CustomerStatus.ARCHIVED) return customer;
    customer.status = CustomerStatus.ARCHIVED;
    customer.archivedAt = this.clock.now();
    customer.updatedAt = this.clock.now();
    await em.flush();
    this.record(em, CustomerEvents.CustomerArchived, customer, { changedBy: actor });
    return customer;
  }

  /** Makes an archived customer ACTIVE again. A customer who is not archived is left as they are. */
  async reactivate(em: EntityManager, id: string, actor: Actor): Promise<Customer> {
    const customer = await this.lock(em, id);
    if (customer.status !== CustomerStatus.ARCHIVED) return customer;
    customer.status = CustomerStatus.ACTIVE;
    customer.archivedAt = null;
    customer.updatedAt = this.clock.now();
    await em.flush();
    this.record(em, CustomerEvents.CustomerReactivated, customer, { changedBy: actor });
    return customer;
  }

  /** The customer row locked until the transaction ends: concurrent changes (members, details) apply one by one. */
  async lock(em: EntityManager, id: string): Promise<Customer> {
    // Tenant-scoped: another organization's customer is simply not found.
    const customer = isUuid(id) ? await em.findOne(Customer, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!customer) throw CustomerError.customerNotFound(id);
    return customer;
  }

  membersOf(em: EntityManager, customerId: string): Promise<CustomerMember[]> {
    return em.find(CustomerMember, { customerId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  private async assertReferenceFree(em: EntityManager, reference: string | null, self: string | null): Promise<void> {
    if (!reference) return;
    const holder = await em.findOne(Customer, { externalReference: reference }, { fields: ['id', 'name'] });
    if (holder && holder.id !== self) throw referenceTaken(reference, holder);
  }

  /** Writes now, so that a duplicate external reference that slipped past the check (a race) is named too. */
  private async flush(em: EntityManager, customer: Customer): Promise<void> {
    try {
      await em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException && customer.externalReference) {
        throw referenceTaken(customer.externalReference, null);
      }
      throw error;
    }
  }

  private record(em: EntityManager, type: string, c: Customer, extra: Partial<CustomerEventPayload>): void {
    this.outbox.record(
      em,
      domainEvent<CustomerEventPayload>(type, c.organizationId, {
        customerId: c.id,
        name: c.name,
        email: c.email,
        phone: c.phone,
        externalReference: c.externalReference,
        status: c.status,
        ...extra,
      }),
    );
  }
}

/** JSON with object keys sorted: jsonb hands addresses back with its own key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function referenceTaken(reference: string, holder: Pick<Customer, 'id' | 'name'> | null): CustomerError {
  const who = holder ? ` by customer ${holder.name}` : '';
  const message = `externalReference "${reference}" is already used${who}; each customer needs their own`;
  return new CustomerError(
    CustomerErrorReason.EXTERNAL_REFERENCE_TAKEN,
    message,
    [{ field: 'externalReference', message: `"${reference}" is already used${who}` }],
    holder ? { customerId: holder.id } : undefined,
  );
}
