import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { ParseUUIDPipe } from '@nestjs/common';
import { Authenticated, CurrentUser, MANAGERS, type Principal, Public, Roles } from '#libs/auth/index.js';
import { ApplicationError } from '#libs/ddd/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import { byKeys } from '../../../graphql/loaders.js';
import { connectionComplexity, paginate, PageArgs } from '../../../graphql/pagination.js';
import { AcceptInvitation, InviteUser } from '../application/invitations.use-case.js';
import { LogIn } from '../application/login.use-case.js';
import { ManageUsers } from '../application/manage-users.use-case.js';
import { RefreshSession } from '../application/refresh-session.use-case.js';
import { SignUp } from '../application/sign-up.use-case.js';
import { Organization } from '../domain/organization.entity.js';
import { User } from '../domain/user.entity.js';
import {
  AcceptInvitationInput,
  ChangeUserRoleInput,
  InviteUserInput,
  LogInInput,
  RefreshSessionInput,
  SignUpInput,
} from './identity.inputs.js';
import { AuthPayload, InvitationPayload, UserConnection } from './identity.types.js';

const managers = MANAGERS;

@Resolver(() => AuthPayload)
export class AuthResolver {
  constructor(
    private readonly signUpUseCase: SignUp,
    private readonly logInUseCase: LogIn,
    private readonly sessions: RefreshSession,
    private readonly acceptInvitationUseCase: AcceptInvitation,
  ) {}

  @Public()
  @Mutation(() => AuthPayload, { description: 'Create an organization; you become its OWNER and are signed in' })
  signUp(@Args('input') input: SignUpInput): Promise<AuthPayload> {
    return this.signUpUseCase.execute(input);
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Sign in with email and password (rate-limited)' })
  logIn(@Args('input') input: LogInInput, @Context() ctx: GraphQLContext): Promise<AuthPayload> {
    return this.logInUseCase.execute(input.email, input.password, ctx.req.ip ?? 'unknown');
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Trade a refresh token for a new session; each refresh token works once' })
  refreshSession(@Args('input') input: RefreshSessionInput): Promise<AuthPayload> {
    return this.sessions.execute(input.refreshToken);
  }

  @Public()
  @Mutation(() => Boolean, { description: 'End the session (every token of this sign-in)' })
  async logOut(@Args('input') input: RefreshSessionInput): Promise<boolean> {
    await this.sessions.logout(input.refreshToken);
    return true;
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Join an organization through an invitation link' })
  acceptInvitation(@Args('input') input: AcceptInvitationInput): Promise<AuthPayload> {
    return this.acceptInvitationUseCase.execute(input.token, input.name, input.password);
  }
}

@Resolver(() => User)
export class UsersResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly invite: InviteUser,
    private readonly manage: ManageUsers,
  ) {}

  @Authenticated()
  @Query(() => User, { description: 'The signed-in user' })
  async me(@CurrentUser() principal: Principal): Promise<User> {
    return this.findUser(principal.userId);
  }

  @Authenticated()
  @Query(() => UserConnection, { description: "The organization's staff, oldest first", complexity: connectionComplexity })
  users(@Args() page: PageArgs) {
    return paginate(this.em, User, {}, page, { createdAt: 'asc', id: 'asc' });
  }

  @Authenticated()
  @Query(() => User, { description: 'One staff member of the organization' })
  user(@Args('id', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('User') })) id: string): Promise<User> {
    return this.findUser(id);
  }

  @Roles(...managers)
  @Mutation(() => InvitationPayload, { description: 'Invite someone to the organization with a role (OWNER or ADMIN)' })
  inviteUser(@CurrentUser() principal: Principal, @Args('input') input: InviteUserInput) {
    return this.invite.execute(principal, input.email, input.role);
  }

  @Roles(...managers)
  @Mutation(() => User, { description: "Change a staff member's role (OWNER or ADMIN; only an OWNER grants OWNER)" })
  changeUserRole(@CurrentUser() principal: Principal, @Args('input') input: ChangeUserRoleInput) {
    return this.manage.changeRole(principal, input.userId, input.role);
  }

  @Roles(...managers)
  @Mutation(() => User, { description: 'Disable a staff member and end their sessions (OWNER or ADMIN)' })
  disableUser(
    @CurrentUser() principal: Principal,
    @Args('userId', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('User') })) userId: string,
  ) {
    return this.manage.disable(principal, userId);
  }

  @ResolveField(() => Organization)
  organization(@Parent() user: User, @Context() ctx: GraphQLContext): Promise<Organization> {
    return ctx.loaders
      .get<string, Organization>('organizationById', async (ids) => {
        const rows = await this.em.find(Organization, { id: { $in: [...ids] } });
        return byKeys(ids, rows, (o) => o.id, (id) => ApplicationError.notFound('Organization', id));
      })
      .load(user.organizationId);
  }

  private async findUser(id: string): Promise<User> {
    const user = await this.em.findOne(User, { id });
    if (!user) throw ApplicationError.notFound('User', id);
    return user;
  }
}
