import { Field, ObjectType } from '@nestjs/graphql';
import { ConnectionType } from '../../../graphql/pagination.js';
import { Invitation } from '../domain/invitation.entity.js';
import { User } from '../domain/user.entity.js';

@ObjectType({ description: 'A signed-in session: a short-lived access token and a single-use refresh token' })
export class AuthPayload {
  @Field({ description: 'Send as `Authorization: Bearer <token>`' })
  accessToken!: string;

  @Field()
  accessTokenExpiresAt!: Date;

  @Field({ description: 'Trade it for a new pair with refreshSession; it works once' })
  refreshToken!: string;

  @Field()
  refreshTokenExpiresAt!: Date;

  @Field(() => User)
  user!: User;
}

@ObjectType()
export class InvitationPayload {
  @Field(() => Invitation)
  invitation!: Invitation;

  @Field({ description: 'Single-use link for the invitee; shown only here, once' })
  acceptUrl!: string;
}

export const UserConnection = ConnectionType(User);
