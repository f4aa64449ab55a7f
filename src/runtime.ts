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
