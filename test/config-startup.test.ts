import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The process as operators run it: `node dist/src/main.js` with a bad environment must exit 1 with a message that
 * names every bad variable, before it connects to anything. Needs a build (`npm run build`); the tests cannot build,
 * so without dist/ they are skipped.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(`${root}dist/src/main.js`) && existsSync(`${root}dist/src/config/index.js`);

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A clean environment: nothing from the test runner (NODE_ENV=test, NODE_OPTIONS) leaks in.
    execFile(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

(built ? describe : describe.skip)('starting the built process with a bad configuration', () => {
  it('exits 1 naming every invalid variable, without a stack trace', async () => {
    const res = await run(['dist/src/main.js'], { PORT: 'abc', SETTLE_ROLE: 'cron', DATABASE_URL: 'mysql://x' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Invalid configuration');
    for (const variable of ['PORT', 'SETTLE_ROLE', 'DATABASE_URL']) expect(res.stderr).toContain(`- ${variable}: `);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(res.stdout).not.toMatch(/listening/i);
  });

  it('in production exits 1 naming JWT_SECRET, DATABASE_URL and REDIS_URL', async () => {
    const res = await run(['dist/src/main.js'], { NODE_ENV: 'production' });
    expect(res.code).toBe(1);
    for (const variable of ['JWT_SECRET', 'DATABASE_URL', 'REDIS_URL']) {
      expect(res.stderr).toContain(`- ${variable}: is required when NODE_ENV=production`);
    }
  });

  it('reads the real process environment, empty values counting as unset', async () => {
    const res = await run(
      [
        '--input-type=module',
        '-e',
        "const { loadConfig } = await import('./dist/src/config/index.js'); console.log(JSON.stringify(loadConfig()));",
      ],
      { PORT: '', SETTLE_ROLE: 'api', GRAPHQL_MAX_DEPTH: '4' },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const config = JSON.parse(res.stdout);
    expect(config).toMatchObject({ env: 'development', role: 'api', http: { port: 3000 }, graphql: { maxDepth: 4, introspection: true } });
  });
});
