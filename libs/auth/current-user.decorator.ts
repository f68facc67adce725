import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from './principal.js';
import { requestOf } from './request-of.js';

/** The authenticated user; only on handlers guarded by @Roles or @Authenticated. */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const user = requestOf(context).user;
  if (!user) throw new Error('CurrentUser used on a handler without authentication');
  return user;
});
