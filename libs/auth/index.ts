export { Role, ALL_ROLES, MANAGERS } from './role.js';
export { PrincipalLoader, type Principal, type PrincipalOrganization, type AccessTokenClaims } from './principal.js';
export { Public, Roles, Authenticated, ACCESS_RULE, type AccessRule } from './access.decorators.js';
export { AccessGuard } from './access.guard.js';
export { JwtStrategy } from './jwt.strategy.js';
export { CurrentUser } from './current-user.decorator.js';
export { requestOf, type AuthedRequest } from './request-of.js';
