/**
 * Issue 21, item 8: a row that crashes its dispatcher takes no innocent row with it. Oversized
 * payloads are refused at the claim, a lapsed lease counts only against rows that had started,
 * and a row found lapsed is then claimed and worked alone, so only the culprit reaches
 * `max_attempts`. A crash is a dispatcher that stops mid-batch: its leases are left to lapse
 * (fast-forwarded here rather than waited for).
 */
import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { createLogger } from '../../src/log.ts';
import { processRow } from '../../src/outbox/processRow.ts';
import { claimDue, isSuspect, markStartedMany, type OutboxRow } from '../../src/outbox/queries.ts';
import { defineTask, SENT } from '../../src/outbox/taskList.ts';
import { z } from 'zod';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch } from '../helpers/flow.ts';

const tdb = useTestDatabase('poison_row', { clean: ['outbox'] });

const lapseLeases = () =>
  tdb
    .db('outbox')
    .where({ status: 'sending' })
    .update({
      locked_until: tdb.db.raw("now() - interval '1 second'"),
      run_after: tdb.db.raw("now() - interval '1 second'"),
    });

const insertRows = (payloads: Record<string, unknown>[], maxAttempts = 3) =>
  tdb
    .db('outbox')
    .insert(payloads.map((payload) => ({ kind: 'note', payload: JSON.stringify(payload), max_attempts: maxAttempts })))
    .returning('id');

test.serial(
  'a payload over 64 kB goes dead at the claim and never reaches a dispatcher; its batch-mates are claimed',
  async (t) => {
    const config = testConfig(tdb.url);
    const user = await makeUser(tdb.db);
    await requestPwdReset(tdb.db, config, user.email);
    // One that does not compress (stored large) and one that compresses to almost nothing.
    const random = Array.from({ length: 8000 }, () => Math.random().toString(36)).join('');
    await tdb.db('outbox').insert([
      { kind: 'pwd_reset_email', payload: JSON.stringify({ email: user.email, junk: random }), max_attempts: 8 },
      {
        kind: 'pwd_reset_email',
        payload: JSON.stringify({ email: user.email, junk: 'x'.repeat(2_000_000) }),
        max_attempts: 8,
      },
    ]);
    await requestPwdReset(tdb.db, config, user.email);

    const claimed = await claimDue(tdb.db, 'worker', 10, 30);
    t.is(claimed.length, 2, 'the two ordinary rows');
    t.true(claimed.every((r) => JSON.stringify(r.payload).length < 1000));
    const dead = await tdb.db('outbox').where({ status: 'dead' }).orderBy('id');
    t.is(dead.length, 2);
    for (const row of dead) {
      t.regex(row.last_error, /^payload too large: over 65536 bytes as JSON/);
      t.like(row, { attempts: 0, locked_by: null });
      t.truthy(row.processed_at);
    }
  },
);

test.serial(
  'a claim hands over payloads up to its byte bound, the first row always, and says more are due',
  async (t) => {
    const ids = await insertRows([
      { n: 1, pad: 'a'.repeat(3000) },
      { n: 2, pad: 'b'.repeat(3000) },
      { n: 3, pad: 'c'.repeat(3000) },
    ]);
    const first = await claimDue(tdb.db, 'worker', 10, 30, { maxClaimBytes: 5000 });
    t.deepEqual(
      first.map((r) => r.id),
      [String(ids[0]!.id), String(ids[1]!.id)],
      'the second row starts under the bound',
    );
    t.true(first.full, 'cut by bytes: more are due');
    const rest = await claimDue(tdb.db, 'worker', 10, 30, { maxClaimBytes: 100 });
    t.deepEqual(
      rest.map((r) => r.id),
      [String(ids[2]!.id)],
      'a row larger than the bound still comes, alone',
    );
    t.false(rest.full);
    const none = await claimDue(tdb.db, 'worker', 10, 30);
    t.is(none.length, 0);
    t.false(none.full);
  },
);

