import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { AppModule } from './app.module.js';
import { type AppConfig, ConfigError, loadConfig } from './config/index.js';
import { checkMigrations, PendingMigrationsError } from './infra/database/migrations.js';
import { devSecret, resolveServices } from './infra/service-discovery.js';

/**
 * Starts Settle: validates the configuration, finds PostgreSQL and Redis, checks (or with --migrate applies) the
 * migrations, then serves. Every failure before serving exits with a message that says what to do.
 */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = withDevSecrets(loadConfig());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const log = pino({ level: config.logLevel === 'silent' ? 'info' : config.logLevel });
  const services = await resolveServices(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) });
  log.info(`PostgreSQL: ${services.sources.postgres}; Redis: ${services.sources.redis}`);

  try {
    const applied = await checkMigrations(services.databaseUrl, process.argv.includes('--migrate'));
    if (applied.length) log.info(`applied migrations: ${applied.join(', ')}`);
  } catch (error) {
    await services.stop();
    if (error instanceof PendingMigrationsError) {
      log.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({
      config,
      databaseUrl: services.databaseUrl,
      redisUrl: services.redisUrl,
      onShutdown: () => services.stop(),
    }),
    // rawBody: webhooks are verified on the exact bytes received (req.rawBody); the JSON limit stays Express's 100 kB.
    { bufferLogs: true, rawBody: true },
  );
  app.useLogger(app.get(PinoNestLogger));
  app.set('trust proxy', 'loopback');
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info(`${signal}: finishing in-flight work (at most ${config.shutdownTimeoutMs} ms)`);
      setTimeout(() => {
        log.error('graceful shutdown timed out; exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  await app.listen(config.http.port, config.http.host);
  log.info(`Settle (${config.role}) listening on ${config.http.publicUrl}${config.runsApi ? ' — GraphQL at /graphql' : ''}`);
}

/** Outside production, a missing JWT_SECRET is generated once and kept under DATA_DIR (never in the repository). */
function withDevSecrets(config: AppConfig): AppConfig {
  if (config.auth.jwtSecret || config.isProduction) return config;
  return Object.assign(Object.create(Object.getPrototypeOf(config)) as AppConfig, config, {
    auth: { ...config.auth, jwtSecret: devSecret(config.dataDir, 'jwt-secret') },
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
