/**
 * Finds PostgreSQL and Redis for the integration tests, once per run (self-contained: jest's moduleNameMapper does
 * not apply here). Order: TEST_DATABASE_URL / TEST_REDIS_URL, then testcontainers when a container runtime answers,
 * then the local defaults. Each test file then makes its own database from a migrated template (test/support).
 */
import net from 'node:net';

type Stoppable = { stop(): Promise<unknown> };
const started: Stoppable[] = [];

export default async function globalSetup(): Promise<void> {
  let db = process.env.TEST_DATABASE_URL;
  let redis = process.env.TEST_REDIS_URL;

  if (!db || !redis) {
    const containers = await tryContainers(!db, !redis);
    db ??= containers.db;
    redis ??= containers.redis;
  }
  db ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
  redis ??= 'redis://127.0.0.1:6379';

  for (const [name, url] of [
    ['PostgreSQL', db],
    ['Redis', redis],
  ] as const) {
    const u = new URL(url);
    if (!(await answers(u.hostname, Number(u.port)))) {
      throw new Error(
        `No ${name} for the tests at ${u.host}. Set TEST_DATABASE_URL / TEST_REDIS_URL, start Docker (testcontainers), ` +
          `or run PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.`,
      );
    }
  }
  process.env.TEST_DATABASE_URL = db;
  process.env.TEST_REDIS_URL = redis;
  (globalThis as { __settleContainers?: Stoppable[] }).__settleContainers = started;
}

async function tryContainers(needDb: boolean, needRedis: boolean): Promise<{ db?: string; redis?: string }> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    console.log(`[tests] no container runtime (${reason}); using local PostgreSQL and Redis`);
    return {};
  }
  const out: { db?: string; redis?: string } = {};
  if (needDb) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const c = await new PostgreSqlContainer('postgres:17-alpine').start();
    started.push(c);
    out.db = c.getConnectionUri();
  }
  if (needRedis) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const c = await new RedisContainer('redis:7-alpine').start();
    started.push(c);
    out.redis = c.getConnectionUrl();
  }
  console.log('[tests] using PostgreSQL and Redis from testcontainers');
  return out;
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(false));
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
  });
}
