/**
 * Files the service reads at run time, found from this module's own place so that the source
 * tree (`src/`), the compiled build (`dist/src/`) and any working directory agree.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project root (with package.json and templates/) above ${from}`);
  }
}

export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));
export const templatesDir = path.join(projectRoot, 'templates');
