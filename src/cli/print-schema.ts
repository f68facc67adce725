/**
 * npm run schema:print   writes the GraphQL schema the code defines to schema.gql
 * npm run schema:check   fails when schema.gql differs from it (CI runs this)
 *
 * The schema is built by the application itself (role api), so what is checked is exactly what is served.
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config/index.js';
import { resolveServices } from '../infra/service-discovery.js';
import { runCli } from './run-cli.js';

const FILE = 'schema.gql';
const HEADER = '# Generated from the code by `npm run schema:print`. Do not edit by hand; CI fails when it is stale.\n\n';

runCli(async (log) => {
  const config = loadConfig({ ...process.env, SETTLE_ROLE: 'api', LOG_LEVEL: 'silent', JWT_SECRET: 'x'.repeat(32) });
  const services = await resolveServices(config, log);
  const app = await NestFactory.create(
    AppModule.forRoot({ config, databaseUrl: services.databaseUrl, redisUrl: services.redisUrl, scheduleJobs: false }),
    { logger: false },
  );
  try {
    await app.init();
    const schema = HEADER + printSchema(lexicographicSortSchema(app.get(GraphQLSchemaHost).schema)) + '\n';
    if (process.argv.includes('--check')) {
      const committed = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
      if (committed !== schema) {
        log.warn(`${FILE} is stale: run \`npm run schema:print\` and commit the result.`);
        return 1;
      }
      log.info(`${FILE} is up to date`);
      return 0;
    }
    writeFileSync(FILE, schema);
    log.info(`wrote ${FILE}`);
    return 0;
  } finally {
    await app.close();
    await services.stop();
  }
});
