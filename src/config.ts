/**
 * Settings: the environment read once, checked once, frozen.
 *
 * This is the only module that reads `process.env`. Every key of SPEC §3 can be set as
 * `DUNDIE_<SECTION>__<KEY>` (case-insensitive); `DATABASE_URL`, `PORT` and `NODE_ENV` are read
 * as they are. A bad value does not fall back to a default: the start stops with one line per
 * problem, so a typo in production is seen at once rather than on the first reset e-mail.
 *
 * Longer than most modules on purpose: the schema below is the one list of every setting, and
 * split over files it would no longer read as one table beside the configuration docs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import cron from 'node-cron';
import { PREPARED_STATEMENT_MODES } from './db/connections.ts';
import { signingKey } from './email/httpChannel.ts';
import { weakKeyReason } from './secretKeys.ts';

type Kind = 'string' | 'optional' | 'int' | 'bool' | 'duration';
interface Field<K extends Kind = Kind> {
  kind: K;
  default?: string;
  min?: number;
  oneOf?: readonly string[];
}
type FieldValue<F> =
  F extends Field<'int'>
    ? number
    : F extends Field<'duration'>
      ? number
      : F extends Field<'bool'>
        ? boolean
        : F extends Field<'optional'>
          ? string | undefined
          : string;

const str = (def: string, oneOf?: readonly string[]): Field<'string'> => ({ kind: 'string', default: def, oneOf });
const int = (def: number, min = 0): Field<'int'> => ({ kind: 'int', default: String(def), min });
const bool = (def: boolean): Field<'bool'> => ({ kind: 'bool', default: String(def) });
const optional = (): Field<'optional'> => ({ kind: 'optional' });
/** A length of time, `90s`, `30m`, `24h`, `7d` or plain seconds; read as seconds. */
const duration = (def: string, min = 1): Field<'duration'> => ({ kind: 'duration', default: def, min });
const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** Sections and keys with SPEC §3's defaults, plus Dundie's own. */
const schema = {
  security: {
    SECRET_KEY: optional(),
    ALGORITHM: str('HS256', ['HS256', 'HS384', 'HS512']),
    ACCESS_TOKEN_EXPIRE_MINUTES: int(600, 1),
    REFRESH_TOKEN_EXPIRE_MINUTES: int(600, 1),
    RESET_TOKEN_EXPIRE_MINUTES: int(10, 1),
    /** Unset: `{server.PUBLIC_URL}/reset_password`, the service's own page. */
    PWD_RESET_URL: optional(),
    /** Comma-separated keys that still verify tokens (never sign them), for rotating SECRET_KEY. */
    PREVIOUS_SECRET_KEYS: optional(),
    /** At most one reset e-mail per address in this many seconds; later requests are skipped. */
    PWD_RESET_COOLDOWN_SECONDS: int(60),
    /** The cooldown doubles with each e-mail to one address up to this; a quiet day resets it. */
    PWD_RESET_COOLDOWN_MAX_SECONDS: int(3600),
    /** Per client address; 0 turns a limit off. */
    RATE_LIMIT_PWD_RESET_PER_MINUTE: int(5),
    RATE_LIMIT_LOGIN_PER_MINUTE: int(20),
    /** Login attempts per username and client address per window before that client is refused. */
    LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: int(10),
    /** The looser ceiling per username across all clients (guessing from many addresses). */
    LOGIN_FAILURES_PER_USERNAME: int(100),
    LOGIN_FAILURE_WINDOW_SECONDS: int(900, 1),
    /** Progressive delay: the n-th attempt of a client on a username waits this * 2^(n-2) ms (max 8 s). */
    LOGIN_FAILURE_DELAY_MS: int(250),
    /** Password hashes (scrypt) at once per process; 0: one per core. */
    HASH_CONCURRENCY: int(0),
    /** Hashes that may wait for one; past it a login answers 503 with Retry-After at once. */
    HASH_QUEUE: int(8),
    /** Places in that line one client address may hold (a flood from one address fills no more). */
    HASH_QUEUE_PER_CLIENT: int(2, 1),
    /** An access token from /token sets a password without the current one only this long. */
    FRESH_TOKEN_MINUTES: int(15, 0),
    /** Take the client address from X-Forwarded-For: only behind a proxy that sets it. */
    TRUST_PROXY: bool(false),
    /**
     * With TRUST_PROXY: how many proxies of ours append to X-Forwarded-For. The client is the
     * entry this many from the right; entries left of it were written by the client itself.
     */
    PROXY_HOPS: int(1, 1),
    /** Clients with IPv6 addresses are counted by this prefix: one /64 is one home or one machine. */
    IPV6_PREFIX_BITS: int(64, 1),
  },
  email: {
    /**
     * How e-mails leave: `log` (appended to log_file), `smtp`, or `http` (a signed JSON POST to
     * HTTP_URL). Unset: `log` while debug_mode is on, else `smtp` (debug_mode is the old name of `log`).
     */
    TRANSPORT: optional(),
    debug_mode: bool(true),
    smtp_sender: str('no-reply@dm.com'),
    smtp_server: str('localhost'),
    smtp_port: int(1025, 1),
    smtp_user: optional(),
    smtp_password: optional(),
    /** Where debug mode appends messages; relative to the working directory. */
    log_file: str('email.log'),
    /** Seconds to wait for an SMTP server to connect and answer before counting a failure. */
    timeout_seconds: int(30, 1),
    /** The language of e-mails whose request named none (`en` or `pt-BR`). */
    DEFAULT_LOCALE: str('en', ['en', 'pt-BR']),
    /**
     * Connections in the SMTP pool of a dispatcher process, each kept open for any number of
     * messages. Eight carried more e-mails per second to a local sink than 16 or 64 did.
     */
    smtp_connections: int(8, 1),
    /** Where the `http` transport posts each message (http or https). */
    HTTP_URL: optional(),
    /** The `http` transport's signing secret, `whsec_` and 24 to 64 bytes in base64 (Standard Webhooks). */
    HTTP_SECRET: optional(),
  },
  dispatcher: {
    /** node-cron expression (with seconds) of the safety-net claim; LISTEN/NOTIFY wakes it at once. */
    CRON: str('*/5 * * * * *'),
    /** node-cron expression of housekeeping (old rows, throttle and rate-limit entries). */
    HOUSEKEEPING_CRON: str('17 * * * * *'),
    /** Wake on PostgreSQL notifications; off, only the cron tick claims (for comparisons). */
    LISTEN: bool(true),
    /** Rows claimed at a time: one claim, then one slot statement and one `sent` write per batch in flight. */
    BATCH_SIZE: int(200, 1),
    /**
     * E-mails in flight at once per dispatcher process. The dispatcher mostly waits (on its
     * group-committed writes, on the transport), and the more rows wait together the more each
     * write carries: 8 left it idle three quarters of the time, 64 a fifth. Over SMTP the rows
     * beyond the pool's connections wait in its queue, unsent, so a crash duplicates none of them.
     */
    CONCURRENCY: int(256, 1),
    /**
     * While rows stream in, the least time from one claim's start to the next's, after a claim of
     * `BUSY_CLAIM_ROWS` or more that was not full (`outbox/dispatcher.ts`); 0: claim at every
     * notification.
     */
    BUSY_CLAIM_GAP_MS: int(10, 0),
    /** How long shutdown waits for e-mails in flight before it leaves them to their leases. */
    SHUTDOWN_GRACE_SECONDS: int(8, 0),
    /**
     * How many times a row may be found abandoned (its lease lapsed: the dispatcher crashed or hung
     * while sending it) before it goes `dead`. Failed sends are retried by time instead (GIVE_UP_AFTER).
     */
    MAX_ATTEMPTS: int(8, 1),
    /**
     * How long a claim is held; renewed every third of it while the send is alive, so a crashed
     * dispatcher's rows are free for another within about this long.
     */
    LEASE_SECONDS: int(30, 1),
    /** Temporary failures are retried (capped exponential backoff, full jitter) until a row is this old. */
    GIVE_UP_AFTER: duration('24h'),
    BACKOFF_BASE_SECONDS: int(5, 1),
    BACKOFF_MAX_SECONDS: int(3600, 1),
  },
  api: {
    BODY_LIMIT_KB: int(100, 1),
    /** A client must send its headers within this long (slowloris), and its whole request within the next. */
    HEADERS_TIMEOUT_SECONDS: int(10, 1),
    REQUEST_TIMEOUT_SECONDS: int(30, 1),
    /**
     * Idle keep-alive connections are closed after this long (clients are told, and close first).
     * Behind a proxy or load balancer that reuses connections, set it above the proxy's idle timeout.
     */
    KEEP_ALIVE_TIMEOUT_SECONDS: int(5, 1),
    /** Open connections at most; a new one takes the place of an idle one, else it is closed. */
    MAX_CONNECTIONS: int(1024, 1),
    /** Open connections at most from one client address (IPv6: its /64), more are closed; 0: none. Not with TRUST_PROXY. */
    MAX_CONNECTIONS_PER_CLIENT: int(64, 0),
  },
  server: {
    /** Where people reach the service: the pages' own origin and the e-mailed link's default. */
    PUBLIC_URL: str('http://localhost:8000'),
    /** Comma-separated exact origins allowed to call the API from a browser (CORS); none by default. */
    CORS_ORIGINS: optional(),
  },
  /**
   * Where `/metrics` (and /health, /ready) is served, for the API and the dispatcher alike: never
   * on the public port, whose counters would tell anyone whether a reset went to a real account.
   * Port 0 takes a free port (tests).
   */
  metrics: {
    PORT: int(9464, 0),
    HOST: str('127.0.0.1'),
  },
  outbox: {
    /** `sent` and `skipped` rows are kept this long (their day's partition is dropped after); `dead` rows stay for an operator. */
    RETENTION_DAYS: int(7, 1),
  },
  audit: {
    /** `security_events` older than this are deleted by housekeeping. */
    RETENTION_DAYS: int(365, 1),
  },
  database: {
    POOL_MAX: int(10, 1),
    /** Connecting or waiting for a pooled connection longer than this answers 503, not a hang. */
    TIMEOUT_SECONDS: int(3, 1),
    /** Named (server-side prepared) hot statements; `auto`: only on a direct connection, not through a pooler. */
    PREPARED_STATEMENTS: str('auto', PREPARED_STATEMENT_MODES),
    /** Where the dispatcher LISTENs: a direct (or session-pooled) connection, when DATABASE_URL is a transaction pooler. */
    LISTEN_URL: optional(),
  },
  log: {
    LEVEL: str('info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    /** `auto`: readable in development, JSON in production. */
    FORMAT: str('auto', ['auto', 'json', 'pretty']),
  },
} as const;

type Schema = typeof schema;
export type Settings = {
  readonly [S in keyof Schema]: { readonly [K in keyof Schema[S]]: FieldValue<Schema[S][K]> };
} & {
  readonly env: 'development' | 'production';
  readonly port: number;
  /** Unset: the service starts (or joins) an embedded PostgreSQL under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** Where development state lives: the embedded database and the generated secret key. */
  readonly dataDir: string;
  readonly security: {
    readonly SECRET_KEY: string;
    /** SECRET_KEY first, then PREVIOUS_SECRET_KEYS: every key a token may be signed with. */
    readonly VERIFY_KEYS: readonly string[];
    readonly PWD_RESET_URL: string;
  };
  readonly server: {
    /** PUBLIC_URL without a trailing slash. */
    readonly PUBLIC_URL: string;
    /** CORS_ORIGINS parsed: exact origins such as `https://rewards.dm.com`. */
    readonly CORS_ORIGIN_LIST: readonly string[];
  };
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

function parseField(name: string, field: Field, raw: string | undefined, problems: string[]): unknown {
  const value = raw ?? field.default;
  if (field.kind === 'optional') return value === '' ? undefined : value;
  if (value === undefined) return undefined;
  switch (field.kind) {
    case 'int': {
      const n = Number(value);
      if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < (field.min ?? 0)) {
        problems.push(`${name} must be a whole number of at least ${field.min ?? 0}, got "${value}"`);
      }
      return n;
    }
    case 'duration': {
      const match = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(value);
      const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]! : NaN;
      if (!Number.isSafeInteger(seconds) || seconds < (field.min ?? 0)) {
        problems.push(
          `${name} must be a duration such as 90s, 30m, 24h or 7d (at least ${field.min ?? 0} s), got "${value}"`,
        );
      }
      return seconds;
    }
    case 'bool': {
      const v = value.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      problems.push(`${name} must be true or false, got "${value}"`);
      return false;
    }
    default:
      if (field.oneOf && !field.oneOf.includes(value)) {
        problems.push(`${name} must be one of ${field.oneOf.join(', ')}, got "${value}"`);
      }
      return value;
  }
}