test.serial('a lapsed lease counts only against the rows that had started', async (t) => {
  await insertRows([{ n: 1 }, { n: 2 }, { n: 3 }]);
  // Three claimed, one started at once; the dispatcher dies before starting the other two.
  const claimed = await claimDue(tdb.db, 'doomed', 10, 30, { startAtOnce: 1 });
  t.deepEqual(
    claimed.map((r) => Boolean(r.started_at)),
    [true, false, false],
  );
  await lapseLeases();

  const [suspect] = await claimDue(tdb.db, 'next', 10, 30);
  t.like(suspect, { id: claimed[0]!.id, lease_lapses: 1, attempts: 2 }, 'the started row, alone');
  t.is(suspect!.started_at, null, 'a suspect is marked when it starts, not at the claim');
  const rest = await claimDue(tdb.db, 'next', 10, 30);
  t.deepEqual(
    rest.map((r) => [r.id, r.lease_lapses, r.attempts]),
    [
      [claimed[1]!.id, 0, 1],
      [claimed[2]!.id, 0, 1],
    ],
    'the unstarted rows: no lapse, and the try that never ran not counted again',
  );
});

test.serial('a poison row among innocent ones: the innocents are sent, only the poison row goes dead', async (t) => {
  const maxAttempts = 3;
  const ids = (
    await insertRows(
      Array.from({ length: 20 }, (_, n) => ({ n, poison: n === 7 })),
      maxAttempts,
    )
  ).map((r) => String(r.id));
  const config = testConfig(tdb.url);
  const done: number[] = [];
  const tasks = {
    note: defineTask({ 1: z.object({ n: z.number(), poison: z.boolean() }) }, async ({ n }) => {
      done.push(n);
      return SENT;
    }),
  };
  const deps = {
    db: tdb.db,
    tasks,
    settings: config.dispatcher,
    log: createLogger(config),
    workerId: 'w',
  };
  // A dispatcher with every claimed row in flight at once (CONCURRENCY ≥ BATCH_SIZE, the
  // default): if the poison row is among them, the thread dies with all of them.
  let crashes = 0;
  for (let round = 0; round < 100; round++) {
    const rows: OutboxRow[] = await claimDue(tdb.db, `w${round}`, 200, 30);
    if (rows.length === 0) break;
    t.true(rows.length === 1 || !rows.some(isSuspect), 'a suspect is claimed alone');
    if (rows.some((r) => (r.payload as { poison: boolean }).poison)) {
      crashes++;
      // Every row had started (a suspect is marked as it starts); the poison row crashed them.
      await markStartedMany(
        tdb.db,
        rows.map((r) => r.id),
        `w${round}`,
      );
      await lapseLeases();
      continue;
    }
    for (const row of rows) await processRow({ ...deps, workerId: `w${round}` }, row);
  }
  const rows = await tdb.db('outbox').whereIn('id', ids).orderBy('id');
  t.deepEqual(
    rows.map((r) => r.status),
    ids.map((_, n) => (n === 7 ? 'dead' : 'sent')),
  );
  t.regex(rows[7].last_error, /crashed the dispatcher: its lease lapsed 3 times/);
  t.is(crashes, maxAttempts, 'one crash in the batch, then the culprit alone until max_attempts');
  t.deepEqual(
    [...done].sort((a, b) => a - b),
    ids.map((_, n) => n).filter((n) => n !== 7),
  );
});

test.serial('dispatching after a crash works every suspect alone and then the rest, in one run', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  for (let i = 0; i < 5; i++) await requestPwdReset(tdb.db, config, user.email);
  await claimDue(tdb.db, 'doomed', 3, 30);
  await lapseLeases();
  const result = await dispatch(tdb.db, config);
  t.like(result, { claimed: 5, suspects: 3, sent: 5 });
});

test.serial('dispatching until idle goes on past claims cut by bytes', async (t) => {
  const config = testConfig(tdb.url);
  // 6 MB of payloads in one batch's worth of rows: the first claim stops at 4 MB.
  await tdb.db.raw(
    `INSERT INTO outbox (kind, payload)
     SELECT 'pwd_reset_email', jsonb_build_object('email', 'nobody-' || g || '@example.com', 'pad', repeat('x', 60000))
     FROM generate_series(1, 100) g`,
  );
  const result = await dispatch(tdb.db, config);
  t.like(result, { claimed: 100, skipped: 100 });
});
