/** `dundie events [--user U] [--since 24h] [--json] [--limit N]`: the security events, newest first. */
import { parseArgs } from 'node:util';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { findUserByUsername } from '../users/queries.ts';
import { listSecurityEvents } from '../users/securityEvents.ts';
import { table, UsageError, withDatabase } from './support.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `30m`, `24h`, `7d`, or an ISO 8601 time: the moment after which events are shown. */
export function parseSince(value: string, now = Date.now()): Date {
  const ago = /^(\d+)([smhd])$/.exec(value);
  if (ago) return new Date(now - Number(ago[1]) * UNIT_SECONDS[ago[2]!]! * 1000);
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`--since takes a duration (30m, 24h, 7d) or an ISO time, not "${value}"`);
  return at;
}

export async function eventsCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string' },
      since: { type: 'string' },
      json: { type: 'boolean' },
      limit: { type: 'string', default: '100' },
    },
  });
  const since = values.since === undefined ? undefined : parseSince(values.since);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a whole number');
  await withDatabase(config, log, async ({ database: { db } }) => {
    let userId: number | undefined;
    if (values.user !== undefined) {
      const user = await findUserByUsername(db, values.user);
      if (!user) throw new Error(`no user "${values.user}"`);
      userId = user.id;
    }
    const rows = await listSecurityEvents(db, { userId, since, limit });
    if (values.json) {
      // One JSON object a line, newest first: for jq and log shippers.
      for (const row of rows) console.log(JSON.stringify({ ...row, id: String(row.id) }));
      return;
    }
    console.log(
      rows.length
        ? table(rows as unknown as Record<string, unknown>[], [
            'at',
            'kind',
            'username',
            'detail',
            'client_address',
            'request_id',
            'user_agent',
          ])
        : 'no security events',
    );
  });
}
