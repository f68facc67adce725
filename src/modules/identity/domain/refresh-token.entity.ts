import { Entity, Index, Property, Unique } from '@mikro-orm/decorators/legacy';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

/**
 * A refresh token, stored only as its SHA-256. Rotated on every use; all tokens of one login share a family, and
 * presenting an already-rotated token revokes the whole family (it was stolen or replayed).
 */
@Entity({ tableName: 'refresh_token' })
@TenantScoped()
@Index({ properties: ['familyId'] })
export class RefreshToken extends TenantEntity {
  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'text' })
  @Unique()
  tokenHash!: string;

  @Property({ type: 'uuid' })
  familyId!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}
