import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from '../src/infra/database/mikro-orm.config.js';
import { checkMigrations, PendingMigrationsError } from '../src/infra/database/migrations.js';
import { MIGRATIONS } from '../migrations/index.js';
import { createEmptyDatabase, type TestDatabase } from './support/test-database.js';

describe('migrations checked at boot', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createEmptyDatabase();
  });
  afterAll(() => db.drop());

  it('refuses to serve an outdated schema and names the pending migrations', async () => {
    const refusal = checkMigrations(db.url, false);
    await expect(refusal).rejects.toBeInstanceOf(PendingMigrationsError);
    await expect(checkMigrations(db.url, false)).rejects.toThrow(MIGRATIONS[0]!.name);
    await expect(checkMigrations(db.url, false)).rejects.toThrow('npm run migrate');
  });

  it('applies them when asked, after which nothing is pending', async () => {
    expect(await checkMigrations(db.url, true)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await checkMigrations(db.url, false)).toEqual([]);
  });

  it('leave the database exactly as the entities describe it (nothing for the schema diff to add or change)', async () => {
    // Migrations are written by `npm run migrate:create` or by hand; either way the entities are the truth, and a
    // column, index or check that one has and the other lacks would surface here as SQL to run.
    const orm = await MikroORM.init(ormConfig(db.url, { poolMax: 1 }));
    try {
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true });
      expect(diff.trim()).toBe('');
    } finally {
      await orm.close(true);
    }
  });
});
