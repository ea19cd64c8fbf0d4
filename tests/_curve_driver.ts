/**
 * Test helper: runs our greeting and a {@link CurveMechanism} over one raw
 * `Deno.Conn`, with {@link FrameDecoder}, and nothing of the socket layer.
 * It proves the CURVE bytes against libzmq before the mechanism is wired
 * into connection.ts.
 *
 * @module
 */

import type { CurveMechanism } from "../lib/zmtp/curve_mechanism.ts";
import {
  COMMAND,
  FrameDecoder,
  MORE,
  parseCommand,
  type Part,
  utf8Length,
} from "../lib/zmtp/frame.ts";
import {
  encodeGreeting,
  GREETING_SIZE,
  parseGreeting,
} from "../lib/zmtp/greeting.ts";
import { ProtocolError } from "../lib/zmtp/errors.ts";
import { within } from "./_process.ts";
import { closeQuietly, writeAll } from "./_raw_peer.ts";

/** A frame as it arrived, with its flags. */
export interface Received {
  flags: number;
  body: Uint8Array;
}

/** One CURVE connection driven by hand. */
export class CurveDriver {
  readonly #conn: Deno.Conn;
  readonly #mechanism: CurveMechanism;
  readonly #decoder = new FrameDecoder({
    maxMessageFrame: 1 << 20,
    maxCommandFrame: 1 << 16,
  });
  // Frames the peer sent after the handshake: outer (MESSAGE) and inner.
  readonly outer: Received[] = [];
  // Inner frames: message frames and commands apart.
  readonly #inbox: Received[] = [];
  readonly #commands: Received[] = [];
  #outgoing: Uint8Array[] = [];
  readonly #buffer = new Uint8Array(65536);

  private constructor(conn: Deno.Conn, mechanism: CurveMechanism) {
    this.#conn = conn;
    this.#mechanism = mechanism;
  }

  /**
   * Sends our greeting, checks the peer's, and runs the handshake.
   *
   * @throws {ProtocolError} as the mechanism throws, or when we refused the
   * peer (after our ERROR has gone out)
   */
  static async open(
    conn: Deno.Conn,
    mechanism: CurveMechanism,
    ms = 10_000,
  ): Promise<CurveDriver> {
    const driver = new CurveDriver(conn, mechanism);
    await within(driver.#handshake(), ms, "CURVE handshake");
    return driver;
  }

  async #handshake(): Promise<void> {
    const mechanism = this.#mechanism;
    await writeAll(this.#conn, encodeGreeting("CURVE", mechanism.asServer));
    const greeting = new Uint8Array(GREETING_SIZE);
    let have = 0;
    let rest: Uint8Array | undefined;
    while (have < GREETING_SIZE) {
      const chunk = await this.#read();
      const take = Math.min(chunk.length, GREETING_SIZE - have);
      greeting.set(chunk.subarray(0, take), have);
      have += take;
      if (take < chunk.length) rest = chunk.slice(take);
    }
    // The peer's as-server flag is not checked: libzmq 4.3 sends 0 in every
    // greeting, its CURVE servers included.
    const peer = parseGreeting(greeting);
    if (peer.mechanism !== "CURVE") {
      throw new ProtocolError(`Peer greeting asks for ${peer.mechanism}`);
    }
    this.#queueCommands();
    await this.#flush();
    if (rest !== undefined) this.#push(rest);
    await this.#flush();
    while (!mechanism.ready) {
      if (mechanism.error !== undefined) throw mechanism.error;
      this.#push(await this.#read());
      await this.#flush();
    }
  }

  /** Sends one message, each part boxed in a MESSAGE. */
  async send(parts: readonly Part[]): Promise<void> {
    const mechanism = this.#mechanism;
    const lengths = parts.map((part) =>
      typeof part === "string" ? utf8Length(part) : part.length
    );
    const size = lengths.reduce((sum, n) => sum + mechanism.frameSize(n), 0);
    const batch = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      const flags = i < parts.length - 1 ? MORE : 0;
      at = mechanism.encodeFrame(flags, parts[i], lengths[i], batch, at);
    }
    if (at !== size) throw new Error(`frameSize() said ${size}, wrote ${at}`);
    await writeAll(this.#conn, batch);
  }

  /** Sends raw bytes, for tests that play a hostile peer. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#conn, bytes);
  }

  /** Receives the next command the peer boxed (PING, say), as a frame. */
  async receiveCommand(ms = 10_000): Promise<Received> {
    const take = async () => {
      while (this.#commands.length === 0) this.#push(await this.#read());
      return this.#commands.shift()!;
    };
    return await within(take(), ms, "CURVE receive");
  }

  /** Receives one whole message. */
  async receive(ms = 10_000): Promise<Uint8Array[]> {
    const take = async () => {
      while (true) {
        const end = this.#inbox.findIndex((frame) => !(frame.flags & MORE));
        if (end >= 0) {
          return this.#inbox.splice(0, end + 1).map((frame) => frame.body);
        }
        this.#push(await this.#read());
      }
    };
    return await within(take(), ms, "CURVE receive");
  }

  /** Closes the connection; idempotent. */
  close(): void {
    closeQuietly(this.#conn);
  }

  #push(chunk: Uint8Array): void {
    this.#decoder.push(chunk, {
      frame: (flags, body) => {
        const mechanism = this.#mechanism;
        if (!mechanism.ready) {
          const { name, data } = parseCommand(body);
          mechanism.receive(name, data);
          this.#queueCommands();
          return;
        }
        this.outer.push({ flags, body: body.slice() });
        mechanism.decodeFrame(flags, body, {
          frame: (inner, part) =>
            (inner & COMMAND ? this.#commands : this.#inbox).push({
              flags: inner,
              body: part,
            }),
        });
      },
    });
  }

  #queueCommands(): void {
    for (
      let command = this.#mechanism.nextCommand();
      command !== undefined;
      command = this.#mechanism.nextCommand()
    ) {
      this.#outgoing.push(command);
    }
  }

  async #flush(): Promise<void> {
    const outgoing = this.#outgoing;
    this.#outgoing = [];
    for (const bytes of outgoing) await writeAll(this.#conn, bytes);
  }

  async #read(): Promise<Uint8Array> {
    const n = await this.#conn.read(this.#buffer);
    if (n === null) throw new Error("Peer closed the connection");
    return this.#buffer.slice(0, n);
  }
}
