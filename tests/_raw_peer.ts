/**
 * A hand-driven ZMTP peer on a raw TCP connection, for spec and robustness
 * tests: it writes greeting, READY and frames byte by byte as told, and reads
 * what comes back, so tests can play REQ, DEALER, REP, a wrong socket type or
 * a broken peer.
 *
 * @module
 */

import {
  encodeCommand,
  encodeMessage,
  FrameDecoder,
  parseCommand,
} from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { encodeMetadata } from "../lib/zmtp/mechanism.ts";
import { within } from "./_process.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Writes all of `bytes`: one write may take only part of them. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/** Closes `resource` (if any), which may be closed already. */
export function closeQuietly(resource: { close(): void } | undefined): void {
  try {
    resource?.close();
  } catch {
    // Closed already.
  }
}

/**
 * Reads and ignores whatever comes until the connection ends: closed or
 * reset by the peer, or closed here.
 */
export async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) {
      // Whatever the peer says is ignored.
    }
  } catch {
    // Reset, or closed here.
  }
}

/** A frame or command read from the peer. */
export type Received =
  | { kind: "message"; parts: Uint8Array[] }
  | { kind: "command"; name: string; data: Uint8Array };

/** READY carrying a socket type (and an identity, if given). */
export function readyCommand(
  socketType: string,
  identity?: string,
): Uint8Array {
  const properties = new Map([["Socket-Type", text(socketType)]]);
  if (identity !== undefined) properties.set("Identity", text(identity));
  return encodeCommand("READY", encodeMetadata(properties));
}

export class RawPeer {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(65536);
  #greeting: Uint8Array = new Uint8Array(0);
  #decoder = new FrameDecoder({
    maxMessageFrame: 1 << 26,
    maxCommandFrame: 1 << 16,
  });
  #received: Received[] = [];
  #parts: Uint8Array[] = [];
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname, port }));
  }

  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Greets and sends READY as `socketType`, then waits for the peer's READY. */
  async handshake(socketType: string, identity?: string): Promise<void> {
    const greeting = encodeGreeting();
    const ready = readyCommand(socketType, identity);
    const out = new Uint8Array(greeting.length + ready.length);
    out.set(greeting);
    out.set(ready, greeting.length);
    await this.write(out);
    const answer = await this.next();
    if (answer.kind !== "command" || answer.name !== "READY") {
      throw new Error(`expected READY, got ${JSON.stringify(answer)}`);
    }
  }

  async send(...parts: (string | Uint8Array)[]): Promise<void> {
    await this.write(
      encodeMessage(parts.map((p) => typeof p === "string" ? text(p) : p)),
    );
  }

  /** The next message or command; rejects on end of stream or timeout. */
  async next(ms = 5000): Promise<Received> {
    return await within(this.#next(), ms, "raw peer reading");
  }

  /** The next message's parts as text. */
  async receiveText(ms = 5000): Promise<string[]> {
    const item = await this.next(ms);
    if (item.kind !== "message") {
      throw new Error(`expected a message, got command ${item.name}`);
    }
    return item.parts.map((p) => new TextDecoder().decode(p));
  }

  async #next(): Promise<Received> {
    while (this.#received.length === 0) {
      if (this.#eof) throw new Error("connection closed by the peer");
      await this.#read();
    }
    return this.#received.shift()!;
  }

  async #read(): Promise<void> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#buffer);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return;
    }
    let chunk = this.#buffer.subarray(0, n);
    if (this.#greeting.length < 64) {
      const take = Math.min(64 - this.#greeting.length, chunk.length);
      const joined = new Uint8Array(this.#greeting.length + take);
      joined.set(this.#greeting);
      joined.set(chunk.subarray(0, take), this.#greeting.length);
      this.#greeting = joined;
      chunk = chunk.subarray(take);
    }
    this.#decoder.push(chunk, {
      frame: (flags, body) => {
        if (flags & 0x04) {
          const { name, data } = parseCommand(body);
          this.#received.push({ kind: "command", name, data });
          return;
        }
        this.#parts.push(body);
        if (!(flags & 0x01)) {
          this.#received.push({ kind: "message", parts: this.#parts });
          this.#parts = [];
        }
      },
    });
  }

  /** The greeting the peer sent, once read. */
  get greeting(): Uint8Array {
    return this.#greeting;
  }

  /** Resolves true when the peer closes the connection within `ms`. */
  async closedByPeer(ms = 5000): Promise<boolean> {
    try {
      await within(
        (async () => {
          while (!this.#eof) {
            this.#received = [];
            await this.#read();
          }
        })(),
        ms,
        "waiting for close",
      );
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    closeQuietly(this.conn);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Listens for one raw peer connection (to play REP against our REQ). */
export class RawListener {
  readonly listener: Deno.TcpListener;
  constructor() {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }
  get endpoint(): string {
    return `tcp://127.0.0.1:${(this.listener.addr as Deno.NetAddr).port}`;
  }
  async accept(ms = 5000): Promise<RawPeer> {
    return new RawPeer(await within(this.listener.accept(), ms, "raw accept"));
  }
  [Symbol.dispose](): void {
    this.listener.close();
  }
}
