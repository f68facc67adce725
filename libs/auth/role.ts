import { registerEnumType } from '@nestjs/graphql';

/** Staff roles. Not a hierarchy: each operation lists the roles that may run it. */
export enum Role {
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  PAYMENT_MANAGER = 'PAYMENT_MANAGER',
  STAFF = 'STAFF',
}

export const ALL_ROLES: readonly Role[] = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER, Role.STAFF];
/** Who manages the organization itself: its users, settings and the dead-letter queue. */
export const MANAGERS: readonly Role[] = [Role.OWNER, Role.ADMIN];

registerEnumType(Role, { name: 'Role', description: 'Staff roles; see the README for what each may do' });
