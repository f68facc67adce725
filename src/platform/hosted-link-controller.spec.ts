import { Controller, Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/index.js';
import { type ClientInfo, HostedLinkController, type HostedLinkPages } from './hosted-link-controller.js';
import { LinkRateLimiter, MAX_UNKNOWN_LINKS } from './link-rate-limiter.js';

/** The pages a hosted link's service answers, for this test: whatever the token or id says. */
type DemoPage =
  | { type: 'redirect'; url: string }
  | { type: 'form'; status: number; text: string }
  | { type: 'unknown'; status: 404 }
  | { type: 'left'; status: 200; id: string };

const seen: { submitted?: { posted: Record<string, unknown>; client: ClientInfo }; completed?: string } = {};

@Injectable()
class DemoPages implements HostedLinkPages<DemoPage> {
  async open(token: string): Promise<DemoPage> {
    if (token === 'gateway') return { type: 'redirect', url: 'https://gateway.test/setup/1' };
    if (token === 'db-down') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    if (token === 'bug') throw new TypeError("Cannot read properties of undefined (reading 'id')");
    return token.startsWith('good') ? { type: 'form', status: 200, text: token } : { type: 'unknown', status: 404 };
  }
  async submit(token: string, posted: Record<string, unknown>, client: ClientInfo): Promise<DemoPage> {
    seen.submitted = { posted, client };
    return { type: 'form', status: 400, text: `${token}:${String(posted.name)}` };
  }
  async complete(sessionId: string): Promise<DemoPage> {
    seen.completed = sessionId;
    return { type: 'unknown', status: 404 };
  }
  async left(id: string): Promise<DemoPage> {
    return { type: 'left', status: 200, id };
  }
}

/** LinkRateLimiter on an in-memory stand-in for the few Redis commands it uses. */
@Injectable()
class DemoLimiter extends LinkRateLimiter {
  constructor() {
    const counts = new Map<string, number>();
    const redis = {
      get: async (key: string) => (counts.has(key) ? String(counts.get(key)) : null),
      ttl: async () => 321,
      multi: () => {
        const chain = {
          incr: (key: string) => (counts.set(key, (counts.get(key) ?? 0) + 1), chain),
          expire: () => chain,
          exec: async () => [],
        };
        return chain;
      },
    };
    super(redis as unknown as Redis, { queuePrefix: 'test' } as AppConfig, 'demo-link');
  }
}

@Controller('d')
class DemoController extends HostedLinkController<DemoPage>('thing') {
  constructor(pages: DemoPages, limiter: DemoLimiter) {
    super(pages, limiter, {
      render: {
        form: (p) => `<p>form ${p.text}</p>`,
        unknown: () => '<p>unknown</p>',
        left: (p) => `<p>left ${p.id}</p>`,
      },
      tooMany: (wait) => `<p>too many, wait ${wait}</p>`,
      unavailable: () => '<p>try again in a moment</p>',
    });
  }
}

describe('HostedLinkController (the HTTP side every hosted page shares)', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [DemoController], providers: [DemoPages, DemoLimiter] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });
  afterAll(() => app.close());

  const get = (path: string) => fetch(`${base}${path}`, { redirect: 'manual' });

  it('answers each page with its status, as HTML, with the hosted-page headers; a redirect is a 303', async () => {
    const form = await get('/d/good-1');
    expect(form.status).toBe(200);
    expect(form.headers.get('content-type')).toMatch(/^text\/html/);
    expect(form.headers.get('cache-control')).toBe('no-store');
    expect(form.headers.get('referrer-policy')).toBe('no-referrer');
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    expect(await form.text()).toBe('<p>form good-1</p>');

    const redirect = await get('/d/gateway');
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe('https://gateway.test/setup/1');
    expect(redirect.headers.get('cache-control')).toBe('no-store');

    const left = await get('/d/session/left?thing=abc');
    expect([left.status, await left.text()]).toEqual([200, '<p>left abc</p>']);
    const leftOdd = await get('/d/session/left?thing[x]=1');
    expect(await leftOdd.text()).toBe('<p>left </p>');
  });

  it('answers a database outage while the link is looked up with the 503 page, and anything else as an error', async () => {
    const down = await get('/d/db-down');
    expect([down.status, await down.text()]).toEqual([503, '<p>try again in a moment</p>']);
    expect(down.headers.get('content-type')).toMatch(/^text\/html/);
    expect(down.headers.get('cache-control')).toBe('no-store');
    const bug = await get('/d/bug');
    expect(bug.status).toBe(500);
    expect(await bug.text()).not.toContain('try again');
  });

  it('passes the posted form and where it came from to the page', async () => {
    const res = await fetch(`${base}/d/good-2`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Spec/1.0' },
      body: 'name=Olive',
    });
    expect([res.status, await res.text()]).toEqual([400, '<p>form good-2:Olive</p>']);
    expect(seen.submitted?.posted).toEqual({ name: 'Olive' });
    expect(seen.submitted?.client.userAgent).toBe('Spec/1.0');
    await get('/d/session/complete?session=cs_test_123');
    expect(seen.completed).toBe('cs_test_123');
  });

  it(`after ${MAX_UNKNOWN_LINKS} unknown links from one address, answers 429 with Retry-After and looks nothing up`, async () => {
    let last = 0;
    for (let i = 0; i < MAX_UNKNOWN_LINKS + 1 && last !== 429; i++) last = (await get(`/d/nope-${i}`)).status;
    expect(last).toBe(429);
    const limited = await get('/d/good-3');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('321');
    expect(limited.headers.get('cache-control')).toBe('no-store');
    expect(await limited.text()).toBe('<p>too many, wait 321</p>');
    // The gateway's "left" return looks nothing up by token: it is not limited.
    expect((await get('/d/session/left?thing=x')).status).toBe(200);
  });
});
