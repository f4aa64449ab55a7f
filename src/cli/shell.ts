/**
 * `dundie shell`: a Node REPL whose scope holds the settings, the database and the user functions,
 * as SPEC §6 gives it (`tryToSendPwdResetEmail` among them).
 */
import type { REPLEval } from 'node:repl';
import { parseArgs } from 'node:util';
import { createAccessToken, type Scope, type TokenData } from '../auth/tokens.ts';
import { changePassword } from '../commands/changePassword.ts';
import { createUser } from '../commands/createUser.ts';
import { requestPwdReset } from '../commands/requestPwdReset.ts';
import { tryToSendPwdResetEmail } from '../commands/tryToSendPwdResetEmail.ts';
import type { Settings } from '../config.ts';
import { NotFound } from '../errors.ts';
import type { Logger } from '../log.ts';
import { authenticate, updateProfile } from '../users/account.ts';
import { findUserByEmail, findUserByUsername, listUsers } from '../users/queries.ts';
import { withDatabase } from './support.ts';

export async function shellCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  parseArgs({ args, options: {} });
  await withDatabase(config, log, async ({ database }) => {
    const { db } = database;
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
        if (!user) throw new NotFound('User not found');
        return changePassword(db, config, user, password, { how: 'admin' });
      },
      updateProfile: async (username: string, changes: { avatar?: string; bio?: string }) => {
        const user = await findUserByUsername(db, username);
        if (!user) throw new NotFound('User not found');
        return updateProfile(db, user, changes);
      },
      createAccessToken: (data: TokenData, expiresDelta?: number, scope?: Scope) =>
        createAccessToken(config.security, data, expiresDelta, scope),
      requestPwdReset: (address: string) => requestPwdReset(db, config, address),
      tryToSendPwdResetEmail: (address: string) => tryToSendPwdResetEmail(db, config, log, address),
    };
    console.log(`Dundie shell. In scope: ${Object.keys(scope).join(', ')}`);
    // Loaded here, not at the top: node:repl loads node:domain, whose async hook slows every
    // promise and EventEmitter of a process that imports this file only to serve.
    const { start } = await import('node:repl');
    const server = start({ prompt: 'dundie> ' });
    Object.assign(server.context, scope);
    // With piped input the REPL exits at the end of input while an `await` may still run;
    // count evaluations so the database stays open until the last one has answered.
    let running = 0;
    let idle = () => {};
    const evaluate = server.eval.bind(server);
    (server as { eval: REPLEval }).eval = (code, context, file, callback) => {
      running++;
      evaluate(code, context, file, (err, result) => {
        callback(err, result);
        if (--running === 0) idle();
      });
    };
    await new Promise<void>((resolve) => server.on('exit', resolve));
    if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
  });
}
