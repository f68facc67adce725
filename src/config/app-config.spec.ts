import { ConfigError, loadConfig } from './app-config.js';

const SECRET = 'x'.repeat(32);
const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: SECRET,
  DATABASE_URL: 'postgres://settle@db:5432/settle',
  REDIS_URL: 'redis://cache:6379',
  STRIPE_SECRET_KEY: 'sk_test_not_a_real_key',
  STRIPE_WEBHOOK_SECRET: 'whsec_not_a_real_secret',
};

/** The ConfigError loadConfig throws for `env` (fails the test when it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const variables = (error: ConfigError) => error.problems.map((p) => p.variable).sort();

describe('loadConfig', () => {
  it('gives working defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.role).toBe('all');
    expect(config.runsApi && config.runsWorker).toBe(true);
    expect(config.http.port).toBe(3000);
    expect(config.http.publicUrl).toBe('http://localhost:3000');
    expect(config.graphql).toEqual({
      maxDepth: 10,
      maxComplexity: 1000,
      maxBatch: 10,
      introspection: true,
      readCache: { enabled: true, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 300_000 },
    });
    expect(config.isProduction).toBe(false);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.auth.jwtSecret).toBeUndefined();
  });

  it('turns introspection on outside production and off in production unless asked for', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).graphql.introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' }).graphql.introspection).toBe(true);
    expect(loadConfig(PRODUCTION).graphql.introspection).toBe(false);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development', GRAPHQL_INTROSPECTION: 'no' }).graphql.introspection).toBe(false);
  });

  it('turns the GraphQL read cache on by default, off under NODE_ENV=test unless asked for, and refuses other values', () => {
    expect(loadConfig(PRODUCTION).graphql.readCache.enabled).toBe(true);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_READ_CACHE: 'off' }).graphql.readCache.enabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).graphql.readCache.enabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', GRAPHQL_READ_CACHE: 'on' }).graphql.readCache.enabled).toBe(true);
    expect(loadConfig({ GRAPHQL_READ_CACHE_MAX_MB: '8', GRAPHQL_READ_CACHE_MAX_ENTRIES: '100' }).graphql.readCache).toMatchObject({ maxBytes: 8 * 1024 * 1024, maxEntries: 100 });
    expect(() => loadConfig({ GRAPHQL_READ_CACHE: 'yes' })).toThrow(/GRAPHQL_READ_CACHE/);
  });

  it('reads valid values', () => {
    const config = loadConfig({
      PORT: '8080',
      SETTLE_ROLE: 'worker',
      DATABASE_URL: 'postgresql://u@h/db',
      GRAPHQL_MAX_DEPTH: '4',
      PUBLIC_URL: 'https://pay.example.com/',
    });
    expect(config.http.port).toBe(8080);
    expect(config.role).toBe('worker');
    expect(config.runsApi).toBe(false);
    expect(config.databaseUrl).toBe('postgresql://u@h/db');
    expect(config.graphql.maxDepth).toBe(4);
    expect(config.http.publicUrl).toBe('https://pay.example.com');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['SETTLE_ROLE', 'cron'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://cache:6379'],
    ['JWT_SECRET', 'too-short'],
    ['GRAPHQL_MAX_DEPTH', '1'],
    ['NODE_ENV', 'staging'],
    ['GRAPHQL_INTROSPECTION', 'maybe'],
    ['SANDBOX_DEBIT_SETTLE_SECONDS', '-1'],
    ['SANDBOX_DEBIT_SETTLE_SECONDS', '2592001'],
  ])('names %s=%s in the error', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(variables(error)).toEqual([variable]);
    expect(error.message).toContain(`- ${variable}: `);
  });

  it('says what a valid value looks like', () => {
    expect(configError({ SETTLE_ROLE: 'cron' }).message).toContain('SETTLE_ROLE: must be one of api, worker, all');
    expect(configError({ PORT: 'abc' }).message).toContain('PORT: must be a whole number between 1 and 65535');
    expect(configError({ GRAPHQL_MAX_DEPTH: '1' }).message).toContain('GRAPHQL_MAX_DEPTH: must be at least 2');
    expect(configError({ JWT_SECRET: 'short' }).message).toContain('JWT_SECRET: must be at least 32 characters');
    expect(configError({ DATABASE_URL: 'mysql://x' }).message).toContain('postgres://');
  });

  it('names every invalid variable at once, not only the first', () => {
    const error = configError({
      PORT: 'abc',
      SETTLE_ROLE: 'cron',
      DATABASE_URL: 'mysql://x',
      JWT_SECRET: 'short',
      GRAPHQL_MAX_DEPTH: '1',
    });
    expect(variables(error)).toEqual(['DATABASE_URL', 'GRAPHQL_MAX_DEPTH', 'JWT_SECRET', 'PORT', 'SETTLE_ROLE']);
    for (const v of variables(error)) expect(error.message).toContain(v);
  });

  it('in production requires JWT_SECRET, DATABASE_URL, REDIS_URL and a Stripe key, naming each', () => {
    const error = configError({ NODE_ENV: 'production' });
    expect(variables(error)).toEqual(['DATABASE_URL', 'JWT_SECRET', 'REDIS_URL', 'STRIPE_SECRET_KEY']);
    expect(error.message).toContain('set PAYMENT_GATEWAY=sandbox');
    expect(error.message).toContain('JWT_SECRET: is required when NODE_ENV=production');
    expect(error.message).toContain('DATABASE_URL: is required when NODE_ENV=production');
    expect(error.message).toContain('REDIS_URL: is required when NODE_ENV=production');
    expect(loadConfig(PRODUCTION).isProduction).toBe(true);
  });

  it('counts an empty string as unset', () => {
    const config = loadConfig({ PORT: '', SETTLE_ROLE: '', DATABASE_URL: '', JWT_SECRET: '', GRAPHQL_MAX_DEPTH: '' });
    expect(config.http.port).toBe(3000);
    expect(config.role).toBe('all');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.auth.jwtSecret).toBeUndefined();
    expect(config.graphql.maxDepth).toBe(10);
    // Empty is missing, not "too short", so production names it as required.
    const error = configError({ ...PRODUCTION, JWT_SECRET: '', REDIS_URL: '' });
    expect(variables(error)).toEqual(['JWT_SECRET', 'REDIS_URL']);
    expect(error.message).toContain('JWT_SECRET: is required when NODE_ENV=production');
  });

  it('in production with Stripe requires STRIPE_WEBHOOK_SECRET (bank debits settle by webhook)', () => {
    const { STRIPE_WEBHOOK_SECRET: _secret, ...withoutSecret } = PRODUCTION;
    const error = configError(withoutSecret);
    expect(variables(error)).toEqual(['STRIPE_WEBHOOK_SECRET']);
    expect(loadConfig({ ...withoutSecret, NODE_ENV: 'development' }).paymentGateway.stripe?.webhookSecret).toBeUndefined();
    expect(loadConfig(PRODUCTION).paymentGateway.stripe?.webhookSecret).toBe('whsec_not_a_real_secret');
    expect(variables(configError({ ...PRODUCTION, STRIPE_WEBHOOK_SECRET: 'secret' }))).toEqual(['STRIPE_WEBHOOK_SECRET']);
  });

  it("settles the sandbox's bank debits after 3 days unless SANDBOX_DEBIT_SETTLE_SECONDS says otherwise (0: at once)", () => {
    expect(loadConfig({}).sandboxGateway.debitSettleSeconds).toBe(259_200);
    expect(loadConfig({ SANDBOX_DEBIT_SETTLE_SECONDS: '60' }).sandboxGateway.debitSettleSeconds).toBe(60);
    expect(loadConfig({ SANDBOX_DEBIT_SETTLE_SECONDS: '0' }).sandboxGateway.debitSettleSeconds).toBe(0);
  });

  it('runs 4 event deliveries at once per worker unless OUTBOX_CONCURRENCY says otherwise, from 1 to 50', () => {
    expect(loadConfig({}).outbox.concurrency).toBe(4);
    expect(loadConfig({ OUTBOX_CONCURRENCY: '12' }).outbox.concurrency).toBe(12);
    expect(() => loadConfig({ OUTBOX_CONCURRENCY: '0' })).toThrow(/OUTBOX_CONCURRENCY/);
    expect(() => loadConfig({ OUTBOX_CONCURRENCY: 'many' })).toThrow(/OUTBOX_CONCURRENCY/);
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ SOMETHING_ELSE: 'whatever', PATH: '/usr/bin' })).not.toThrow();
  });
});
