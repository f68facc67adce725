// dependency-cruiser rules for Settle: `npm run boundaries`
// (= depcruise src libs --config .dependency-cruiser.cjs).
//
// Paths in rules are regular expressions matched against paths relative to the
// repository root, e.g. `src/modules/identity/application/sign-up.use-case.ts`
// (imports are resolved to the .ts source, also for `#libs/*` subpath imports).
// In `to.path` / `to.pathNot` / `via*`, `$1` is replaced by the first capture
// group of the rule's `from.path` for the importing file.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'module-boundaries',
      severity: 'error',
      comment:
        'A feature module (src/modules/<A>/) may use another feature module (src/modules/<B>/) only ' +
        "through that module's public API, src/modules/<B>/index.ts. Export what you need from " +
        "<B>/index.ts (or publish an event) instead of reaching into <B>'s internals.",
      from: { path: '^src/modules/([^/]+)/' },
      to: {
        path: '^src/modules/(?!$1/)[^/]+/',
        pathNot: '^src/modules/[^/]+/index\\.ts$',
      },
    },
    {
      name: 'libs-are-kernel',
      severity: 'error',
      comment:
        'libs/ is the shared kernel (money, ddd, auth, tenancy, outbox, testing): it must not depend on the ' +
        'application in src/. Move the shared piece into libs/ or invert the dependency.',
      from: { path: '^libs/' },
      to: { path: '^src/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Circular dependency that leaves a feature module: src/modules/<A>/ -> (another module, or ' +
        'shared code outside src/modules) -> back into src/modules/<A>/. Break it with an event, by ' +
        "moving the shared piece into libs/, or by depending on the other side's index.ts only one way.",
      from: { path: '^src/modules/([^/]+)/' },
      to: {
        circular: true,
        via: { pathNot: '^src/modules/$1/' },
      },
    },
    {
      name: 'no-circular-within-module',
      severity: 'warn',
      comment:
        'Circular dependency whose files are all inside one feature module. Tolerated (e.g. entity <-> entity ' +
        'relations), but prefer to avoid it.',
      from: { path: '^src/modules/([^/]+)/' },
      to: {
        circular: true,
        viaOnly: { path: '^src/modules/$1/' },
      },
    },
    {
      name: 'no-circular-outside-modules',
      severity: 'warn',
      comment: 'Circular dependency among files outside src/modules (libs/, src/infra, src/graphql, ...).',
      from: { pathNot: '^src/modules/' },
      to: {
        circular: true,
        viaOnly: { pathNot: '^src/modules/' },
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        "This import can't be resolved to a file on disk. If it's a package: add it to package.json. " +
        'Relative imports must use the .js extension of the compiled file (./foo.js for ./foo.ts).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        "This imports an npm package that isn't declared in package.json (it only happens to be in " +
        'node_modules as a transitive dependency). Add it to "dependencies" (or "devDependencies" for test-only code).',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'Production code imports a package that is only a devDependency (dependency-cruiser also counts ' +
        'a package as "dev" when only its @types/* package is declared). The Docker image runs ' +
        '`npm prune --omit=dev`, so declare it in "dependencies". Type-only imports are fine.',
      from: {
        path: '^(src|libs)/',
        pathNot: ['\\.(spec|test)\\.ts$', '^libs/testing/'],
      },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: 'node_modules/@types/',
      },
    },
    {
      name: 'not-to-dist',
      severity: 'error',
      comment:
        'Source must never import build output in dist/. If this shows up for a #libs/* import, the ' +
        '"types" condition of package.json "imports" is not being resolved.',
      from: {},
      to: { path: '^dist/' },
    },
  ],
  options: {
    // dist/ (build output) is never cruised: it is not a cruise root, and a dependency that
    // resolves into it is not followed. It is deliberately NOT in `exclude`: excluding it
    // would silently drop such a dependency, so `not-to-dist` could never fire.
    doNotFollow: { path: ['node_modules', '^dist/'] },
    exclude: { path: ['^coverage/', '^\\.data/', '^bench/results/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // also see imports that TypeScript erases (type-only imports, `import type`)
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      // Honour package.json "exports" of dependencies and our own "imports" (#libs/*).
      // "types" comes first in our "imports" map, so `#libs/money/index.js` resolves to
      // ./libs/money/index.js, which dependency-cruiser then maps to ./libs/money/index.ts
      // (its built-in equivalent of extensionAlias { '.js': ['.ts', '.js'] }; the
      // configuration schema does not accept an `extensionAlias` key).
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
      mainFields: ['types', 'typings', 'module', 'main'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
