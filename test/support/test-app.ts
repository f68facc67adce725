import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { FixedClock } from '#libs/ddd/index.js';
import { OUTBOX_QUEUE, OUTBOX_RELAY_QUEUE, OutboxRelay } from '#libs/outbox/index.js';
import { GraphQLClient, purgeQueue, waitForQueueIdle } from '#libs/testing/index.js';
import { AppModule } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/index.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface TestApp {
  app: INestApplication;
  url: string;
  gql: GraphQLClient;
  clock: FixedClock;
  db: TestDatabase;
  /** Every SQL statement the app ran, in order (clear it before the part you measure). */
  queries: string[];
  /** Publishes every committed outbox event and waits until the handlers have run (or dead-lettered). */
  drainOutbox(): Promise<void>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra environment variables (the same names as in production). */
  env?: Record<string, string>;
}

/**
 * The whole application, role `all`, on a database of its own and a Redis key prefix of its own, listening on a
 * random local port. Nothing is mocked: real PostgreSQL, real Redis, real HTTP.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const clock = new FixedClock(new Date());
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `settle-test-${randomBytes(4).toString('hex')}`,
    OUTBOX_BACKOFF_MS: '5',
    OUTBOX_MAX_ATTEMPTS: '3',
    DATABASE_URL: db.url,
    REDIS_URL: process.env.TEST_REDIS_URL,
    // Tests never reach Stripe: the sandbox, unless a test points PAYMENT_GATEWAY=stripe at a local server.
    PAYMENT_GATEWAY: 'sandbox',
    ...options.env,
  });
  const queries: string[] = [];
  const app = await NestFactory.create(
    AppModule.forRoot({
      config,
      databaseUrl: db.url,
      redisUrl: process.env.TEST_REDIS_URL!,
      clock,
      scheduleJobs: false,
      onQuery: (sql) => queries.push(sql),
    }),
    { logger: false, rawBody: true },
  );
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const queue = app.get<Queue>(getQueueToken(OUTBOX_QUEUE));
  const relay = app.get(OutboxRelay);

  return {
    app,
    url,
    gql: new GraphQLClient(url),
    clock,
    db,
    queries,
    async drainOutbox() {
      for (;;) {
        const published = await relay.relayOnce();
        await waitForQueueIdle(queue);
        if (published === 0) return;
      }
    },
    async close() {
      // Bull rejects "Connection is closed" (unhandled) when a queue closes before its worker loop has started.
      await Promise.all([queue, app.get<Queue>(getQueueToken(OUTBOX_RELAY_QUEUE))].map(workerStarted));
      await purgeQueue(queue);
      await app.close();
      await db.drop();
    },
  };
}

async function workerStarted(queue: Queue): Promise<void> {
  await queue.isReady();
  const blocking = (queue as unknown as { bclient: import('ioredis').Redis }).bclient;
  if (blocking.status !== 'ready') await new Promise((resolve) => blocking.once('ready', resolve));
  await new Promise((resolve) => setTimeout(resolve, 10));
}

let counter = 0;

/** Signs up a fresh organization and returns its owner's token and ids. */
export async function signUpOrganization(gql: GraphQLClient, name = 'Acme Field Service') {
  counter += 1;
  const email = `owner-${counter}-${randomBytes(3).toString('hex')}@example.com`;
  const data = await gql.ok<{ signUp: { accessToken: string; refreshToken: string; user: { id: string; organization: { id: string } } } }>(
    `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken user { id organization { id } } } }`,
    { input: { organizationName: name, name: 'Olive Owner', email, password: 'correct horse battery' } },
  );
  return {
    email,
    password: 'correct horse battery',
    token: data.signUp.accessToken,
    refreshToken: data.signUp.refreshToken,
    userId: data.signUp.user.id,
    organizationId: data.signUp.user.organization.id,
    client: gql.as(data.signUp.accessToken),
  };
}

/** Invites a user with a role and has them accept; returns their client. */
export async function addUser(owner: GraphQLClient, role: string) {
  counter += 1;
  const email = `user-${counter}-${randomBytes(3).toString('hex')}@example.com`;
  const invited = await owner.ok<{ inviteUser: { acceptUrl: string; invitation: { id: string } } }>(
    `mutation($input: InviteUserInput!) { inviteUser(input: $input) { acceptUrl invitation { id } } }`,
    { input: { email, role } },
  );
  const token = new URL(invited.inviteUser.acceptUrl).searchParams.get('token')!;
  const accepted = await owner.as(undefined).ok<{ acceptInvitation: { accessToken: string; user: { id: string } } }>(
    `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken user { id } } }`,
    { input: { token, name: `A ${role}`, password: 'another long password' } },
  );
  return {
    email,
    userId: accepted.acceptInvitation.user.id,
    token: accepted.acceptInvitation.accessToken,
    client: owner.as(accepted.acceptInvitation.accessToken),
  };
}
