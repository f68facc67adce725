import { Invitation } from './domain/invitation.entity.js';
import { Organization } from './domain/organization.entity.js';
import { RefreshToken } from './domain/refresh-token.entity.js';
import { User } from './domain/user.entity.js';

export const IDENTITY_ENTITIES = [Organization, User, RefreshToken, Invitation];
