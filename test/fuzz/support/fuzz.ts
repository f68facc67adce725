import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { DiscoveryService } from '@nestjs/core';
import type { Queue } from 'bull';
import { simpleParser } from 'mailparser';
import { MessageDispatcher } from '../../../src/modules/notifications/index.js';
import type { TestApp } from '../../support/test-app.js';

/*
 * What the fuzz passes share: the seed and run count (FUZZ_SEED / FUZZ_RUNS), an HTTP call with a deadline, the
 * checks every answer must pass (no 500, no stack trace, a stable code), and a cheap fingerprint of the database for
 * "a refused mutation wrote nothing".
 */

/** A fixed seed by default, so `npm test` is reproducible; FUZZ_SEED=<n> replays a reported run. */
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261121;

/** How many generated cases a pass runs by default; FUZZ_RUNS=<n> runs longer. */
export function fuzzRuns(defaultRuns: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

/** Every request must answer within this: a hang is a failure like a 500. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Headers;
  ms: number;
}

/** fetch with a deadline; a timeout is answered as status 0 with the reason in text. */
export async function call(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const started = Date.now();
  try {
    const res = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    return { status: res.status, text, headers: res.headers, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, text: `request failed: ${(error as Error).message}`, headers: new Headers(), ms: Date.now() - started };
  }
}

/** The stable codes of README "GraphQL conventions", and GraphQL's own (parse, validation) as Apollo says them. */
export const STABLE_CODES: ReadonlySet<string> = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'BATCH_TOO_LARGE',
  // GraphQL's own errors, kept as Apollo codes them (README: "keeps GraphQL's own errors as they are").
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** Text that only a stack trace or a source path would put in an answer. */
const STACK_MARKERS = [/\n?\s{4}at /, /\.ts:\d/, /\.js:\d+:\d+/, /node_modules/];

/** The first stack-trace marker found in `text` that is not in what we sent ourselves. */
export function stackTraceIn(text: string, sent = ''): string | undefined {
  for (const marker of STACK_MARKERS) {
    const found = marker.exec(text);
    if (found && !marker.test(sent)) return found[0];
  }
  return undefined;
}

export interface Failure {
  case: string;
  problem: string;
  detail: string;
}

export const clip = (s: string, n = 600) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

/** Checks a GraphQL HTTP answer; returns the problems (empty when fine) and the parsed body. */
export function checkGraphQLAnswer(answer: HttpAnswer, sent: string): { problems: string[]; body: any } {
  const problems: string[] = [];
  if (answer.status === 0) problems.push(`no answer within ${REQUEST_TIMEOUT_MS} ms (${answer.text})`);
  if (answer.status >= 500) problems.push(`HTTP ${answer.status}`);
  const trace = stackTraceIn(answer.text, sent);
  if (trace) problems.push(`stack trace in the answer (${JSON.stringify(trace)})`);
  let body: any;
  try {
    body = JSON.parse(answer.text);
  } catch {
    // Express's own refusals (413 body too large, 400 malformed JSON) are not GraphQL bodies; they must be 4xx.
    if (answer.status !== 0 && (answer.status < 400 || answer.status >= 500)) problems.push(`HTTP ${answer.status} with a non-JSON body`);
    return { problems, body: undefined };
  }
  const results: any[] = Array.isArray(body) ? body : [body];
  for (const result of results) {
    for (const error of result?.errors ?? []) {
      const code = error?.extensions?.code;
      if (code === 'INTERNAL_SERVER_ERROR') problems.push(`INTERNAL_SERVER_ERROR: ${clip(String(error.message), 300)}`);
      else if (typeof code !== 'string' || !STABLE_CODES.has(code)) problems.push(`error without a stable code (${JSON.stringify(code)}): ${clip(String(error.message), 300)}`);
    }
  }
  // A non-GraphQL JSON body (Express's 413 / 400 for a body it could not read) must still be a 4xx.
  if (!Array.isArray(body) && !('data' in body) && !('errors' in body) && (answer.status < 400 || answer.status >= 500)) {
    problems.push(`HTTP ${answer.status} with neither data nor errors`);
  }
  return { problems, body };
}

/**
 * A cheap fingerprint of every business table: its row count and latest updated_at (when it has one). Equal before
 * and after a refused mutation means nothing was inserted, deleted or updated through the ORM.
 */
export class DatabaseFingerprint {
  private sql?: string;

  constructor(
    private readonly t: TestApp,
    /** Tables written by design by something other than the request under test (see the fuzz README part). */
    private readonly ignored: ReadonlySet<string> = new Set(['mikro_orm_migrations']),
  ) {}

  async take(): Promise<Map<string, string>> {
    const em = this.t.app.get(MikroORM).em.fork();
    if (!this.sql) {
      const columns = await em.execute<{ table_name: string; has_updated: boolean }[]>(
        `select c.table_name, bool_or(c.column_name = 'updated_at') as has_updated
           from information_schema.columns c join information_schema.tables t using (table_schema, table_name)
          where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
          group by c.table_name order by c.table_name`,
      );
      this.sql = columns
        .filter((c) => !this.ignored.has(c.table_name))
        .map(
          (c) =>
            `select '${c.table_name}' as t, count(*)::text || '/' || ${c.has_updated ? `coalesce(max(updated_at)::text, '-')` : `'-'`} as f from "${c.table_name}"`,
        )
        .join(' union all ');
    }
    const rows = await em.execute<{ t: string; f: string }[]>(this.sql);
    return new Map(rows.map((r) => [r.t, r.f]));
  }

  /** The tables whose fingerprint differs, as "table: before → after". */
  static diff(before: Map<string, string>, after: Map<string, string>): string[] {
    const out: string[] = [];
    for (const [table, f] of after) if (before.get(table) !== f) out.push(`${table}: ${before.get(table)} → ${f}`);
    return out;
  }
}

/** Every Bull queue of the app (found in the Nest container, so a new module's queue is included by itself). */
export function appQueues(t: TestApp): Queue[] {
  const discovery = t.app.get(DiscoveryService, { strict: false });
  const found = discovery
    .getProviders()
    .map((w) => w.instance as Partial<Queue> | undefined)
    .filter((q): q is Queue => !!q && typeof q.getJobCounts === 'function' && typeof q.process === 'function');
  return [...new Set(found)];
}

/**
 * Resolves when no queue has a job waiting or running (delayed ones, e.g. payment retries days away, do not count):
 * the work a previous operation started is over, so a fingerprint taken now is not moved by it.
 */
export async function queuesSettled(queues: Queue[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(queues.map((q) => q.getJobCounts()));
    if (counts.every((c) => c.waiting + c.active === 0)) return;
    if (Date.now() > deadline) throw new Error(`queues still busy after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends every due message (email to DATA_DIR/mail as .eml). */
export async function dispatchMessages(t: TestApp): Promise<void> {
  const dispatcher = t.app.get(MessageDispatcher);
  while ((await dispatcher.dispatchDue()) > 0);
}

/** The last link of `route` (`/p`, `/a`, `/r`) emailed to `address`. */
export async function lastLinkTo(t: TestApp, dataDir: string, address: string, route: string): Promise<string | undefined> {
  const dir = path.join(dataDir, 'mail');
  if (!existsSync(dir)) return undefined;
  const re = new RegExp(`${t.url.replace(/[.]/g, '\\.')}${route}/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);
  const files = readdirSync(dir).sort();
  let link: string | undefined;
  for (const f of files) {
    const mail = await simpleParser(readFileSync(path.join(dir, f)));
    if (!JSON.stringify(mail.to).includes(address)) continue;
    const found = mail.text?.match(re)?.[0];
    if (found) link = found;
  }
  return link;
}

/** Reports the failures with the seed, so the run can be replayed with FUZZ_SEED. */
export function report(name: string, seed: number, failures: Failure[]): string {
  if (!failures.length) return '';
  const lines = failures.map((f, i) => `#${i + 1} ${f.case}\n   ${f.problem}\n   ${clip(f.detail, 1500)}`);
  const text = `${name}: ${failures.length} failure(s) with FUZZ_SEED=${seed} (replay: FUZZ_SEED=${seed} npm test -- test/fuzz)\n${lines.join('\n')}`;
  console.error(text);
  return text;
}
