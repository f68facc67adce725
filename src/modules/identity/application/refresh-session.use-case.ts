import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { User, UserStatus } from '../domain/user.entity.js';
import { IdentityError, IdentityErrorReason } from '../identity.error.js';
import { type Session, TokenService } from './token.service.js';

/** Trades a refresh token for a new access token and a new refresh token of the same family (rotation). */
@Injectable()
export class RefreshSession {
  constructor(
    private readonly em: EntityManager,
    private readonly tokens: TokenService,
  ) {}

  async execute(refreshToken: string): Promise<Session> {
    // Its own transaction: the revocation that follows a reuse must commit although this request then fails.
    const outcome = await this.em.transactional((tx) => this.tokens.consume(tx, refreshToken));
    if (outcome.status === 'reused') {
      throw new IdentityError(
        IdentityErrorReason.REFRESH_TOKEN_REUSED,
        'This refresh token was already used: every session of that sign-in has been ended, sign in again',
      );
    }
    if (outcome.status !== 'ok') {
      throw new IdentityError(IdentityErrorReason.REFRESH_TOKEN_INVALID, 'The refresh token is invalid or expired: sign in again');
    }
    const row = outcome.token;
    return this.em.transactional(async (tx) => {
      const user = await tx.findOne(User, { id: row.userId, organizationId: row.organizationId }, { filters: { tenant: false } });
      if (!user || user.status !== UserStatus.ACTIVE) {
        throw new IdentityError(IdentityErrorReason.REFRESH_TOKEN_INVALID, 'The user of this session is no longer active');
      }
      return this.tokens.startSession(tx, user, row.familyId);
    });
  }

  async logout(refreshToken: string): Promise<void> {
    await this.em.transactional((tx) => this.tokens.revokeFamily(tx, refreshToken));
  }
}
