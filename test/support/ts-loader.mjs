/* global URL */
// A Node ESM loader that runs the TypeScript sources the way Jest does (SWC, legacy decorators with metadata), so a
// test can start the app in a CHILD PROCESS (e.g. a worker it kills with SIGKILL) without a build.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, resolve as resolvePath } from 'node:path';
import swc from '@swc/core';

const root = resolvePath(dirname(fileURLToPath(import.meta.url)), '../..');

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('#libs/')) {
    const ts = resolvePath(root, 'libs', specifier.slice('#libs/'.length).replace(/\.js$/, '.ts'));
    return { url: pathToFileURL(ts).href, shortCircuit: true, format: 'module' };
  }
  if ((specifier.startsWith('.') || specifier.startsWith('/')) && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
    const candidate = fileURLToPath(new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL));
    if (existsSync(candidate)) return { url: pathToFileURL(candidate).href, shortCircuit: true, format: 'module' };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const { code } = await swc.transform(source, {
    filename: fileURLToPath(url),
    sourceMaps: 'inline',
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
