/**
 * Where JSON log lines go: the lines of one turn of the event loop are handed to the kernel
 * together, with a synchronous write once the turn is over. Under load that is one or two writes
 * for dozens of request lines, written on the thread that logged them, instead of a write per
 * line through the thread pool (docs/performance.md).
 *
 * A write holds whole lines and at most PIPE_BUF bytes, so on a pipe shared by the API and
 * dispatcher threads it lands whole or not at all: lines are never cut into each other. A longer
 * line goes in a write of its own; on a pipe whose reader is behind, the kernel may take part of
 * it, and the other thread's lines can land before the rest (as with pino's own destination).
 *
 * The fd must be non-blocking where its reader can stall (see `turnDestination`): a full pipe
 * then answers EAGAIN and the lines wait, instead of the event loop waiting in the write.
 */
import { writeSync } from 'node:fs';
import { setImmediate } from 'node:timers';

const PIPE_BUF = 4096;
/** Characters held for a reader that is behind; beyond, lines are dropped and counted. */
const MAX_HELD = 8 * 1024 * 1024;
/** At exit, how long a reader that takes nothing more is waited for. */
const EXIT_PATIENCE_MS = 10_000;
const EXIT_RETRY_MS = 5;

type Write = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/** pino's destination stream: `write`, `flush(cb)` for `logger.flush`, `flushSync` for exit. */
export class TurnDestination {
  readonly #fd: number;
  readonly #write: Write;
  /** Lines not yet turned into bytes, in order, after `#unwritten`. */
  #lines: string[] = [];
  #chars = 0;
  /** Bytes the reader has not taken yet: written before any of `#lines`. */
  #unwritten: Buffer | undefined;
  /** The count a warning line at the end of `#unwritten` carries, if one is there. */
  #warned = 0;
  #dropped = 0;
  #scheduled = false;
  #waitingForReader = false;
  #closed = false;
  #flushed: ((error?: Error) => void)[] = [];

  constructor(fd: number, write: Write = writeSync) {
    this.#fd = fd;
    this.#write = write;
  }

  /** Takes one or more whole lines, each ending in `\n`. */
  write(lines: string): boolean {
    if (this.#closed) return true;
    if (this.#chars + (this.#unwritten?.length ?? 0) > MAX_HELD) {
      this.#dropped += 1;
      return true;
    }
    this.#lines.push(lines);
    this.#chars += lines.length;
    if (!this.#scheduled && !this.#waitingForReader) {
      this.#scheduled = true;
      setImmediate(this.#drainLater);
    }
    return true;
  }

  /** Calls back once every line taken so far has been written (or cannot be). */
  flush(callback: (error?: Error) => void = () => {}): void {
    this.#flushed.push(callback);
    if (!this.#waitingForReader) this.#drain();
  }

  /** Writes what is held now, waiting for a reader that is behind while it reads: at exit. */
  flushSync(): void {
    let held = Infinity;
    let waited = 0;
    while (!this.#drain() && waited < EXIT_PATIENCE_MS) {
      const now = this.#unwritten?.length ?? 0;
      waited = now < held ? 0 : waited + EXIT_RETRY_MS;
      held = now;
      sleep(EXIT_RETRY_MS);
    }
  }

  readonly #drainLater = (): void => {
    this.#scheduled = false;
    this.#waitingForReader = false;
    if (!this.#drain()) {
      this.#waitingForReader = true;
      setTimeout(this.#drainLater, 1).unref();
    }
  };

  /** Writes what is held; false when the reader is behind and some is left for later. */
  #drain(): boolean {
    if (this.#unwritten && !this.#writeUnwritten()) return false;
    if (this.#dropped > 0 && !this.#closed) {
      this.#lines.push(droppedLine(this.#dropped));
      this.#warned = this.#dropped;
      this.#dropped = 0;
    }
    if (this.#lines.length > 0) {
      this.#unwritten = Buffer.from(this.#lines.join(''));
      this.#lines = [];
      this.#chars = 0;
      if (!this.#writeUnwritten()) return false;
    }
    for (const callback of this.#flushed.splice(0)) callback();
    return true;
  }

  /** Writes `#unwritten` in whole-line pieces; false when the reader could not take all of it. */
  #writeUnwritten(): boolean {
    const buffer = this.#unwritten!;
    let offset = 0;
    while (offset < buffer.length && !this.#closed) {
      try {
        offset += this.#write(this.#fd, buffer, offset, pieceLength(buffer, offset));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          this.#unwritten = buffer.subarray(offset);
          return false;
        }
        // The reader is gone for good, as pino's own destination decides: stop logging.
        if (code === 'EPIPE') this.#closed = true;
        // Anything else (a full disk, an I/O error) loses these lines, not the service: they
        // are counted, and the next lines are tried.
        else this.#dropped += countLines(buffer, offset) - (this.#warned > 0 ? 1 : 0) + this.#warned;
        break;
      }
    }
    this.#unwritten = undefined;
    this.#warned = 0;
    return true;
  }
}

/** Bytes from `offset` up to the last line end within PIPE_BUF, or to the end of a longer line. */
function pieceLength(buffer: Buffer, offset: number): number {
  const rest = buffer.length - offset;
  if (rest <= PIPE_BUF) return rest;
  const end = buffer.lastIndexOf(0x0a, offset + PIPE_BUF - 1);
  if (end >= offset) return end + 1 - offset;
  const next = buffer.indexOf(0x0a, offset + PIPE_BUF);
  return next < 0 ? rest : next + 1 - offset;
}

function countLines(buffer: Buffer, from: number): number {
  let count = 0;
  for (let at = buffer.indexOf(0x0a, from); at >= 0; at = buffer.indexOf(0x0a, at + 1)) count++;
  return count;
}

function droppedLine(count: number): string {
  const entry = {
    level: 40,
    time: new Date().toISOString(),
    msg: 'log lines dropped: the log could not be written',
    dropped: count,
  };
  return `${JSON.stringify(entry)}\n`;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const byFd = new Map<number, TurnDestination>();

/**
 * The destination for `fd` in this thread: one, so that every logger writing there keeps its
 * lines in order, and flushed when the thread or process exits.
 */
export function turnDestination(fd: number): TurnDestination {
  let destination = byFd.get(fd);
  if (!destination) {
    if (byFd.size === 0) process.on('exit', flushAllSync);
    // Node puts a pipe in non-blocking mode when it makes the pipe's stream: a reader that stalls
    // then answers EAGAIN, and lines wait (bounded), instead of the event loop waiting in write.
    if (fd === 1 || fd === 2) void (fd === 1 ? process.stdout : process.stderr).writable;
    destination = new TurnDestination(fd);
    byFd.set(fd, destination);
  }
  return destination;
}

function flushAllSync(): void {
  for (const destination of byFd.values()) {
    try {
      destination.flushSync();
    } catch {
      // exiting: nowhere left to report that the log could not be written
    }
  }
}
