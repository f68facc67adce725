// `node --import ./bench/support/register-ts.mjs <file.ts>`: runs the TypeScript sources (app, bench) without a build,
// through the SWC loader the tests use for their child processes (test/support/ts-loader.mjs).
import { register } from 'node:module';

register('../../test/support/ts-loader.mjs', import.meta.url);
