import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../../config/index.js';

const PREFIX = 'whsec_';
const VERSION = 'v1';

/**
 * Endpoint signing secrets: `whsec_` + 32 random bytes (base64url, 256 bits). Stored encrypted with AES-256-GCM under a
 * key derived from JWT_SECRET (HKDF-SHA256, its own info string), because Settle needs the secret itself to sign.
 * Changing JWT_SECRET makes stored secrets unreadable: rotate every endpoint's secret afterwards. Never logged.
 */
@Injectable()
export class WebhookSecrets {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    if (!config.auth.jwtSecret) throw new Error('JWT_SECRET is not set (main.ts provides a development secret)');
    this.key = Buffer.from(hkdfSync('sha256', config.auth.jwtSecret, 'settle', 'settle:webhook-endpoint-secrets:v1', 32));
  }

  generate(): string {
    return PREFIX + randomBytes(32).toString('base64url');
  }

  hint(secret: string): string {
    return `${PREFIX}…${secret.slice(-4)}`;
  }

  encrypt(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  decrypt(stored: string): string {
    const [version, iv, tag, data] = stored.split('.');
    if (version !== VERSION || !iv || !tag || !data) throw new Error('Unreadable webhook secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}
