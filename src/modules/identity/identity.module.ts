import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { JwtStrategy, PrincipalLoader } from '#libs/auth/index.js';
import { AppConfig } from '../../config/index.js';
import { IdentityDirectory } from './application/directory.js';
import { AcceptInvitation, InviteUser } from './application/invitations.use-case.js';
import { LoginRateLimiter } from './application/login-rate-limiter.js';
import { LogIn } from './application/login.use-case.js';
import { ManageUsers } from './application/manage-users.use-case.js';
import { PasswordHasher } from './application/password-hasher.js';
import { UserPrincipalLoader } from './application/principal-loader.js';
import { RefreshSession } from './application/refresh-session.use-case.js';
import { SignUp } from './application/sign-up.use-case.js';
import { TokenService } from './application/token.service.js';
import { AuthResolver, UsersResolver } from './graphql/identity.resolver.js';

/** Organizations, staff users, roles and sessions. */
@Module({
  imports: [
    PassportModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        secret: jwtSecret(config),
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  providers: [
    PasswordHasher,
    TokenService,
    LoginRateLimiter,
    SignUp,
    LogIn,
    RefreshSession,
    InviteUser,
    AcceptInvitation,
    ManageUsers,
    IdentityDirectory,
    AuthResolver,
    UsersResolver,
    { provide: PrincipalLoader, useClass: UserPrincipalLoader },
    {
      provide: JwtStrategy,
      inject: [PrincipalLoader, AppConfig],
      useFactory: (loader: PrincipalLoader, config: AppConfig) => new JwtStrategy(loader, jwtSecret(config)),
    },
  ],
  exports: [PrincipalLoader, IdentityDirectory],
})
export class IdentityModule {}

function jwtSecret(config: AppConfig): string {
  if (!config.auth.jwtSecret) throw new Error('JWT_SECRET is not set (main.ts provides a development secret)');
  return config.auth.jwtSecret;
}
