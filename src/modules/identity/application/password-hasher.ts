import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';

/** argon2id through the maintained `argon2` package, with OWASP's recommended minimum parameters. */
@Injectable()
export class PasswordHasher {
  private static readonly OPTIONS = { type: argon2.argon2id as 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

  hash(password: string): Promise<string> {
    return argon2.hash(password, PasswordHasher.OPTIONS);
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /** Spends the same time as a real check, so an unknown email cannot be told apart by timing. */
  async burn(password: string): Promise<void> {
    await this.verify(await this.dummy(), password);
  }

  private dummyHash?: Promise<string>;
  private dummy(): Promise<string> {
    this.dummyHash ??= this.hash('settle-timing-equalizer');
    return this.dummyHash;
  }
}
