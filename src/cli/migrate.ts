/**
 * npm run migrate            apply pending migrations
 * npm run migrate:pending    list pending migrations (exit 1 when there are some)
 * npm run migrate:create -- name   write a migration for the difference between the entities and the database,
 *                                  and add it to migrations/index.ts
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../config/index.js';
import { ormConfig } from '../infra/database/mikro-orm.config.js';
import { resolveServices } from '../infra/service-discovery.js';
import { runCli } from './run-cli.js';

runCli(async (log) => {
  const [command = 'up', name] = process.argv.slice(2);
  const config = loadConfig();
  const services = await resolveServices(config, log);
  const orm = await MikroORM.init(ormConfig(services.databaseUrl, { poolMax: 2 }));
  try {
    const pending = (await orm.migrator.getPending()).map((m) => m.name);
    if (command === 'pending') {
      log.info(pending.length ? `pending: ${pending.join(', ')}` : 'no pending migrations');
      return pending.length ? 1 : 0;
    }
    if (command === 'up') {
      await orm.migrator.up();
      log.info(pending.length ? `applied: ${pending.join(', ')}` : 'no pending migrations');
      return 0;
    }
    if (command === 'create') {
      // Diff against a database that has every committed migration, so the new one holds only the change.
      await orm.migrator.up();
      const result = await orm.migrator.create(path.resolve('migrations'), false, false, name);
      if (!result.fileName) {
        log.info('entities and database agree: no migration written');
        return 0;
      }
      registerMigration(result.fileName);
      log.info(`wrote migrations/${result.fileName} and added it to migrations/index.ts`);
      return 0;
    }
    log.warn(`unknown command ${command}: use up, pending or create`);
    return 2;
  } finally {
    await orm.close(true);
    await services.stop();
  }
});

function registerMigration(fileName: string): void {
  const base = path.basename(fileName).replace(/\.ts$/, '');
  const source = readFileSync(fileName.includes('/') ? fileName : path.resolve('migrations', fileName), 'utf8');
  const className = /export class (\w+)/.exec(source)?.[1];
  if (!className) throw new Error(`could not find the migration class in ${fileName}`);
  const indexPath = path.resolve('migrations/index.ts');
  let index = readFileSync(indexPath, 'utf8');
  index = index.replace(
    /(import type \{ MigrationObject \} from '@mikro-orm\/core';\n)/,
    `$1import { ${className} } from './${base}.js';\n`,
  );
  index = index.replace(/(export const MIGRATIONS: MigrationObject\[\] = \[)([\s\S]*?)(\];)/, (_, open, body: string, close) => {
    const entries = body.trim() ? `${body.trimEnd()}\n` : '\n';
    return `${open}${entries}  { name: '${base}', class: ${className} },\n${close}`;
  });
  writeFileSync(indexPath, index);
}
