import { SetMetadata } from '@nestjs/common';
import { ALL_ROLES, type Role } from './role.js';

export const ACCESS_RULE = 'settle:access-rule';

export type AccessRule = { kind: 'public' } | { kind: 'roles'; roles: readonly Role[] };

/** No authentication: sign-up, login, health, hosted pages that carry their own token. */
export const Public = () => SetMetadata(ACCESS_RULE, { kind: 'public' } satisfies AccessRule);

/** Only these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ACCESS_RULE, { kind: 'roles', roles } satisfies AccessRule);

/** Any signed-in staff user of the organization. */
export const Authenticated = () => SetMetadata(ACCESS_RULE, { kind: 'roles', roles: ALL_ROLES } satisfies AccessRule);
