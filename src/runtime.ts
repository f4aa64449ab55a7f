/** The few places where how we were started matters; Node and Deno differences stay here. */
import { realpathSync } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

/** True when the module at `moduleUrl` is the program's entry point (Node's and Deno's). */
export function isEntry(moduleUrl: string): boolean {
  const main = (import.meta as { main?: boolean }).main;
  const script = process.argv[1];
  if (!script) return Boolean(main);
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}

/**
 * How to start `moduleUrl` as a worker thread. Node 20 does not carry the TypeScript loader
 * (tsx's module hooks) into worker threads, so a `.ts` module is loaded through tsx's API there;
 * compiled code and Deno (which runs TypeScript itself) load the module directly.
 */
export function workerEntry(moduleUrl: string): { entry: URL | string; eval: boolean } {
  if (!moduleUrl.endsWith('.ts') || 'Deno' in globalThis) return { entry: new URL(moduleUrl), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  return { entry: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); })`, eval: true };
}
