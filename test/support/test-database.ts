import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { MikroORM } from '@mikro-orm/postgresql';
import { MIGRATIONS } from '../../migrations/index.js';
import { ormConfig } from '../../src/infra/database/mikro-orm.config.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (test/global-setup.ts sets it)');
  return url;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * The template's name changes with the migration list and with each migration's source (a class's toString is its
 * code), so a new or edited migration gets a fresh template.
 */
function templateName(): string {
  const digest = createHash('sha256')
    .update(MIGRATIONS.map((m) => `${m.name}\n${String(m.class)}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
  return `settle_tpl_${digest}`;
}

/**
 * A database of its own for one test file, copied from a template that has every migration applied (made once,
 * under an advisory lock, by whichever test file gets there first). Test files can then run in parallel.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const name = `settle_test_${randomBytes(6).toString('hex')}`;
  const template = templateName();
  try {
    await admin.query("select pg_advisory_lock(hashtext('settle-test-template'))");
    const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
    if (exists.rowCount === 0) {
      await admin.query(`create database "${template}"`);
      const orm = await MikroORM.init(ormConfig(withDatabase(adminUrl(), template), { poolMax: 1 }));
      try {
        await orm.migrator.up();
      } catch (error) {
        await orm.close(true);
        await admin.query(`drop database "${template}"`);
        throw error;
      }
      await orm.close(true);
    }
    await admin.query(`create database "${name}" template "${template}"`);
  } finally {
    await admin.query("select pg_advisory_unlock(hashtext('settle-test-template'))").catch(() => undefined);
    await admin.end();
  }
  return {
    url: withDatabase(adminUrl(), name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** An empty database (no migrations), for tests of the migration check itself. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const name = `settle_empty_${randomBytes(6).toString('hex')}`;
  await admin.query(`create database "${name}"`);
  await admin.end();
  return {
    url: withDatabase(adminUrl(), name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}