/** In development the key is made once and kept, so tokens survive a restart. */
function developmentSecret(dataDir: string): string {
  const file = path.join(dataDir, 'secret_key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, key + '\n', { mode: 0o600 });
  return key;
}

const isHttpUrl = (value: string) => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

export const EMAIL_TRANSPORTS = ['log', 'smtp', 'http'] as const;
export type EmailTransport = (typeof EMAIL_TRANSPORTS)[number];

/** The transport e-mails take: TRANSPORT when set, else `log` in debug mode and `smtp` otherwise. */
export function emailTransport(email: { TRANSPORT?: string; debug_mode: boolean }): EmailTransport {
  return (email.TRANSPORT as EmailTransport | undefined) ?? (email.debug_mode ? 'log' : 'smtp');
}

/** The `http` transport needs its endpoint and a secret of the Standard Webhooks format. */
function checkEmail(email: Record<string, unknown>, problems: string[]): void {
  const transport = email.TRANSPORT as string | undefined;
  if (transport !== undefined && !(EMAIL_TRANSPORTS as readonly string[]).includes(transport)) {
    problems.push(`DUNDIE_EMAIL__TRANSPORT must be one of ${EMAIL_TRANSPORTS.join(', ')}, got "${transport}"`);
    return;
  }
  if (transport !== 'http') return;
  const url = email.HTTP_URL as string | undefined;
  if (!url || !isHttpUrl(url)) {
    problems.push(
      `DUNDIE_EMAIL__HTTP_URL must be an http(s) URL with DUNDIE_EMAIL__TRANSPORT=http, got "${url ?? ''}"`,
    );
  }
  const key = signingKey((email.HTTP_SECRET as string | undefined) ?? '');
  if (typeof key === 'string') problems.push(`DUNDIE_EMAIL__HTTP_SECRET ${key}`);
}

/** PUBLIC_URL and CORS_ORIGINS must be plain origins; PWD_RESET_URL defaults from PUBLIC_URL. */
function checkServer(server: Record<string, unknown>, security: Record<string, unknown>, problems: string[]): void {
  const publicUrl = (server.PUBLIC_URL as string).replace(/\/+$/, '');
  if (!isHttpUrl(publicUrl)) problems.push(`DUNDIE_SERVER__PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);
  server.PUBLIC_URL = publicUrl;
  security.PWD_RESET_URL ??= `${publicUrl}/reset_password`;
  const origins = ((server.CORS_ORIGINS as string | undefined) ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    // Exact origins only: no wildcard, no path, so the list reads as what it allows.
    if (!isHttpUrl(origin) || new URL(origin).origin !== origin) {
      problems.push(
        `DUNDIE_SERVER__CORS_ORIGINS must list exact origins such as https://app.dm.com (no "*", no path), got "${origin}"`,
      );
    }
  }
  server.CORS_ORIGIN_LIST = Object.freeze(origins);
}

