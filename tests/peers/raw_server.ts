/**
 * A TCP server on loopback that plays a peer by hand, one task per
 * connection: silent, a banner, a ZMTP greeting and ERROR, a REP that
 * never replies. It counts what it accepts; disposing of it closes the
 * listener and every connection, and waits for every task.
 *
 * @module
 */

import { encodeErrorCommand } from "../../lib/zmtp/mechanism.ts";
import { encodeGreeting } from "../../lib/zmtp/greeting.ts";
import { closeQuietly, drain, RawPeer, writeAll } from "../_raw_peer.ts";
import { within } from "../_process.ts";

/** What the server does with each connection; resolves when done with it. */
export type Behaviour = (conn: Deno.TcpConn) => Promise<void>;

export class RawServer implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  /** Connections accepted so far. */
  accepted = 0;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #watchers: (() => void)[] = [];

  constructor(behaviour: Behaviour) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.listener = listener;
    this.#loop = (async () => {
      while (true) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch {
          return; // closed
        }
        this.accepted++;
        this.#conns.add(conn);
        const task = behaviour(conn).catch(() => {}).finally(() => {
          closeQuietly(conn);
          this.#conns.delete(conn);
        });
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
        const watchers = this.#watchers;
        this.#watchers = [];
        for (const wake of watchers) wake();
      }
    })();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  get endpoint(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** Resolves once `count` connections have been accepted. */
  async accepts(count: number, ms = 10_000): Promise<void> {
    const wait = async () => {
      while (this.accepted < count) {
        await new Promise<void>((wake) => this.#watchers.push(wake));
      }
    };
    await within(wait(), ms, `${count} connections accepted`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    closeQuietly(this.listener);
    await this.#loop;
    for (const conn of this.#conns) closeQuietly(conn);
    await Promise.all(this.#tasks);
  }
}

/** Reads at least `count` octets (what a peer sends first). */
async function readAtLeast(conn: Deno.Conn, count: number): Promise<void> {
  const buffer = new Uint8Array(4096);
  let have = 0;
  while (have < count) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed by the peer");
    have += n;
  }
}

/** Takes the connection and says nothing. */
export const silent: Behaviour = drain;

/** Sends `banner` at once, as an SSH server does, then listens. */
export function banner(text: string): Behaviour {
  return async (conn) => {
    await writeAll(conn, new TextEncoder().encode(text));
    await drain(conn);
  };
}

/**
 * Waits for the peer's greeting to begin (the 11 octets of signature and
 * version a ZMTP 3 peer sends first), then answers with a greeting for
 * `mechanism` (NULL by default; a server's for another) and an ERROR command
 * (RFC 37) giving `reason`: as a JeroMQ CURVE server answers a HELLO for
 * another key with `refuse("", "CURVE")`.
 */
export function refuse(reason: string, mechanism = "NULL"): Behaviour {
  return async (conn) => {
    await readAtLeast(conn, 11);
    const greeting = encodeGreeting(mechanism, mechanism !== "NULL");
    const error = encodeErrorCommand(reason);
    const both = new Uint8Array(greeting.length + error.length);
    both.set(greeting);
    both.set(error, greeting.length);
    await writeAll(conn, both);
    await drain(conn);
  };
}

/**
 * Waits for the peer's greeting to begin, answers with a whole greeting
 * announcing `mechanism` (as a server), then listens: a server that
 * requires that mechanism, as the peer sees it.
 */
export function greetAs(mechanism: string): Behaviour {
  return async (conn) => {
    await readAtLeast(conn, 11);
    await writeAll(conn, encodeGreeting(mechanism, true));
    await drain(conn);
  };
}

/** Closes each connection as soon as it is accepted. */
export function hangUp(conn: Deno.TcpConn): Promise<void> {
  conn.close();
  return Promise.resolve();
}

/** Completes the handshake as a REP, then never replies. */
export async function mute(conn: Deno.TcpConn): Promise<void> {
  await new RawPeer(conn).handshake("REP");
  await drain(conn);
}
