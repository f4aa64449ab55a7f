/**
 * `dundie <command>` (from a checkout: `npm run dundie -- <command>`). Every command works on the
 * database the settings name, joining the embedded PostgreSQL when the service runs it.
 * A failure prints one line and exits non-zero.
 */
import process from 'node:process';
import repl from 'node:repl';
import { parseArgs } from 'node:util';
import { createAccessToken, type Scope, type TokenData } from './auth/tokens.ts';
import { ConfigError, loadConfig, type Settings } from './config.ts';
import { migrateLatest, openDatabase, type Database } from './db.ts';
import { HttpError } from './errors.ts';
import { email, optional, text, validate } from './http/validate.ts';
import { createLogger, type Logger } from './log.ts';
import { dispatchUntilIdle, newWorkerId } from './outbox/dispatcher.ts';
import { listByStatus, retry, summary, type OutboxStatus } from './outbox/queries.ts';
import { createMailer } from './outbox/mailer.ts';
import { requestPwdReset, tryToSendPwdResetEmail } from './outbox/pwdResetEmail.ts';
import { serve } from './main.ts';
import { isEntry } from './runtime.ts';
import { findUserByEmail, findUserByUsername, listUsers } from './users/queries.ts';
import { authenticate, changePassword, createUser, updateProfile } from './users/service.ts';

const USAGE = `usage: dundie <command>

  serve [--api] [--dispatcher]   run the API and the dispatcher (default: both)
  migrate                        bring the database schema up to date
  create-user --name N --email E --password P --dept D [--username U] [--currency USD]
  user-list                      print the users as a table
  dispatch --once                work the outbox until nothing is due, then exit
  outbox                         a summary of the outbox by status
  outbox list --status S [--limit N]   the newest rows in one status
  outbox retry <id> | --dead     put a row (or every dead row) back in line
  shell                          an interactive prompt with settings, db and the user functions`;

class UsageError extends Error {}

type Context = { config: Settings; log: Logger; database: Database };

async function withDatabase<T>(config: Settings, log: Logger, work: (ctx: Context) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, log);
  try {
    await migrateLatest(database.db);
    return await work({ config, log, database });
  } finally {
    await database.close();
  }
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