/**
 * Read and check every setting. Throws a ConfigError listing every problem at once.
 * Tests pass their own `env` object instead of touching `process.env`.
 */
/** Each `DUNDIE_<SECTION>__<KEY>` parsed by its field, names compared without case; unknown names are problems. */
function readSections(env: Record<string, string | undefined>, problems: string[]) {
  const byUpperName = new Map(
    Object.entries(env)
      .filter(([k]) => k.toUpperCase().startsWith('DUNDIE_'))
      .map(([k, v]) => [k.toUpperCase(), v]),
  );
  const known = new Set<string>(['DUNDIE_DATA_DIR']);
  const sections: Record<string, Record<string, unknown>> = {};
  for (const [section, fields] of Object.entries(schema)) {
    sections[section] = {};
    for (const [key, field] of Object.entries(fields as Record<string, Field>)) {
      const envName = `DUNDIE_${section}__${key}`.toUpperCase();
      known.add(envName);
      sections[section][key] = parseField(envName, field, byUpperName.get(envName), problems);
    }
  }
  for (const name of byUpperName.keys()) {
    if (name === 'DUNDIE_DISPATCHER__METRICS_PORT')
      problems.push(`${name} was replaced by DUNDIE_METRICS__PORT (and DUNDIE_METRICS__HOST)`);
    else if (!known.has(name)) problems.push(`${name} is not a setting Dundie knows (see docs/configuration.md)`);
  }
  return sections;
}

