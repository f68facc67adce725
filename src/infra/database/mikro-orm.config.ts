import { defineConfig } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { TenantSubscriber, tenantFilter } from '#libs/tenancy/index.js';
import { MIGRATIONS } from '../../../migrations/index.js';
import { ALL_ENTITIES } from './entities.js';

export interface OrmOptions {
  /** Log every SQL statement through this function (tests count queries with it). */
  onQuery?: (sql: string) => void;
  poolMax?: number;
}

export function ormConfig(clientUrl: string, options: OrmOptions = {}) {
  return defineConfig({
    clientUrl,
    entities: ALL_ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    filters: { tenant: tenantFilter(ALL_ENTITIES) },
    subscribers: [new TenantSubscriber()],
    forceUtcTimezone: true,
    pool: { min: 0, max: options.poolMax ?? 10 },
    discovery: { warnWhenNoEntities: false },
    // Never create tables from entities at run time: the schema is what the committed migrations say.
    ensureDatabase: false,
    // No entity declares triggers; the data-change triggers of the read cache (Migration20261201220000) are the
    // migrations' own, so the schema diff (migrate:create, test/migrations.test.ts) must not offer to drop them.
    schemaGenerator: { ignoreTriggers: true },
    migrations: {
      migrationsList: MIGRATIONS,
      path: 'migrations',
      pathTs: 'migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
      silent: true,
    },
    debug: options.onQuery ? ['query'] : false,
    logger: options.onQuery ?? (() => undefined),
  });
}
