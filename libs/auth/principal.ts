import type { Role } from './role.js';

/** The authenticated staff user behind a request. */
export interface Principal {
  userId: string;
  organizationId: string;
  role: Role;
  email: string;
}

/** Claims of an access token. `typ` keeps a refresh token from being used as an access token. */
export interface AccessTokenClaims {
  sub: string;
  org: string;
  role: Role;
  typ: 'access';
}

/**
 * Loads the current state of the user behind a token (the identity module implements it), so a disabled user or a
 * changed role takes effect on the next request rather than when the token expires.
 */
export abstract class PrincipalLoader {
  abstract load(userId: string, organizationId: string): Promise<Principal | null>;
}
