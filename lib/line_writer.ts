/**
 * Batched output that can never stall its program: lines collect in memory
 * and leave in one asynchronous write per batch, so a busy server logs
 * thousands of requests with few system calls, and a reader that stops
 * reading (a pipe nobody drains) holds up no one.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Where the lines go; `Deno.stdout` fits. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** Options for {@link LineWriter}. */
export interface LineWriterOptions {
  /**
   * Milliseconds lines may wait to be batched; 0 writes at the end of the
   * current task.
   * @default {0}
   */
  interval?: number;
  /**
   * Octets held while the sink is slow; lines that would go past this are
   * dropped and counted.
   * @default {1048576}
   */
  limit?: number;
  /** Called once, when the first line is dropped. */
  onFirstDrop?: () => void;
}

/**
 * Writes lines to a sink in order, asynchronously: the event loop never
 * waits for the sink, so requests keep being answered and signals handled
 * while it is slow or stuck. Each line is encoded at once into a buffer, so
 * its string dies young. While a write is in flight, new lines collect in a
 * second buffer; at most `limit` octets are held, and lines beyond it are
 * dropped and counted ({@link dropped}). If the sink breaks (a closed pipe)
 * further lines are dropped quietly.
 *
 * @example
 * ```ts ignore
 * import { LineWriter } from "./line_writer.ts";
 * const out = new LineWriter(Deno.stdout, { interval: 5 });
 * out.line("received: 100 sending: 200.0");
 * await out.flush();
 * ```
 */
export class LineWriter {
  readonly #sink: ByteSink;
  readonly #interval: number;
  readonly #limit: number;
  readonly #onFirstDrop: (() => void) | undefined;
  // Lines collect in #buffer; a write takes it and leaves #spare (the
  // previous write's buffer) in its place, so the two alternate.
  #buffer: Uint8Array = new Uint8Array(4096);
  #spare: Uint8Array | undefined;
  #used = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #broken = false;
  #dropped = 0;

  /**
   * @param sink where the lines go
   * @param options batching interval, memory limit, drop notice
   */
  constructor(sink: ByteSink, options: LineWriterOptions = {}) {
    this.#sink = sink;
    this.#interval = options.interval ?? 0;
    this.#limit = options.limit ?? 1024 * 1024;
    this.#onFirstDrop = options.onFirstDrop;
  }

  /** Lines dropped because the sink was not keeping up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues text as is, without a newline (a prompt, say). */
  text(text: string): void {
    if (this.#broken) return;
    if (!this.#append(text)) return;
    if (this.#scheduled || this.#writing !== undefined) return;
    this.#schedule();
  }

  // The next write, after the interval: lines that come meanwhile join it.
  #schedule(): void {
    this.#scheduled = true;
    if (this.#interval > 0) {
      this.#timer = setTimeout(this.#write, this.#interval);
    } else {
      queueMicrotask(this.#write);
    }
  }

  /** Queues one line; a newline is added. */
  line(text: string): void {
    this.text(text + "\n");
  }

  /**
   * Writes everything queued so far; resolves once it has left, or, with
   * `ms`, after at most that long (a stuck sink is then given up on).
   */
  async flush(ms?: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const giveUp = ms === undefined
      ? undefined
      : new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
    try {
      while (!this.#broken && (this.#used > 0 || this.#writing)) {
        this.#write();
        const writing = this.#writing!;
        if (giveUp === undefined) await writing;
        else if (
          await Promise.race([
            writing.then(() => false),
            giveUp.then(() => true),
          ])
        ) return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  // ASCII, nearly every log line, is copied code unit by code unit; other
  // text goes through the encoder. Returns false when the line was dropped.
  #append(text: string): boolean {
    let ascii = true;
    for (let i = 0; i < text.length && ascii; i++) {
      ascii = text.charCodeAt(i) < 0x80;
    }
    const bytes = ascii ? undefined : encoder.encode(text);
    const size = bytes === undefined ? text.length : bytes.length;
    const needed = this.#used + size;
    if (needed > this.#buffer.length) {
      if (needed > this.#limit) {
        if (this.#dropped++ === 0) this.#onFirstDrop?.();
        return false;
      }
      const bigger = new Uint8Array(
        Math.min(this.#limit, Math.max(needed, this.#buffer.length * 2)),
      );
      bigger.set(this.#buffer.subarray(0, this.#used));
      this.#buffer = bigger;
    }
    const buffer = this.#buffer;
    if (bytes !== undefined) {
      buffer.set(bytes, this.#used);
    } else {
      for (let i = 0; i < size; i++) {
        buffer[this.#used + i] = text.charCodeAt(i);
      }
    }
    this.#used = needed;
    return true;
  }

  readonly #write = (): void => {
    clearTimeout(this.#timer);
    this.#scheduled = false;
    if (this.#used === 0 || this.#broken || this.#writing) return;
    const bytes = this.#buffer.subarray(0, this.#used);
    // The other buffer, at least as large: a busy server's batches keep
    // their size, and each new ArrayBuffer would count toward V8's next GC.
    const spare = this.#spare;
    this.#buffer =
      spare !== undefined && spare.length >= bytes.buffer.byteLength
        ? spare
        : new Uint8Array(bytes.buffer.byteLength);
    this.#spare = undefined;
    this.#used = 0;
    this.#writing = this.#writeAll(bytes).finally(() => {
      this.#writing = undefined;
      // The buffer comes back for the next round (both stay within the
      // limit).
      this.#spare = new Uint8Array(bytes.buffer);
      // Lines that came during the write wait for the next interval too,
      // or writes would follow each other with hardly a line in each.
      if (this.#used > 0 && !this.#scheduled) this.#schedule();
    });
  };

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < bytes.length) {
        written += await this.#sink.write(bytes.subarray(written));
      }
    } catch {
      this.#broken = true;
      this.#used = 0;
    }
  }
}
