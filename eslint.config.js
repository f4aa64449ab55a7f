// ESLint (flat config): typescript-eslint's type-checked rules, no import cycles, and the layers
// of docs/development.md ("The layout") kept one-way. Formatting is Prettier's job
// (eslint-config-prettier turns off what would fight it).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * `from` may not be imported by `target`: arrows point down entry → service → app → http | pages → web →
 * commands/tasks → domain → infrastructure.
 */
const layers = [
  { target: './src/!(cli).ts', from: './src/cli.ts', message: 'entry points are imported by nobody' },
  { target: './src/*/**', from: './src/cli.ts', message: 'entry points are imported by nobody' },
  // The CLI's `serve` is main's: the one entry point that another may import.
  { target: './src/!(cli|main).ts', from: './src/main.ts', message: 'entry points are imported by nobody' },
  { target: './src/*/**', from: './src/main.ts', message: 'entry points are imported by nobody' },
  // The app is composed in one place (src/app.ts); the API and the pages know nothing of each other.
  { target: './src/!(service).ts', from: './src/app.ts', message: 'only the service mounts the app' },
  { target: './src/*/**', from: './src/app.ts', message: 'only the service mounts the app' },
  {
    target: './src/pages/**',
    from: './src/http/**',
    message: 'the pages know nothing of the API: what both use is in web/, and src/app.ts composes them',
  },
  {
    target: './src/http/**',
    from: './src/pages/**',
    message: 'the API knows nothing of the pages: src/app.ts composes them (and tells cors their paths)',
  },
  {
    target: './src/web/**',
    from: ['./src/http/**', './src/pages/**'],
    message: 'web/ is what the API and the pages share: it sits below both',
  },
  {
    target: ['./src/{commands,tasks,users,auth,outbox,db,email}/**'],
    from: ['./src/http/**', './src/pages/**', './src/web/**'],
    message: 'HTTP and pages sit above commands and the domain',
  },
  { target: './src/!(cli|main).ts', from: './src/service.ts', message: 'only the entry points start the service' },
  { target: './src/*/**', from: './src/service.ts', message: 'only the entry points start the service' },
  { target: './src/!(service).ts', from: './src/dispatcherThread.ts', message: 'only the service starts the thread' },
  { target: './src/*/**', from: './src/dispatcherThread.ts', message: 'only the service starts the thread' },
  // Metrics read the outbox's and the suppression list's tables: they sit with the composers
  // (service, app, dispatcher thread), which hand them down; the outbox takes its DispatchMetrics.
  {
    target: ['./src/*/**', './src/!(service|app|dispatcherThread).ts'],
    from: './src/metrics.ts',
    message: 'metrics sit above the layers they count: the composers hand them down',
  },
  // What every layer reads sits below them all. config.ts takes two constants of db/ and email/
  // (the prepared-statement modes, the signing key's check), so those two stay allowed.
  {
    target: './src/{config,log,locales,paths,runtime,secretKeys,errors,delays,retrying}.ts',
    from: [
      './src/{http,pages,web,commands,tasks,users,auth,outbox}/**',
      './src/{app,metrics,service,dispatcherThread}.ts',
    ],
    message: 'settings, the logger, languages, paths, the domain errors and retrying sit below every layer',
  },
  {
    target: ['./src/{users,auth,outbox,db,email}/**'],
    from: ['./src/commands/**', './src/tasks/**'],
    message: 'commands and tasks sit above the domain',
  },
  {
    target: ['./src/tasks/**'],
    from: ['./src/commands/**'],
    message: 'commands queue tasks, tasks never run commands',
  },
  {
    target: ['./src/{outbox,db,email}/**'],
    from: ['./src/users/**', './src/auth/**'],
    message: 'infrastructure knows no users: the outbox is generic, e-mail kinds are tasks',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'bench/out/', 'test-results/', 'static/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  importX.flatConfigs.recommended,
  importX.flatConfigs.typescript,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    settings: {
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: ['tsconfig.json', 'test/tsconfig.json', 'bench/tsconfig.json'],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layers }],
      'import-x/no-named-as-default-member': 'off',
      // @koa/router exports its class both ways; `import Router from` is how its docs use it.
      'import-x/no-named-as-default': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Koa's and knex's types hand out `any` at every edge (ctx.request.body, query rows).
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true },
      ],
      // Koa handlers and event listeners are async functions handed to callers that ignore what they return.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  { files: ['scripts/**'], languageOptions: { globals: { console: 'readonly' } } },
  prettier,
);
