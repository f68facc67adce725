import type { Role } from '#libs/auth/index.js';

/** Integration events the identity module publishes (through the outbox). */
export const IdentityEvents = {
  OrganizationSignedUp: 'OrganizationSignedUp',
  UserInvited: 'UserInvited',
  UserJoined: 'UserJoined',
  UserRoleChanged: 'UserRoleChanged',
} as const;

export interface OrganizationSignedUpPayload {
  organizationId: string;
  name: string;
  ownerUserId: string;
}

export interface UserInvitedPayload {
  invitationId: string;
  email: string;
  role: Role;
  invitedByUserId: string;
  expiresAt: string;
}

export interface UserJoinedPayload {
  userId: string;
  email: string;
  role: Role;
}

export interface UserRoleChangedPayload {
  userId: string;
  from: Role;
  to: Role;
  changedByUserId: string;
}
