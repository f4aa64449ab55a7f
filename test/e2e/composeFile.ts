/**
 * compose.yaml, checked where it cannot run (no PostgreSQL or Mailpit image here). A YAML parser
 * (python3's, in scripts/container-check.sh) hands it over as JSON:
 *
 *   python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' \
 *     < compose.yaml | tsx test/e2e/composeFile.ts
 *
 * Each service built from the Dockerfile has its environment interpolated as compose would (a
 * random key for the one it asks of the user) and read by the service's own config module, so an
 * unknown DUNDIE_* name or a bad value fails here as the container would fail at start. Its health
 * check must ask a port the service listens on, and only the API port may be published.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { ConfigError, loadConfig } from '../../src/config.ts';

interface Service {
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  command?: string[] | string;
  ports?: (string | number)[];
  healthcheck?: { test?: string[] | string };
}

const compose = JSON.parse(readFileSync(0, 'utf8')) as { services?: Record<string, Service> };
/** What the user exports before `docker compose up`; compose stops on `${NAME:?...}` without it. */
const userEnv: Record<string, string> = { DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64') };

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` and `$$`, as compose reads them. */
function interpolate(value: string, problems: string[]): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g, (whole, braced, op, arg, bare) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    const set = userEnv[name];
    if (set !== undefined && (set !== '' || !op?.startsWith(':'))) return set;
    if (op?.endsWith('-')) return arg as string;
    if (op?.endsWith('?')) problems.push(`\${${name}} is required by compose.yaml and not provided here`);
    return '';
  });
}

const problems: string[] = [];
const services = Object.entries(compose.services ?? {}).filter(([, s]) => s.build !== undefined);
if (services.length === 0) problems.push('no service is built from the Dockerfile');
for (const [name, service] of services) {
  const before = problems.length;
  const env: Record<string, string> = {};
  const entries = Array.isArray(service.environment)
    ? service.environment.map((e) => [e.split('=')[0]!, e.includes('=') ? e.slice(e.indexOf('=') + 1) : null] as const)
    : Object.entries(service.environment ?? {});
  for (const [key, value] of entries) {
    // Compose's reference: quote booleans (YAML reads `yes` and `off` as booleans too).
    if (typeof value === 'boolean') problems.push(`${name}: ${key} is a YAML boolean; quote it`);
    if (value !== null) env[key] = interpolate(String(value), problems);
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map((p) => `${name}: ${p}`));
    continue;
  }
  const args = typeof service.command === 'string' ? service.command.split(/\s+/) : (service.command ?? []);
  const api = !args.includes('--dispatcher') || args.includes('--api');
  const listens = new Set([config.metrics.PORT, ...(api ? [config.port] : [])]);
  const test = [service.healthcheck?.test ?? []].flat().join(' ');
  for (const [, port] of test.matchAll(/127\.0\.0\.1:(\d+)/g)) {
    if (!listens.has(Number(port))) problems.push(`${name}: its health check asks port ${port}, where nothing listens`);
  }
  for (const published of service.ports ?? []) {
    const inside = Number(String(published).split(':').at(-1)!.split('/')[0]);
    if (inside !== config.port || !api) problems.push(`${name}: publishes port ${inside}, not the API port`);
  }
  if (problems.length === before) {
    const settings = Object.keys(env).filter((k) => k.startsWith('DUNDIE_')).length;
    console.log(`compose: ${name}: ${settings} DUNDIE_* settings, all known and valid; health check and ports agree`);
  }
}
if (problems.length > 0) {
  problems.forEach((p) => console.error(`compose.yaml: ${p}`));
  process.exit(1);
}