const newUserOptions = {
  name: { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  dept: { type: 'string' },
  username: { type: 'string' },
  currency: { type: 'string' },
} as const;

const newUserShape = {
  name: text({ max: 200 }),
  email: email(),
  password: text({ max: 1024, controls: true }),
  dept: text({ max: 100 }),
  username: optional(text({ max: 150 })),
  currency: optional(text({ min: 3, max: 3 })),
};

const commands: Record<string, (args: string[], config: Settings, log: Logger) => Promise<void>> = {
  async serve(args) {
    const { values } = parseArgs({ args, options: { api: { type: 'boolean' }, dispatcher: { type: 'boolean' } } });
    const both = !values.api && !values.dispatcher;
    await serve({ api: both || Boolean(values.api), dispatcher: both || Boolean(values.dispatcher) });
  },

  async migrate(args, config, log) {
    parseArgs({ args, options: {} });
    await withDatabase(config, log, async () => console.log('database schema is up to date'));
  },

  async 'create-user'(args, config, log) {
    const { values } = parseArgs({ args, options: newUserOptions });
    const input = validate(newUserShape, values);
    await withDatabase(config, log, async ({ database }) => {
      const user = await createUser(database.db, input);
      console.log(`created user ${user.username} (${user.email})`);
    });
  },

  async 'user-list'(args, config, log) {
    parseArgs({ args, options: {} });
    await withDatabase(config, log, async ({ database }) => {
      const users = await listUsers(database.db);
      console.log(table(users as unknown as Record<string, unknown>[], ['username', 'name', 'email', 'dept', 'currency']));
    });
  },

  async dispatch(args, config, log) {
    const { values } = parseArgs({ args, options: { once: { type: 'boolean' } } });
    if (!values.once) throw new UsageError('dispatch needs --once (the continuous dispatcher is `dundie serve --dispatcher`)');
    await withDatabase(config, log, async ({ database }) => {
      const mailer = createMailer(config.email);
      try {
        const r = await dispatchUntilIdle({ db: database.db, config, mailer, log, workerId: newWorkerId() });
        console.log(`claimed ${r.claimed}: ${r.sent} sent, ${r.skipped} skipped, ${r.failed} failed`);
      } finally {
        mailer.close();
      }
    });
  },

  async outbox(args, config, log) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { status: { type: 'string' }, limit: { type: 'string', default: '20' }, dead: { type: 'boolean' } },
    });
    const [action = 'summary', id] = positionals;
    await withDatabase(config, log, async ({ database: { db } }) => {
      if (action === 'summary') {
        const rows = await summary(db);
        console.log(rows.length ? table(rows as unknown as Record<string, unknown>[], ['status', 'count', 'oldest_created_at', 'next_run_after']) : 'the outbox is empty');
      } else if (action === 'list') {
        const status = values.status as OutboxStatus | undefined;
        if (!status || !['pending', 'sending', 'sent', 'skipped', 'dead'].includes(status)) {
          throw new UsageError('outbox list needs --status pending|sending|sent|skipped|dead');
        }
        const rows = (await listByStatus(db, status, Number(values.limit) || 20)).map((r) => ({ ...r, email: r.payload.email }));
        console.log(table(rows as unknown as Record<string, unknown>[], ['id', 'kind', 'email', 'attempts', 'max_attempts', 'run_after', 'last_error']));
      } else if (action === 'retry') {
        if (values.dead === Boolean(id)) throw new UsageError('outbox retry takes a row id or --dead');
        if (id && !/^\d+$/.test(id)) throw new UsageError(`not a row id: "${id}"`);
        const n = await retry(db, id ? { id } : { status: 'dead' });
        if (id && n === 0) throw new Error(`row ${id} is not dead, pending or skipped (or does not exist)`);
        console.log(`${n} row${n === 1 ? '' : 's'} back in line`);
      } else {
        throw new UsageError(`unknown outbox action "${action}" (summary, list, retry)`);
      }
    });
  },

  async shell(args, config, log) {
    parseArgs({ args, options: {} });
    await withDatabase(config, log, async ({ database }) => {
      const { db } = database;
      const mailer = createMailer(config.email);
      const scope = {
        settings: config,
        db,
        listUsers: () => listUsers(db),
        findUserByUsername: (username: string) => findUserByUsername(db, username),
        findUserByEmail: (address: string) => findUserByEmail(db, address),
        createUser: (input: Parameters<typeof createUser>[1]) => createUser(db, input),
        authenticate: (username: string, password: string) => authenticate(db, username, password),
        changePassword: async (username: string, password: string) => {
          const user = await findUserByUsername(db, username);
          if (!user) throw new Error('User not found');
          return changePassword(db, config, user, password);
        },
        updateProfile: async (username: string, changes: { avatar?: string; bio?: string }) => {
          const user = await findUserByUsername(db, username);
          if (!user) throw new Error('User not found');
          return updateProfile(db, user, changes);
        },
        createAccessToken: (data: TokenData, expiresDelta?: number, scope?: Scope) =>
          createAccessToken(config.security, data, expiresDelta, scope),
        requestPwdReset: (address: string) => requestPwdReset(db, config, address),
        tryToSendPwdResetEmail: (address: string) => tryToSendPwdResetEmail({ db, config, mailer }, address),
      };
      console.log(`Dundie shell. In scope: ${Object.keys(scope).join(', ')}`);
      const server = repl.start({ prompt: 'dundie> ' });
      Object.assign(server.context, scope);
      // With piped input the REPL exits at the end of input while an `await` may still run;
      // count evaluations so the database stays open until the last one has answered.
      let running = 0;
      let idle = () => {};
      const evaluate = server.eval.bind(server);
      (server as { eval: repl.REPLEval }).eval = (code, context, file, callback) => {
        running++;
        evaluate(code, context, file, (err, result) => {
          callback(err, result);
          if (--running === 0) idle();
        });
      };
      await new Promise<void>((resolve) => server.on('exit', resolve));
      if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
      mailer.close();
    });
  },
};

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`dundie: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    const config = loadConfig();
    // Commands print their own results on stdout; only warnings and worse reach stderr.
    const log = createLogger(config, { stream: 'stderr', level: name === 'serve' ? undefined : 'warn' });
    await command(args, config, log);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) err.problems.forEach((p) => console.error(`dundie: ${p}`));
    else if (err instanceof HttpError) console.error(`dundie: ${err.message}`);
    else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`dundie: ${(err as Error).message}`);
      return 2;
    } else console.error(`dundie: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

if (isEntry(import.meta.url)) {
  const code = await runCli(process.argv.slice(2));
  // `serve` keeps running until a signal; everything else, and a failed start, ends here.
  if (code !== 0 || process.argv[2] !== 'serve') process.exit(code);
}
