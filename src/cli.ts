/**
 * `dundie <command>` (from a checkout: `npm run dundie -- <command>`). Every command works on the
 * database the settings name, joining the embedded PostgreSQL when the service runs it.
 * A failure prints one line and exits non-zero.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { eventsCommand } from './cli/events.ts';
import { outboxCommand } from './cli/outbox.ts';
import { suppressionsCommand } from './cli/suppressions.ts';
import { table, UsageError, withDatabase, type Command } from './cli/support.ts';
import { createUser } from './commands/createUser.ts';
import { ConfigError, loadConfig } from './config.ts';
import { Conflict, NotFound, PolicyViolation } from './errors.ts';
import { NewUser } from './http/schemas.ts';
import { HttpError } from './web/httpError.ts';
import { validate } from './web/validate.ts';
import { createLogger } from './log.ts';
import { serve } from './main.ts';
import { isEntry } from './runtime.ts';
import { listUsers } from './users/queries.ts';

const USAGE = `usage: dundie <command>

  serve [--api] [--dispatcher]   run the API and the dispatcher (default: both)
  migrate                        bring the database schema up to date
  create-user --name N --email E --password P --dept D [--username U] [--currency USD]
  user-list                      print the users as a table
  send-reset USERNAME [--override-cooldown]
                                 send a user the reset e-mail (logged)
  reset-link USERNAME            print a reset link and code for a help desk to pass on (logged)
  dispatch --once                work the outbox until nothing is due, then exit
  outbox                         a summary of the outbox by status
  outbox list --status S [--limit N]   the newest rows in one status
  outbox retry <id> | --dead     put a row (or every dead row) back in line
  suppressions [list] [--limit N]   addresses refused for good, which are not mailed again
  suppressions remove ADDRESS    mail an address again
  events [--user U] [--since 24h] [--json] [--limit N]
                                 security events, newest first: logins, password changes, reset e-mails
  shell                          an interactive prompt with settings, db and the user functions
  preview <template> [--locale en|pt-BR] [--out FILE]
                                 an e-mail (text and HTML) or a page (pages/<state>) with sample data`;

const newUserOptions = {
  name: { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  dept: { type: 'string' },
  username: { type: 'string' },
  currency: { type: 'string' },
} as const;

/**
 * A command whose module is loaded when it runs: these send or render e-mails, and `serve`, whose
 * API thread sends none, would otherwise hold the mailer and the templates in its heap.
 */
const onRun =
  (load: () => Promise<Command>): Command =>
  async (args, config, log) =>
    (await load())(args, config, log);

const commands: Record<string, Command> = {
  async serve(args) {
    const { values } = parseArgs({ args, options: { api: { type: 'boolean' }, dispatcher: { type: 'boolean' } } });
    const both = !values.api && !values.dispatcher;
    await serve({ api: both || Boolean(values.api), dispatcher: both || Boolean(values.dispatcher) });
  },

  async migrate(args, config, log) {
    parseArgs({ args, options: {} });
    await withDatabase(config, log, () => Promise.resolve(console.log('database schema is up to date')));
  },

  async 'create-user'(args, config, log) {
    const { values } = parseArgs({ args, options: newUserOptions });
    const input = validate(
      NewUser.pick({ name: true, email: true, password: true, dept: true, username: true, currency: true }),
      values,
    );
    await withDatabase(config, log, async ({ database }) => {
      const user = await createUser(database.db, input);
      console.log(`created user ${user.username} (${user.email})`);
    });
  },

  async 'user-list'(args, config, log) {
    parseArgs({ args, options: {} });
    await withDatabase(config, log, async ({ database }) => {
      const users = await listUsers(database.db);
      console.log(
        table(users as unknown as Record<string, unknown>[], ['username', 'name', 'email', 'dept', 'currency']),
      );
    });
  },

  async dispatch(args, config, log) {
    const { values } = parseArgs({ args, options: { once: { type: 'boolean' } } });
    if (!values.once)
      throw new UsageError('dispatch needs --once (the continuous dispatcher is `dundie serve --dispatcher`)');
    const { createEmailDispatcher } = await import('./tasks/emailDispatcher.ts');
    await withDatabase(config, log, async ({ database }) => {
      const r = await createEmailDispatcher({ db: database.db, config, log }, { continuous: false }).done;
      console.log(`claimed ${r.claimed}: ${r.sent} sent, ${r.skipped} skipped, ${r.failed} failed`);
    });
  },

  'send-reset': onRun(async () => (await import('./cli/resets.ts')).sendResetCommand),
  'reset-link': onRun(async () => (await import('./cli/resets.ts')).resetLinkCommand),
  outbox: outboxCommand,
  suppressions: suppressionsCommand,
  events: eventsCommand,
  preview: onRun(async () => (await import('./cli/preview.ts')).previewCommand),
  shell: onRun(async () => (await import('./cli/shell.ts')).shellCommand),
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
    else if (err instanceof HttpError || err instanceof Conflict || err instanceof NotFound)
      console.error(`dundie: ${err.message}`);
    else if (err instanceof PolicyViolation) console.error(`dundie: ${err.field}: ${err.message}`);
    else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`dundie: ${(err as Error).message}`);
      return 2;
    } else console.error(`dundie: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

if (isEntry(import.meta)) {
  const code = await runCli(process.argv.slice(2));
  // `serve` keeps running until a signal; everything else, and a failed start, ends here.
  if (code !== 0 || process.argv[2] !== 'serve') process.exit(code);
}
