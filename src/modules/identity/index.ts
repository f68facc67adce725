// Public contract of the identity module: organizations, staff users, roles and sessions.
export { IdentityModule } from './identity.module.js';
export { IDENTITY_ENTITIES } from './entities.js';
export {
  IdentityEvents,
  type OrganizationSignedUpPayload,
  type UserInvitedPayload,
  type UserJoinedPayload,
  type UserRoleChangedPayload,
} from './identity.events.js';
export { IdentityError, IdentityErrorReason } from './identity.error.js';
