// Public contract of the identity module: organizations, staff users, roles and sessions.
export { IdentityModule } from './identity.module.js';
export {
  IdentityEvents,
  type OrganizationSignedUpPayload,
  type UserInvitedPayload,
  type UserJoinedPayload,
  type UserRoleChangedPayload,
} from './identity.events.js';
export { IdentityError, IdentityErrorReason } from './identity.error.js';
export { IdentityDirectory, type OrganizationProfile, type StaffMember } from './application/directory.js';
