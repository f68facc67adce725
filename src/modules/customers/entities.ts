import { CustomerMember } from './domain/customer-member.entity.js';
import { Customer } from './domain/customer.entity.js';

export const CUSTOMERS_ENTITIES = [Customer, CustomerMember];
