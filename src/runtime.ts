/** The few places where how we were started matters; Node and Deno differences stay here. */
import { realpathSync } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

/** Running on Deno, not Node. */
export const onDeno = 'Deno' in globalThis;

/**
 * True when the module whose `import.meta` this is was the program's entry point: Deno says so
 * in `import.meta.main`; on Node, the script named on the command line is compared with it.
 */
export function isEntry(meta: ImportMeta): boolean {
  const main = (meta as { main?: boolean }).main;
  if (typeof main === 'boolean') return main;
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === meta.url;
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
  if (!moduleUrl.endsWith('.ts') || onDeno) return { entry: new URL(moduleUrl), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  return {
    entry: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); })`,
    eval: true,
  };
}
