/**
 * Run as a script: logs `count` JSON lines from this thread and as many from a worker thread, to
 * stdout through the service's logger, then exits at once with `process.exit`.
 */
import { isMainThread, Worker } from 'node:worker_threads';
import { createLogger } from '../../src/log.ts';
import { workerEntry } from '../../src/runtime.ts';

const count = Number(process.argv[2] ?? 1000);
const log = createLogger({ env: 'production', log: { LEVEL: 'info', FORMAT: 'json' } });
const padding = 'x'.repeat(200);

function logLines(thread: string): void {
  for (let i = 0; i < count; i++) log.info({ thread, i, padding }, 'a line');
}

if (isMainThread) {
  const { entry, eval: isCode } = workerEntry(import.meta.url);
  const worker = new Worker(entry, { eval: isCode, argv: [String(count)] });
  logLines('main');
  await new Promise((resolve) => worker.once('exit', resolve));
  process.exit(0);
} else {
  logLines('worker');
}
