/**
 * `dundie send-reset USERNAME [--override-cooldown]` and `dundie reset-link USERNAME`: resets an
 * operator makes for a user. Both are logged at warn with the operator's
 * login name, and so reach stderr as well as any log collector.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { makeResetLink, sendPwdReset } from '../commands/sendPwdReset.ts';
import type { Settings } from '../config.ts';
import { NotFound, USER_NOT_FOUND } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createEmailDispatcher } from '../tasks/emailDispatcher.ts';
import { findUserByUsername } from '../users/queries.ts';
import { UsageError, withDatabase } from './support.ts';

const operator = () => `operator ${process.env.SUDO_USER ?? userInfo().username} (CLI)`;

function oneUsername(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one USERNAME`);
  return positionals[0]!;
}

/** Queues the e-mail and works that row at once, as `tryToSendPwdResetEmail` does, and says how it went. */
export async function sendResetCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'override-cooldown': { type: 'boolean' } },
  });
  const username = oneUsername('send-reset', positionals);
  await withDatabase(config, log, async ({ database: { db } }) => {
    const user = await findUserByUsername(db, username);
    if (!user) throw new NotFound(USER_NOT_FOUND);
    const id = await sendPwdReset(db, config, log, user, {
      by: operator(),
      overrideCooldown: Boolean(values['override-cooldown']),
    });
    const result = await createEmailDispatcher({ db, config, log }, { continuous: false, ids: [id] }).done;
    if (result.sent === 1) console.log(`reset e-mail sent to ${user.email}`);
    // A running service's dispatcher heard the row first: it is its to send, not a failure.
    else if (result.claimed === 0)
      console.log(`reset e-mail queued (outbox row ${id}); the running dispatcher sends it`);
    else {
      const row = await db('outbox').where({ id }).first<{ status: string; last_error: string | null }>();
      console.log(`reset e-mail not sent: ${row?.status ?? 'queued'}${row?.last_error ? ` (${row.last_error})` : ''}`);
    }
  });
}

export async function resetLinkCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const username = oneUsername('reset-link', positionals);
  await withDatabase(config, log, async ({ database: { db } }) => {
    const user = await findUserByUsername(db, username);
    if (!user) throw new NotFound(USER_NOT_FOUND);
    const { link, code, expiresInMinutes } = await makeResetLink(db, config, log, user, { by: operator() });
    console.log(`link: ${link}`);
    console.log(`code: ${code} (with the address ${user.email})`);
    console.log(
      `Both work once, for ${expiresInMinutes} minutes; using one ends the other, and any earlier reset e-mail's.`,
    );
  });
}
