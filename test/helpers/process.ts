/** Runs the real CLI as its own process, as a user or an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import process from 'node:process';

const CLI = ['--import', 'tsx', 'src/cli.ts'];

export function cliEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    DATABASE_URL: databaseUrl,
    PORT: '0',
    DUNDIE_METRICS__PORT: '0',
    DUNDIE_SECURITY__SECRET_KEY: 'test-secret-key-that-is-long-enough-0123456789',
    DUNDIE_LOG__LEVEL: 'info',
    DUNDIE_LOG__FORMAT: 'json',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '0',
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '0',
    ...env,
  };
}

export function runCli(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<number | null>;
}

/** `dundie serve` in its own process (from `cwd`'s checkout); resolves once the API listens (or the dispatcher runs). */
export function startServe(
  args: string[],
  env: Record<string, string>,
  { cwd }: { cwd?: string } = {},
): Promise<ServiceProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'serve', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), 30_000);
    let started = false;
    /** Where the lines not yet looked at begin. */
    let unread = 0;
    const onData = (d: Buffer) => {
      out += d;
      if (started) return;
      // Whole lines only: a chunk may end in the middle of one.
      const end = out.lastIndexOf('\n');
      if (end < unread) return;
      const lines = out.slice(unread, end).split('\n');
      unread = end + 1;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line);
        if (
          entry.msg?.startsWith('API listening') ||
          (!args.includes('--api') && entry.msg === 'dispatcher started' && args.includes('--dispatcher'))
        ) {
          started = true;
          clearTimeout(timer);
          resolve({ child, port: entry.port ?? 0, output: () => out, exited });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (out += d));
    exited.then((code) => reject(new Error(`service exited (${code}) before it started:\n${out}`)));
  });
}
