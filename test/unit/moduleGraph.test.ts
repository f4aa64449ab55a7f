/**
 * What each thread loads at start, read from the sources' static imports: every module a thread
 * loads stays in its heap (docs/performance.md, npm start's peak RSS), so the API's thread loads
 * no mail transport and no thread loads the pretty printer unless it prints pretty lines.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Every module reached from `entry` by static, non-type imports: sources by path, packages by specifier. */
function staticGraph(entry: string): Set<string> {
  const reached = new Set<string>();
  const pending = [path.join(src, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (reached.has(file)) continue;
    reached.add(file);
    const source = readFileSync(file, 'utf8');
    // `import … from`, `export … from` and `import 'x'`; not `import type` nor `export type`.
    for (const [, specifier] of source.matchAll(
      /^(?:import|export)\s+(?:(?!type\b)[^;]*?\bfrom\s+)?['"]([^'"]+)['"]/gm,
    )) {
      if (specifier!.startsWith('.')) pending.push(path.resolve(path.dirname(file), specifier!));
      else reached.add(specifier!);
    }
  }
  return reached;
}

/** Whether the graph loads `pkg`, by its name or any of its files, `except` those. */
const loads = (modules: string[], pkg: string, except: string[] = []) =>
  modules.some((m) => (m === pkg || m.startsWith(`${pkg}/`)) && !except.includes(m));

const relative = (modules: Set<string>) =>
  [...modules].map((m) => (m.startsWith(src) ? path.relative(src, m).split(path.sep).join('/') : m));

for (const entry of ['main.ts', 'cli.ts']) {
  test(`module graph: the API process (${entry}) loads neither the mail transport nor the tasks that send`, (t) => {
    const api = relative(staticGraph(entry));
    t.true(api.includes('app.ts'), 'the walk follows the imports');
    // Its address parser checks addresses on the API's side; the rest of nodemailer sends.
    t.false(loads(api, 'nodemailer', ['nodemailer/lib/addressparser/index.js']));
    t.false(api.includes('email/mailer.ts'));
    t.deepEqual(
      api.filter((m) => m.startsWith('tasks/') && m !== 'tasks/kinds.ts' && m !== 'tasks/securityEvents.ts'),
      [],
    );
  });
}

test('module graph: the dispatcher thread loads its tasks once it runs, the pretty printer only for pretty lines', (t) => {
  const thread = relative(staticGraph('dispatcherThread.ts'));
  t.false(thread.includes('tasks/emailDispatcher.ts'), 'imported where the thread runs, not by its parent');
  const dispatcher = relative(staticGraph('tasks/emailDispatcher.ts'));
  t.true(loads(dispatcher, 'nodemailer'));
  for (const entry of ['main.ts', 'cli.ts', 'dispatcherThread.ts'])
    t.false(loads(relative(staticGraph(entry)), 'pino-pretty'), entry);
});
