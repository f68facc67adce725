import type { Role } from './role.js';

/** The authenticated staff user behind a request. */
export interface Principal {
  userId: string;
  organizationId: string;
  role: Role;
  email: string;
  /**
   * The user's organization as read in the same statement as the user (the identity module's loader fills it): lets
   * a request that needs the organization's currency, time zone or locale skip a read of its own. Never cached
   * across requests, like the rest of the principal.
   */
  organization?: PrincipalOrganization;
}

export interface PrincipalOrganization {
  id: string;
  name: string;
  currency: string;
  timeZone: string;
  locale: string;
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
