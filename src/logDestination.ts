/**
 * Where JSON log lines go: the lines of one turn of the event loop are handed to the kernel
 * together, with a synchronous write once the turn is over. Under load that is one or two writes
 * for dozens of request lines, written on the thread that logged them, instead of a write per
 * line through the thread pool (docs/performance.md).
 *
 * A write holds whole lines and at most PIPE_BUF bytes, so on a pipe shared by the API and
 * dispatcher threads it lands whole or not at all: lines are never cut into each other.
 */
import { writeSync } from 'node:fs';
import { setImmediate } from 'node:timers';

const PIPE_BUF = 4096;
/** About this much is held while the reader does not read (EAGAIN); beyond, lines are counted and dropped. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const EXIT_RETRIES = 200;
const EXIT_RETRY_MS = 5;

type Write = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

export interface LineDestination {
  /** Takes one or more whole lines, each ending in `\n`. */
  write(lines: string): boolean;
  /** Calls back once every line taken so far has been written (or cannot be). */
  flush(callback?: (error?: Error) => void): void;
  /** Writes what is held now, waiting a little for a reader that is behind: at exit. */
  flushSync(): void;
}

export class TurnDestination implements LineDestination {
  readonly #fd: number;
  readonly #write: Write;
  #lines: string[] = [];
  #chars = 0;
  #unwritten: Buffer | undefined;
  #scheduled = false;
  #waitingForReader = false;
  #closed = false;
  #dropped = 0;
  #flushed: ((error?: Error) => void)[] = [];

  constructor(fd: number, write: Write = writeSync) {
    this.#fd = fd;
    this.#write = write;
  }

  write(lines: string): boolean {
    if (this.#closed) return true;
    if (this.#chars + (this.#unwritten?.length ?? 0) > MAX_PENDING_BYTES) {
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

  flush(callback: (error?: Error) => void = () => {}): void {
    this.#flushed.push(callback);
    if (!this.#waitingForReader) this.#drain();
  }

  flushSync(): void {
    for (let attempt = 0; !this.#drain() && attempt < EXIT_RETRIES; attempt++) sleep(EXIT_RETRY_MS);
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
    if (this.#dropped > 0 && !this.#closed) {
      this.#lines.push(droppedLine(this.#dropped));
      this.#dropped = 0;
    }
    if (this.#lines.length > 0) {
      const fresh = Buffer.from(this.#lines.join(''));
      this.#unwritten = this.#unwritten ? Buffer.concat([this.#unwritten, fresh]) : fresh;
      this.#lines = [];
      this.#chars = 0;
    }
    const left = this.#unwritten ? this.#writeOut(this.#unwritten) : undefined;
    this.#unwritten = left;
    if (left) return false;
    for (const callback of this.#flushed.splice(0)) callback();
    return true;
  }

  /** Writes `buffer` in whole-line pieces; what the reader could not take yet, if any. */
  #writeOut(buffer: Buffer): Buffer | undefined {
    let offset = 0;
    while (offset < buffer.length && !this.#closed) {
      const length = pieceLength(buffer, offset);
      try {
        offset += this.#write(this.#fd, buffer, offset, length);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return buffer.subarray(offset);
        // The reader is gone for good, as pino's own destination decides: stop logging.
        if (code === 'EPIPE') this.#closed = true;
        else throw error;
      }
    }
    return undefined;
  }
}

/** Bytes from `offset` up to the last line end within PIPE_BUF; a longer line goes whole. */
function pieceLength(buffer: Buffer, offset: number): number {
  const rest = buffer.length - offset;
  if (rest <= PIPE_BUF) return rest;
  const end = buffer.lastIndexOf(0x0a, offset + PIPE_BUF - 1);
  if (end >= offset) return end + 1 - offset;
  const next = buffer.indexOf(0x0a, offset + PIPE_BUF);
  return next < 0 ? rest : next + 1 - offset;
}

function droppedLine(count: number): string {
  const entry = {
    level: 40,
    time: new Date().toISOString(),
    msg: 'log lines dropped: the log reader did not keep up',
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
