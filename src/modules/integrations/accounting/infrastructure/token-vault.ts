import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../../config/index.js';

/**
 * Seals the QuickBooks OAuth tokens at rest: AES-256-GCM with a key derived from JWT_SECRET (HMAC-SHA256 with a
 * purpose label), so every process can read them with no extra variable and the key reveals nothing of JWT_SECRET.
 * Rotating JWT_SECRET makes the sealed tokens unreadable: the connection then shows EXPIRED and is reconnected.
 */
@Injectable()
export class TokenVault {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    if (!config.auth.jwtSecret) throw new Error('JWT_SECRET is not set (main.ts provides a development secret)');
    this.key = createHmac('sha256', config.auth.jwtSecret).update('settle:accounting-tokens:v1').digest();
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  /** The token, or null when it cannot be read (another key, tampered, empty). */
  open(sealed: string): string | null {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** A signed, expiring OAuth `state`: the organization (and user) that asked to connect. */
  signState(claims: OAuthState): string {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  verifyState(state: string, now: Date): OAuthState | null {
    const [body, mac] = state.split('.');
    if (!body || !mac || mac.length !== 43) return null;
    const expected = this.mac(body);
    if (!timingSafeEqualText(mac, expected)) return null;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as OAuthState;
      if (typeof claims.o !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 < now.getTime()) return null;
      return claims;
    } catch {
      return null;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(`state:${body}`).digest('base64url');
  }
}

export interface OAuthState {
  /** Organization id. */
  o: string;
  /** User who asked. */
  u: string | null;
  /** Expiry, unix seconds. */
  exp: number;
  /** Nonce. */
  n: string;
}

function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
