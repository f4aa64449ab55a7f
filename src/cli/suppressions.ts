/** `dundie suppressions list|remove ADDRESS`: the addresses the dispatcher no longer mails. */
import { parseArgs } from 'node:util';
import type { Settings } from '../config.ts';
import { listSuppressions, unsuppress } from '../email/suppressions.ts';
import type { Logger } from '../log.ts';
import { table, UsageError, withDatabase } from './support.ts';

export async function suppressionsCommand(args: string[], config: Settings, log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { limit: { type: 'string', default: '50' } },
  });
  const [action = 'list', address] = positionals;
  if (action === 'remove' && !address) throw new UsageError('suppressions remove takes an address');
  if (action !== 'list' && action !== 'remove')
    throw new UsageError(`unknown suppressions action "${action}" (list, remove)`);
  await withDatabase(config, log, async ({ database: { db } }) => {
    if (action === 'list') {
      const rows = await listSuppressions(db, Number(values.limit) || 50);
      console.log(
        rows.length
          ? table(rows as unknown as Record<string, unknown>[], [
              'address',
              'refusals',
              'first_seen',
              'last_seen',
              'reason',
            ])
          : 'no address is suppressed',
      );
    } else if (await unsuppress(db, address!)) {
      console.log(`${address} removed: it will be mailed again`);
    } else {
      throw new Error(`${address} is not on the suppression list`);
    }
  });
}