function checkDatabase(
  databaseUrl: string | undefined,
  database: Record<string, unknown>,
  mode: Settings['env'],
  problems: string[],
) {
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// URL');
  }
  const listenUrl = database.LISTEN_URL as string | undefined;
  if (listenUrl && !/^postgres(ql)?:\/\//.test(listenUrl)) {
    problems.push('DUNDIE_DATABASE__LISTEN_URL must be a postgres:// URL');
  }
  if (mode === 'production' && !databaseUrl) {
    problems.push(
      'DATABASE_URL is required when NODE_ENV=production (the embedded PostgreSQL is for development only)',
    );
  }
}

/** The signing keys: required and strong in production, made up once per data folder in development. */
function checkKeys(security: Record<string, unknown>, mode: Settings['env'], dataDir: string, problems: string[]) {
  if (security.SECRET_KEY === undefined) {
    if (mode === 'production') {
      problems.push('DUNDIE_SECURITY__SECRET_KEY is required when NODE_ENV=production');
    } else if (problems.length === 0) {
      security.SECRET_KEY = developmentSecret(dataDir);
    }
  } else if (mode === 'production') {
    const weak = weakKeyReason(security.SECRET_KEY as string);
    if (weak) problems.push(`DUNDIE_SECURITY__SECRET_KEY ${weak}`);
  }
  const previous = ((security.PREVIOUS_SECRET_KEYS as string | undefined) ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const weakPrevious = mode === 'production' ? previous.map(weakKeyReason).find(Boolean) : undefined;
  if (weakPrevious) problems.push(`DUNDIE_SECURITY__PREVIOUS_SECRET_KEYS: a key ${weakPrevious}`);
  security.VERIFY_KEYS = Object.freeze([security.SECRET_KEY, ...previous]);
}

function checkDispatcher(dispatcher: Record<string, unknown>, problems: string[]) {
  for (const key of ['CRON', 'HOUSEKEEPING_CRON']) {
    if (!cron.validate(dispatcher[key] as string)) {
      problems.push(`DUNDIE_DISPATCHER__${key} is not a cron expression: "${dispatcher[key] as string}"`);
    }
  }
  // A gap is a few milliseconds of batching: past a second it would only delay e-mails.
  if ((dispatcher.BUSY_CLAIM_GAP_MS as number) > 1000)
    problems.push('DUNDIE_DISPATCHER__BUSY_CLAIM_GAP_MS must be at most 1000');
  if ((dispatcher.BACKOFF_MAX_SECONDS as number) < (dispatcher.BACKOFF_BASE_SECONDS as number)) {
    problems.push('DUNDIE_DISPATCHER__BACKOFF_MAX_SECONDS must not be below DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS');
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Settings {
  const problems: string[] = [];
  const sections = readSections(env, problems);
  const nodeEnv = env.NODE_ENV ?? 'development';
  const mode = nodeEnv === 'production' ? 'production' : 'development';
  const dataDir = path.resolve(env.DUNDIE_DATA_DIR ?? '.data');

  const port = parseField('PORT', int(8000, 0), env.PORT, problems) as number;
  if (port > 65535) problems.push(`PORT must be at most 65535, got "${env.PORT}"`);
  if ((sections.metrics!.PORT as number) > 65535) problems.push('DUNDIE_METRICS__PORT must be at most 65535');
  const databaseUrl = env.DATABASE_URL || undefined;
  checkDatabase(databaseUrl, sections.database!, mode, problems);
  const security = sections.security!;
  checkKeys(security, mode, dataDir, problems);
  if ((security.IPV6_PREFIX_BITS as number) > 128)
    problems.push('DUNDIE_SECURITY__IPV6_PREFIX_BITS must be at most 128');
  checkServer(sections.server!, security, problems);
  checkEmail(sections.email!, problems);
  checkDispatcher(sections.dispatcher!, problems);
  const api = sections.api!;
  if ((api.HEADERS_TIMEOUT_SECONDS as number) > (api.REQUEST_TIMEOUT_SECONDS as number)) {
    problems.push('DUNDIE_API__HEADERS_TIMEOUT_SECONDS must not be above DUNDIE_API__REQUEST_TIMEOUT_SECONDS');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  for (const section of Object.values(sections)) Object.freeze(section);
  return Object.freeze({ ...sections, env: mode, port, databaseUrl, dataDir }) as unknown as Settings;
}
