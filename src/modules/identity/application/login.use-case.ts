import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { User, UserStatus } from '../domain/user.entity.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { PasswordHasher } from './password-hasher.js';
import { normalizeEmail } from './sign-up.use-case.js';
import { type Session, TokenService } from './token.service.js';

@Injectable()
export class LogIn {
  constructor(
    private readonly em: EntityManager,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly limiter: LoginRateLimiter,
    private readonly clock: Clock,
  ) {}

  /** One answer for an unknown email, a wrong password and a disabled user, so none of them can be probed. */
  async execute(rawEmail: string, password: string, ip: string): Promise<Session> {
    const email = normalizeEmail(rawEmail);
    await this.limiter.assertAllowed(email, ip);
    // Login happens before the tenant is known: the lookup is by the globally unique email.
    const user = await this.em.findOne(User, { email }, { filters: { tenant: false }, populate: ['passwordHash'] });
    const ok = user ? await this.hasher.verify(user.passwordHash, password) : (await this.hasher.burn(password), false);
    if (!user || !ok || user.status !== UserStatus.ACTIVE) {
      await this.limiter.recordFailure(email, ip);
      throw new IdentityError(IdentityErrorReason.INVALID_CREDENTIALS, 'The email or password is incorrect');
    }
    await this.limiter.recordSuccess(email, ip);
    return this.em.transactional(async (tx) => {
      user.lastLoginAt = this.clock.now();
      return this.tokens.startSession(tx, tx.merge(user));
    });
  }
}
