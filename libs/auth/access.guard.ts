import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { EntityManager } from '@mikro-orm/postgresql';
import { RequestContext } from '@mikro-orm/core';
import { ApplicationError, ErrorCode } from '../ddd/index.js';
import { scopeToTenant } from '../tenancy/index.js';
import { ACCESS_RULE, type AccessRule } from './access.decorators.js';
import type { Principal } from './principal.js';
import { requestOf } from './request-of.js';

const Jwt = AuthGuard('jwt');

/**
 * The one guard in front of every resolver and controller (registered as APP_GUARD).
 * Fails closed: a handler without @Public, @Roles or @Authenticated is refused, and the access-rules test lists it.
 * After authentication it scopes the request's EntityManager to the user's organization.
 */
@Injectable()
export class AccessGuard extends Jwt implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly em: EntityManager,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!rule) {
      throw new ApplicationError(
        ErrorCode.FORBIDDEN,
        `${context.getClass().name}.${context.getHandler().name} has no access rule`,
        'NO_ACCESS_RULE',
      );
    }
    if (rule.kind === 'public') return true;

    // Authenticated once per request: a batch's operations, several root fields, or the GraphQL read cache (which
    // authenticates a cacheable query before its resolvers run) share the principal loaded for it.
    const request = requestOf(context);
    if (!request.user) await (super.canActivate(context) as Promise<boolean>);
    const principal = request.user as Principal;
    if (!rule.roles.includes(principal.role)) {
      throw new ApplicationError(
        ErrorCode.FORBIDDEN,
        `This needs one of the roles ${rule.roles.join(', ')}; you are ${principal.role}`,
        'ROLE_REQUIRED',
      );
    }
    // An HTTP request runs in a MikroORM request context, whose EntityManager is scoped here. A WebSocket operation
    // (graphql-ws subscription) has none: scoping would hit the global EntityManager, shared by every request, so
    // it is skipped, and anything that queries without a scope fails closed on the tenant filter.
    if (RequestContext.currentRequestContext()) scopeToTenant(this.em, principal.organizationId);
    return true;
  }

  override getRequest(context: ExecutionContext) {
    return requestOf(context);
  }

  override handleRequest<T>(err: unknown, user: T): T {
    // A bad, expired or missing token is passport's `fail` (no error). An error here was thrown while loading the
    // principal (PostgreSQL down …): answer it as the failure it is, not as "sign in again", which logs clients out.
    if (err instanceof Error && !(err instanceof ApplicationError)) throw err;
    if (err || !user) {
      throw new ApplicationError(ErrorCode.UNAUTHENTICATED, 'Sign in first: the access token is missing, invalid or expired', 'UNAUTHENTICATED');
    }
    return user;
  }
}
