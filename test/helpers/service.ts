/**
 * The real service on a port of its own, over a test database, and a small JSON client for it.
 * The dispatcher is not started: tests dispatch once themselves (helpers/flow.ts), or start it on purpose.
 */
import type { Settings } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startService, type Roles, type RunningService } from '../../src/service.ts';

export interface Api {
  service: RunningService;
  base: string;
  /** Where /metrics is: the metrics port, never the API's. */
  metricsBase: string;
  request(
    method: string,
    path: string,
    options?: {
      json?: unknown;
      form?: Record<string, string>;
      token?: string;
      body?: string;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

export async function startApi(
  config: Settings,
  roles: Roles = { api: true, dispatcher: false },
  log: Logger = createLogger(config),
): Promise<Api> {
  const service = await startService(config, log, roles);
  const base = `http://127.0.0.1:${service.port}`;
  return {
    service,
    base,
    metricsBase: `http://127.0.0.1:${service.metricsPort}`,
    async request(method, path, { json, form, token, body, headers = {} } = {}) {
      const h: Record<string, string> = { ...headers };
      let payload: string | undefined = body;
      if (json !== undefined) {
        h['content-type'] ??= 'application/json';
        payload = JSON.stringify(json);
      }
      if (form) {
        h['content-type'] = 'application/x-www-form-urlencoded';
        payload = new URLSearchParams(form).toString();
      }
      if (token) h.authorization = `Bearer ${token}`;
      const res = await fetch(base + path, { method, headers: h, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: the assertion on the body will say so
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}
