// ESLint flat config for Settle.
//
// Deliberately uses typescript-eslint's `recommended` preset, NOT the
// type-checked presets: no type information is loaded, so `eslint .` stays fast
// on small CI runners. Architectural boundaries between feature modules are
// enforced precisely by dependency-cruiser (.dependency-cruiser.cjs,
// `npm run boundaries`); the `no-restricted-imports` rule below is only an
// early, in-editor hint for the most common form of a boundary leak.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// `globals` is not installed; declare the few Node globals the config files use.
const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
};
const commonJsGlobals = {
  ...nodeGlobals,
  module: 'writable',
  require: 'readonly',
  __dirname: 'readonly',
  __filename: 'readonly',
};

// --- process.env is read only through AppConfig (src/config) ---------------
const PROCESS_ENV_MESSAGE = 'read configuration through AppConfig (src/config)';
const processEnvSyntax = [
  // process.env / process?.env
  { selector: "MemberExpression[object.name='process'][property.name='env']", message: PROCESS_ENV_MESSAGE },
  // process['env']
  { selector: "MemberExpression[object.name='process'][property.value='env']", message: PROCESS_ENV_MESSAGE },
  // globalThis.process.env
  {
    selector:
      "MemberExpression[object.type='MemberExpression'][object.object.name='globalThis'][object.property.name='process'][property.name='env']",
    message: PROCESS_ENV_MESSAGE,
  },
  // const { env } = process
  { selector: "VariableDeclarator[init.name='process'] > ObjectPattern > Property[key.name='env']", message: PROCESS_ENV_MESSAGE },
];
// import { env } from 'node:process'
const processEnvImportPaths = ['process', 'node:process'].map((name) => ({
  name,
  importNames: ['env'],
  message: PROCESS_ENV_MESSAGE,
}));
const ENV_ALLOWED = ['src/config/**', 'src/main.ts', 'src/cli/**'];

// --- feature modules import each other only through their index.ts ---------
// A file N folders below src/modules/<A>/ reaches a sibling module with exactly
// N+1 `../` segments, so one regex per depth matches `../<B>/<layer>/...`,
// `../../<B>/<layer>/...` etc. without false positives on intra-module imports
// such as `../domain/user.entity.js`. (A round-about self import like
// `../<A>/domain/x.js` from inside <A> is also reported; write `./domain/x.js`.)
// Other deep imports (e.g. `../<B>/<B>.error.js`) are left to dependency-cruiser's
// `module-boundaries` rule, which knows the importing module's name.
const MODULE_LAYERS = '(domain|application|infrastructure|graphql|web)';
const MAX_MODULE_DEPTH = 5;
const moduleBoundaryConfigs = Array.from({ length: MAX_MODULE_DEPTH }, (_, depth) => ({
  name: `settle/module-boundaries/depth-${depth}`,
  files: [`src/modules/*/${'*/'.repeat(depth)}*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: processEnvImportPaths,
        patterns: [
          {
            regex: `^(\\.\\./){${depth + 1}}[^./][^/]*/${MODULE_LAYERS}(/|$)`,
            message:
              "import another feature module only through its public API ('../<module>/index.js'); its internals are private",
          },
        ],
      },
    ],
  },
}));

export default defineConfig([
  globalIgnores(['dist/', 'node_modules/', 'coverage/', '.data/', 'bench/results/'], 'settle/ignores'),

  {
    name: 'settle/files',
    files: ['**/*.{js,mjs,cjs,ts,mts,cts}'],
  },

  js.configs.recommended,
  tseslint.configs.recommended,

  {
    name: 'settle/base',
    rules: {
      // the TypeScript-aware version below replaces the core rule everywhere
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      // NestJS modules are empty decorated classes (`@Module(...) export class FooModule {}`)
      '@typescript-eslint/no-extraneous-class': 'off',
    },
  },

  // Tooling config files at the repo root.
  {
    name: 'settle/config-files/esm',
    files: ['*.js', '*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    name: 'settle/config-files/cjs',
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: commonJsGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  // Application and kernel code.
  {
    name: 'settle/app',
    files: ['src/**/*.ts', 'libs/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-syntax': ['error', ...processEnvSyntax],
      'no-restricted-imports': ['error', { paths: processEnvImportPaths }],
    },
  },
  ...moduleBoundaryConfigs,
  {
    name: 'settle/app/process-entry-points',
    files: ['src/cli/**/*.ts', 'src/main.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    name: 'settle/app/config-readers',
    files: ENV_ALLOWED,
    rules: {
      'no-restricted-syntax': 'off',
      'no-restricted-imports': 'off',
    },
  },

  // Tests and test helpers.
  {
    name: 'settle/tests',
    files: ['test/**/*.ts', 'libs/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
]);
