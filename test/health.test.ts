import type { Redis } from 'ioredis';
import { REDIS } from '../src/infra/redis.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('health and readiness over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('GET /ready answers 200 with PostgreSQL and Redis up, straight after startup', async () => {
    const res = await fetch(`${t.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
  });

  it('GET /health answers 200 {status: ok} without a token', async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ status: 'ok', role: 'all' });
  });

  it('gives every response an x-request-id, a fresh one per request', async () => {
    const ids: (string | null)[] = [];
    for (const path of ['/health', '/ready', '/health']) {
      const res = await fetch(`${t.url}${path}`);
      await res.arrayBuffer();
      ids.push(res.headers.get('x-request-id'));
    }
    for (const id of ids) expect(id).toMatch(/^[\w.-]{1,128}$/);
    expect(new Set(ids).size).toBe(ids.length);

    const gql = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    await gql.arrayBuffer();
    expect(gql.headers.get('x-request-id')).toMatch(/^[\w.-]{1,128}$/);
  });

  it('echoes a well-formed x-request-id the caller sent, and replaces a malformed one', async () => {
    const given = 'trace-4f2c.abc_123';
    for (const path of ['/health', '/ready']) {
      const res = await fetch(`${t.url}${path}`, { headers: { 'x-request-id': given } });
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id')).toBe(given);
    }
    const bad = await fetch(`${t.url}/health`, { headers: { 'x-request-id': 'has spaces <and> markup' } });
    await bad.arrayBuffer();
    expect(bad.status).toBe(200);
    const replaced = bad.headers.get('x-request-id');
    expect(replaced).toMatch(/^[\w.-]{1,128}$/);
    expect(replaced).not.toBe('has spaces <and> markup');
  });

  it('GET /ready answers 503 naming Redis while Redis is unreachable, /health still 200, and recovers', async () => {
    const redis = t.app.get<Redis>(REDIS);
    redis.disconnect();
    const res = await fetch(`${t.url}/ready`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: { postgres: string; redis: string } };
    expect(body.status).toBe('unavailable');
    expect(body.checks.postgres).toBe('up');
    expect(body.checks.redis).toMatch(/^down: /);
    const health = await fetch(`${t.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    await redis.connect();
    const again = await fetch(`${t.url}/ready`);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ checks: { postgres: 'up', redis: 'up' } });
  });
});
