// The database every benchmark makes for itself, afresh, on the server BENCH_DATABASE_URL names.
import pg from 'pg';

export interface BenchDatabase {
  /** A connection to the new database. */
  db: pg.Client;
  /** Its URL (for the app, pools, child processes). */
  url: string;
  /** Ends the connections and drops the database, unless `keep` (a bench's `--keep`). */
  close(keep: boolean): Promise<void>;
}

/** Drops `name` if it is there, creates it empty, and connects to it. */
export async function freshDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.query(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  return {
    db,
    url: url.toString(),
    async close(keep) {
      await db.end().catch(() => undefined);
      if (!keep) await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}
