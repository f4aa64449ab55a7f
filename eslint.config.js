// ESLint (flat config): typescript-eslint's type-checked rules, no import cycles, and the layers
// of STYLE.md kept one-way. Formatting is Prettier's job (eslint-config-prettier turns off what
// would fight it).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** `from` may not be imported by `target`: arrows point down entry → http/pages → commands/tasks → domain → infrastructure. */
const layers = [
  { target: './src/!(cli).ts', from: './src/cli.ts', message: 'entry points are imported by nobody' },
  { target: './src/*/**', from: './src/cli.ts', message: 'entry points are imported by nobody' },
  // The CLI's `serve` is main's: the one entry point that another may import.
  { target: './src/!(cli|main).ts', from: './src/main.ts', message: 'entry points are imported by nobody' },
  { target: './src/*/**', from: './src/main.ts', message: 'entry points are imported by nobody' },
  {
    target: ['./src/{commands,tasks,users,auth,outbox,db,email}/**'],
    from: ['./src/http/**', './src/pages/**'],
    message: 'HTTP and pages sit above commands and the domain',
  },
  { target: './src/!(cli|main).ts', from: './src/service.ts', message: 'only the entry points start the service' },
  { target: './src/*/**', from: './src/service.ts', message: 'only the entry points start the service' },
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
