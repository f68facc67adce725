import { createHmac } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../config/index.js';

/** `sealed~<purpose>~<uuid>`: only URL-safe characters, so the marker stays inside a link when the HTML is built. */
const MARKER = /sealed~([a-z][a-z0-9-]{0,39})~([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g;

/**
 * Secret links whose token is never stored. A message is rendered and saved when it is requested and sent later by
 * the dispatcher, so a token written into the message would sit in the `message` table next to its hash. Instead the
 * sender writes a marker (`marker(purpose, id)`) where the token goes, stores only the hash of `token(purpose, id)`,
 * and the dispatcher replaces the marker with the token at the moment it hands the message to the provider.
 *
 * The token is HMAC-SHA256(key, purpose:id), base64url (256 bits), with a key derived from JWT_SECRET: nobody can
 * compute one from the database alone. Rotating JWT_SECRET invalidates links already sent.
 */
@Injectable()
export class SealedLinks {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    if (!config.auth.jwtSecret) throw new Error('JWT_SECRET is not set (main.ts provides a development secret)');
    this.key = createHmac('sha256', config.auth.jwtSecret).update('settle:sealed-links:v1').digest();
  }

  /** Written into a message where the token belongs, e.g. `${PUBLIC_URL}/p/${marker}`. */
  marker(purpose: string, id: string): string {
    const marker = `sealed~${purpose}~${id}`;
    if (!new RegExp(`^${MARKER.source}$`).test(marker)) throw new Error(`Not a sealed link purpose and id: ${purpose}, ${id}`);
    return marker;
  }

  /** The token the marker stands for. */
  token(purpose: string, id: string): string {
    return createHmac('sha256', this.key).update(`${purpose}:${id}`).digest('base64url');
  }

  /** The text as sent: every marker replaced by its token. */
  unseal(text: string): string;
  unseal(text: string | null): string | null;
  unseal(text: string | null): string | null {
    return text === null ? null : text.replace(MARKER, (_, purpose: string, id: string) => this.token(purpose, id));
  }
}
