/** `dundie outbox [list|retry]`: what an operator reads and does to the outbox from a shell. */
import { parseArgs } from 'node:util';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { isOutboxStatus, listByStatus, OUTBOX_STATUSES, retry, summary } from '../outbox/queries.ts';
import { table, UsageError, withDatabase } from './support.ts';

export async function outboxCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { status: { type: 'string' }, limit: { type: 'string', default: '20' }, dead: { type: 'boolean' } },
  });
  const [action = 'summary', id] = positionals;
  await withDatabase(config, log, async ({ database: { db } }) => {
    if (action === 'summary') {
      const rows = await summary(db);
      console.log(
        rows.length
          ? table(rows as unknown as Record<string, unknown>[], [
              'status',
              'count',
              'oldest_created_at',
              'next_run_after',
            ])
          : 'the outbox is empty',
      );
    } else if (action === 'list') {
      const status = values.status;
      if (!isOutboxStatus(status)) throw new UsageError(`outbox list needs --status ${OUTBOX_STATUSES.join('|')}`);
      const rows = (await listByStatus(db, status, Number(values.limit) || 20)).map((r) => ({
        ...r,
        email: r.payload.email,
      }));
      console.log(table(rows, ['id', 'kind', 'email', 'attempts', 'max_attempts', 'run_after', 'last_error']));
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
}
