import { createHash, randomBytes } from 'node:crypto';

/** A high-entropy token for a link or a refresh: 256 random bits, URL-safe. Only its hash is stored. */
export function newSecretToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
