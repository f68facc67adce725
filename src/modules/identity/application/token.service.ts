import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import type { AccessTokenClaims } from '#libs/auth/index.js';
import { Clock, newId } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { RefreshToken } from '../domain/refresh-token.entity.js';
import type { User } from '../domain/user.entity.js';
import { hashToken, newSecretToken } from './secret-token.js';

export interface Session {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  user: User;
}

@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Issues an access token and a refresh token of a new family (or of `familyId`, when rotating). */
  async startSession(em: EntityManager, user: User, familyId: string = newId()): Promise<Session> {
    const now = this.clock.now();
    const { accessTtlSeconds, refreshTtlSeconds } = this.config.auth;
    const claims: AccessTokenClaims = { sub: user.id, org: user.organizationId, role: user.role, typ: 'access' };
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: accessTtlSeconds });
    const refreshToken = newSecretToken();
    const row = new RefreshToken();
    row.organizationId = user.organizationId;
    row.userId = user.id;
    row.familyId = familyId;
    row.tokenHash = hashToken(refreshToken);
    row.expiresAt = new Date(now.getTime() + refreshTtlSeconds * 1000);
    em.persist(row);
    return {
      accessToken,
      accessTokenExpiresAt: new Date(now.getTime() + accessTtlSeconds * 1000),
      refreshToken,
      refreshTokenExpiresAt: row.expiresAt,
      user,
    };
  }

  /**
   * Finds the refresh token and marks it used. A token presented a second time means it leaked: every token of its
   * family is revoked (and that is committed: the caller's transaction does not fail), so the thief and the user
   * both have to sign in again.
   */
  async consume(em: EntityManager, refreshToken: string): Promise<{ status: 'ok'; token: RefreshToken } | { status: 'invalid' | 'reused' }> {
    const now = this.clock.now();
    // Refresh happens before anyone is signed in, so the lookup spans organizations; the hash is unique.
    const row = await em.findOne(
      RefreshToken,
      { tokenHash: hashToken(refreshToken) },
      { filters: { tenant: false }, lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!row || row.revokedAt || row.expiresAt <= now) return { status: 'invalid' };
    if (row.usedAt) {
      await this.revokeFamilyOf(em, row.familyId);
      return { status: 'reused' };
    }
    row.usedAt = now;
    return { status: 'ok', token: row };
  }

  async revokeFamily(em: EntityManager, refreshToken: string): Promise<void> {
    const row = await em.findOne(RefreshToken, { tokenHash: hashToken(refreshToken) }, { filters: { tenant: false } });
    if (row) await this.revokeFamilyOf(em, row.familyId);
  }

  private async revokeFamilyOf(em: EntityManager, familyId: string): Promise<void> {
    await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: this.clock.now() }, {
      filters: { tenant: false },
    });
  }
}
