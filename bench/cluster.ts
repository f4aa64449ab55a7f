/**
 * Several replicas of each role on one database, as a deployment runs them: `dundie serve --api`
 * and `dundie serve --dispatcher` processes, each dispatcher writing its e-mails (debug mode) to
 * a log of its own, and a steady load spread over the API replicas.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { cliEnv, startServe, type ServiceProcess } from '../test/helpers/process.ts';

export interface Replicas {
  apis: ServiceProcess[];
  dispatchers: ServiceProcess[];
  /** Base URLs of the API replicas. */
  urls: string[];
  /** E-mails written so far, per dispatcher, as the recipients' addresses. */
  sentBy(): string[][];
  /** Rows each dispatcher finished (sent + skipped), from its own /metrics. */
  finishedBy(): Promise<number[]>;
  /** True while no process has exited (none had to be restarted). */
  allAlive(): boolean;
  stop(): Promise<void>;
}

export async function startReplicas(
  databaseUrl: string,
  dir: string,
  { apis, dispatchers, env = {} }: { apis: number; dispatchers: number; env?: Record<string, string> },
): Promise<Replicas> {
  const base = cliEnv(databaseUrl, env);
  const logs = Array.from({ length: dispatchers }, (_, i) => path.join(dir, `email-${i + 1}.log`));
  const started = await Promise.all([
    ...Array.from({ length: apis }, () => startServe(['--api'], base)),
    ...logs.map((log) => startServe(['--dispatcher'], { ...base, DUNDIE_EMAIL__LOG_FILE: log })),
  ]);
  const all = started;
  let exited = 0;
  for (const p of all) void p.exited.then(() => exited++);
  let stopping = false;
  return {
    apis: all.slice(0, apis),
    dispatchers: all.slice(apis),
    urls: all.slice(0, apis).map((p) => `http://127.0.0.1:${p.port}`),
    sentBy: () =>
      logs.map((log) =>
        existsSync(log)
          ? [...readFileSync(log, 'utf8').matchAll(/^--- START EMAIL (.*) ---$/gm)].map((m) => m[1]!)
          : [],
      ),
    finishedBy: () => Promise.all(all.slice(apis).map(finishedRows)),
    allAlive: () => stopping || exited === 0,
    async stop() {
      stopping = true;
      for (const p of all) p.child.kill('SIGTERM');
      await Promise.all(all.map((p) => p.exited));
    },
  };
}

/** sent + skipped rows, from the process's /metrics (its port is in its start-up log line). */
async function finishedRows(process: ServiceProcess): Promise<number> {
  const port = /metrics on http:\/\/[^:]+:(\d+)\/metrics/.exec(process.output())?.[1];
  if (!port) throw new Error("no metrics port in the dispatcher's log");
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^dundie_emails_(?:sent|skipped)_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

export interface Answer {
  /** ms since the load started */
  at: number;
  email: string;
  status: number;
  ms: number;
}

/**
 * `rate` reset requests a second in all, round robin over `urls`, each for the next address of
 * `emails`, until `until()` is true; a request gets 10 s before it counts as unanswered (status 0).
 */
export async function steadyLoad(
  urls: string[],
  emails: string[],
  { rate, until, clients = 16 }: { rate: number; until: () => boolean; clients?: number },
): Promise<Answer[]> {
  const answers: Answer[] = [];
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!until() && next < emails.length) {
        const n = next++;
        // Paced: request n leaves at n / rate seconds, whatever the answers' speed.
        const due = start + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const sent = performance.now();
        let status = 0;
        try {
          const res = await fetch(`${urls[n % urls.length]}/user/pwd_reset_token/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: emails[n] }),
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 0;
        }
        answers.push({ at: sent - start, email: emails[n]!, status, ms: performance.now() - sent });
      }
    }),
  );
  return answers.sort((a, b) => a.at - b.at);
}

/** Addresses that were mailed more than once, across every dispatcher's log. */
export function duplicates(sentBy: string[][]): number {
  const seen = new Map<string, number>();
  for (const to of sentBy.flat()) seen.set(to, (seen.get(to) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
}
