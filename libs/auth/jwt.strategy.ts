import { createSecretKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { type AccessTokenClaims, type Principal, PrincipalLoader } from './principal.js';


@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    private readonly principals: PrincipalLoader,
    secret: string,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject, made once: given the string, jsonwebtoken tries createPublicKey (which throws) and then
      // createSecretKey on every request (bench/README.md, GraphQL reads).
      secretOrKey: createSecretKey(Buffer.from(secret)) as unknown as string,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  /** Returning null makes passport answer 401: the user is gone, disabled, or moved organization. */
  async validate(claims: AccessTokenClaims): Promise<Principal | null> {
    if (claims.typ !== 'access' || !claims.sub || !claims.org) return null;
    return this.principals.load(claims.sub, claims.org);
  }
}
