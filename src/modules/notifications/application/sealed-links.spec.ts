import type { AppConfig } from '../../../config/index.js';
import { SealedLinks } from './sealed-links.js';

const config = (secret: string) => ({ auth: { jwtSecret: secret } }) as unknown as AppConfig;
const ID = '0b7e6f4e-9c1a-4d2b-8f3e-2a1b3c4d5e6f';

describe('SealedLinks', () => {
  const links = new SealedLinks(config('a'.repeat(32)));

  it('stores a marker in the message and puts the token in only when it is sent, in text and HTML alike', () => {
    const text = `Open https://pay.example.com/p/${links.marker('profile-request', ID)} today.`;
    expect(text).not.toContain(links.token('profile-request', ID));
    const html = `<a href="https://pay.example.com/p/${links.marker('profile-request', ID)}">link</a>`;
    expect(links.unseal(text)).toBe(`Open https://pay.example.com/p/${links.token('profile-request', ID)} today.`);
    expect(links.unseal(html)).toContain(`/p/${links.token('profile-request', ID)}"`);
    expect(links.unseal(null)).toBeNull();
  });

  it('gives 256-bit URL-safe tokens that depend on the purpose, the id and the secret', () => {
    const token = links.token('profile-request', ID);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(links.token('profile-request', ID)).toBe(token);
    expect(links.token('payment-request', ID)).not.toBe(token);
    expect(links.token('profile-request', ID.replace('0b', '0c'))).not.toBe(token);
    expect(new SealedLinks(config('b'.repeat(32))).token('profile-request', ID)).not.toBe(token);
  });

  it('leaves text without markers alone and refuses a malformed marker', () => {
    expect(links.unseal('sealed~x~not-a-uuid and https://example.com')).toBe('sealed~x~not-a-uuid and https://example.com');
    expect(() => links.marker('Bad Purpose', ID)).toThrow();
    expect(() => links.marker('profile-request', 'nope')).toThrow();
  });
});
