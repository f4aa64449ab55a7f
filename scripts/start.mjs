/**
 * `npm start`: the compiled build, compiled first when the sources are newer than it. Under tsx
 * the same service answered a quarter fewer requests per second (docs/performance.md); this
 * keeps `npm ci && npm start` one command and runs what the image runs.
 *
 * The build here only emits (`tsc --noCheck`, about a second); `npm run typecheck` and
 * `npm run build` check the types.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'src', 'main.js');
const inputs = ['src', 'migrations', 'knexfile.ts', 'tsconfig.json', 'package-lock.json'];

/** The newest modification time under `file` (a file or a folder), 0 when it is missing. */
function newest(file) {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

const built = newest(entry);
if (built === 0 || Math.max(...inputs.map((input) => newest(path.join(root, input)))) > built) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--noCheck'], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('dundie: the build failed (npm run build shows why)');
    process.exit(1);
  }
}

const { serve } = await import(pathToFileURL(entry).href);
await serve();
