/**
 * SQL of `security_events`, the audit trail of an account: who changed a password,
 * when, how and from where. Written by the code that does what an event records, in the same
 * transaction: by `recordSecurityEvent`, or by `insertSecurityEventsSql` inside a statement that
 * does that work (the dispatcher's end of a reset row). An event never holds a password, a token,
 * a code, or an address someone typed: only the user's id, the kind, how or why, and the request
 * it came from.
 */
import type { Conn } from '../db/database.ts';

/** How a password was changed: a reset link, a one-time code, the user's own session, a superuser. */
export const PASSWORD_CHANGE_HOWS = ['link', 'code', 'session', 'admin'] as const;
export type PasswordChangeHow = (typeof PASSWORD_CHANGE_HOWS)[number];

/** Why a login was refused: a wrong password (or no such user), or a limit on guessing. */
export type LoginRefusal = 'password' | 'limit';

export type SecurityEvent =
  | { kind: 'reset_email_sent'; userId: number }
  /** A superuser or an operator sent the reset e-mail (overriding the cooldown or not), or made a help desk's link and code. */
  | { kind: 'admin_reset_sent'; userId: number; detail: 'email' | 'email_cooldown_overridden' | 'link_made' }
  /** `detail`: why (`no_account`, `throttled`, `superseded`, `suppressed`). */
  | { kind: 'reset_email_skipped'; userId?: number; detail: string }
  | { kind: 'password_changed'; userId: number; detail: PasswordChangeHow }
  | { kind: 'login_succeeded'; userId: number }
  /** `username`: resolved to the user in the INSERT; never stored itself (it may be a password typed in the wrong box). */
  | { kind: 'login_refused'; username: string; detail: LoginRefusal }
  /** A spent refresh token came back: its family (every session it issued) is revoked. */
  | { kind: 'refresh_token_reused'; userId: number }
  | { kind: 'sessions_ended'; userId: number; detail?: string };

export type SecurityEventKind = SecurityEvent['kind'];

export const SECURITY_EVENT_KINDS = [
  'reset_email_sent',
  'reset_email_skipped',
  'admin_reset_sent',
  'password_changed',
  'login_succeeded',
  'login_refused',
  'refresh_token_reused',
  'sessions_ended',
] as const satisfies readonly SecurityEventKind[];

/** Where the request came from, as the API saw it. */
export interface Requester {
  address?: string;
  userAgent?: string;
  requestId?: string;
}

export const USER_AGENT_MAX = 256;

export interface SecurityEventRow {
  id: string;
  at: Date;
  kind: SecurityEventKind;
  user_id: number | null;
  /** The account's username now (from `security_events_view`). */
  username: string | null;
  detail: string | null;
  client_address: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** At most `max` UTF-16 units, never half a surrogate pair (which PostgreSQL refuses in JSON). */
const cut = (value: string | undefined, max: number) => {
  if (!value) return null;
  const kept = value.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(kept) ? kept.slice(0, -1) : kept;
};

/** An event and the request it came from. */
export interface SecurityEventEntry<E extends SecurityEvent = SecurityEvent> {
  event: E;
  from?: Requester;
}

/** Records one event, inside the caller's transaction when it is given one. */
export function recordSecurityEvent(db: Conn, event: SecurityEvent, from: Requester = {}): Promise<void> {
  return recordSecurityEvents(db, [{ event, from }]);
}

type EventOfUser = Exclude<SecurityEvent, { username: string }>;

const columns = (event: SecurityEvent, from: Requester, userId: unknown) => ({
  kind: event.kind,
  user_id: userId,
  detail: 'detail' in event ? (event.detail ?? null) : null,
  client_address: cut(from.address, 64),
  user_agent: cut(from.userAgent, USER_AGENT_MAX),
  request_id: cut(from.requestId, 128),
});

/** The columns of an event whose user is known by id (every event but a refused login). */
export const securityEventColumns = ({ event, from = {} }: SecurityEventEntry<EventOfUser>) =>
  columns(event, from, event.userId ?? null);

/**
 * An INSERT of the events in `items`, SQL of a JSON array of them, each as
 * `securityEventColumns` makes it: for a statement that writes them with other work.
 */
export const insertSecurityEventsSql = (items: string) => `
      INSERT INTO security_events (kind, user_id, detail, client_address, user_agent, request_id)
      SELECT e.kind, e.user_id, e.detail, e.client_address, e.user_agent, e.request_id
      FROM json_to_recordset(${items})
        AS e(kind text, user_id int, detail text, client_address text, user_agent text, request_id text)`;

/** Records several events in one statement. */
async function recordSecurityEvents(db: Conn, entries: readonly SecurityEventEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db('security_events').insert(
    entries.map(({ event, from = {} }) =>
      'username' in event
        ? // Resolved here, in the statement: the caller need not know whether the name exists.
          columns(
            event,
            from,
            db.raw('(SELECT id FROM users WHERE username = ?)', [event.username.replaceAll('\u0000', '')]),
          )
        : columns(event, from, event.userId ?? null),
    ),
  );
}

export interface EventQuery {
  userId?: number;
  /** Only events after this time. */
  since?: Date;
  /** Only events older than this id (the next page). */
  before?: string;
  limit: number;
}

/** Newest first, read through `security_events_view` (the documented one: the username with each). */
export function listSecurityEvents(
  db: Conn,
  { userId, since, before, limit }: EventQuery,
): Promise<SecurityEventRow[]> {
  const query = db<SecurityEventRow>('security_events_view').orderBy([
    { column: 'at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  if (userId !== undefined) query.where({ user_id: userId });
  if (since) query.where('at', '>', since);
  if (before !== undefined)
    // Rows of one transaction share `at`, so the page's edge is the pair (at, id).
    query.whereRaw('(at, id) < (SELECT at, id FROM security_events WHERE id = ?)', [before]);
  return query.limit(limit).select('*');
}

/** Deletes events older than `days`, `batch` rows per statement so no one statement holds locks long. */
export async function pruneSecurityEvents(
  db: Conn,
  days: number,
  { anonymousDays = days, batch = 5000 }: { anonymousDays?: number; batch?: number } = {},
): Promise<number> {
  let deleted = 0;
  for (;;) {
    // Events of no account (a login as no one, a reset for an unknown address) are anyone's to
    // cause, in any number: they are kept as long as the outbox rows of the same traffic.
    const { rowCount } = await db.raw<{ rowCount: number }>(
      `DELETE FROM security_events WHERE id IN (
         SELECT id FROM security_events
         WHERE at < now() - make_interval(days => :days)
            OR (user_id IS NULL AND at < now() - make_interval(days => :anonymousDays))
         LIMIT :batch)`,
      { days, anonymousDays: Math.min(days, anonymousDays), batch },
    );
    deleted += rowCount;
    if (rowCount < batch) return deleted;
  }
}
