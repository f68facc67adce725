import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from './mikro-orm.config.js';

export class PendingMigrationsError extends Error {
  constructor(readonly pending: string[]) {
    super(
      `The database has ${pending.length} pending migration(s): ${pending.join(', ')}.\n` +
        'Settle will not serve on an outdated schema. Apply them with `npm run migrate` ' +
        '(or start with `node dist/src/main.js --migrate`).',
    );
    this.name = 'PendingMigrationsError';
  }
}

/** Applies pending migrations when `apply`, otherwise refuses (throws) if any are pending. Returns what it applied. */
export async function checkMigrations(databaseUrl: string, apply: boolean): Promise<string[]> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, { poolMax: 2 }));
  try {
    const pending = (await orm.migrator.getPending()).map((m) => m.name);
    if (pending.length === 0) return [];
    if (!apply) throw new PendingMigrationsError(pending);
    await orm.migrator.up();
    return pending;
  } finally {
    await orm.close(true);
  }
}
