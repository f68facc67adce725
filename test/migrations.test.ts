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
});
