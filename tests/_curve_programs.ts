/**
 * Test helpers for server.ts and client.ts with CURVE: a directory of
 * certificates (with an allow-list directory inside it), the two programs
 * run with `--allow-read` on that directory alone, a client.ts held open to
 * ask one number at a time, and a TCP proxy that records every octet and
 * counts connections. Everything is disposed with `await using`.
 *
 * @module
 */

import {
  encodeZ85Key,
  generateKeyPair,
  writeCertificate,
} from "../lib/zmtp/curve_keys.ts";
import {
  deno,
  type Finished,
  listening,
  type Proc,
  type ProcOptions,
  pythonWithZmq,
} from "./_process.ts";
import { concat } from "./_hostile.ts";
import { closeQuietly, writeAll } from "./_raw_peer.ts";
import { RawServer } from "./peers/raw_server.ts";

/** One certificate pair on disk. */
export interface Cert {
  name: string;
  /** The public key in Z85. */
  z85: string;
  /** NAME.key: the public key alone. */
  keyFile: string;
  /** NAME.key_secret: both keys. */
  secretFile: string;
}

/**
 * A temporary directory of certificates: `certs/` holds every pair, and
 * `allow/` the `.key` files of the clients a server admits
 * (`--curve-allow`).
 */
export class CertDir implements AsyncDisposable {
  readonly path: string;
  readonly allow: string;
  readonly #certs: string;

  private constructor(path: string) {
    this.path = path;
    this.allow = `${path}/allow`;
    this.#certs = `${path}/certs`;
  }

  static async create(): Promise<CertDir> {
    const dir = new CertDir(await Deno.makeTempDir({ prefix: "curve-" }));
    await Deno.mkdir(dir.allow);
    await Deno.mkdir(dir.#certs);
    return dir;
  }

  /**
   * Makes a key pair (as keygen.ts does); `allow` copies its .key in, and
   * `where` draws pairs until its public key's Z85 text passes.
   */
  async make(
    name: string,
    options: { allow?: boolean; where?: (z85: string) => boolean } = {},
  ): Promise<Cert> {
    let keyPair = await generateKeyPair();
    while (options.where && !options.where(encodeZ85Key(keyPair.publicKey))) {
      keyPair = await generateKeyPair();
    }
    const base = `${this.#certs}/${name}`;
    await writeCertificate(base, keyPair);
    const cert = {
      name,
      z85: encodeZ85Key(keyPair.publicKey),
      keyFile: `${base}.key`,
      secretFile: `${base}.key_secret`,
    };
    if (options.allow) await this.admit(cert);
    return cert;
  }

  /**
   * Makes key pairs with pyzmq's own `zmq.auth.create_certificates`, in
   * `certs/`.
   */
  async makeWithPyzmq(...names: string[]): Promise<Cert[]> {
    const made = await new Deno.Command(pythonWithZmq(), {
      args: [
        "-c",
        "import sys, zmq.auth\n" +
        "for name in sys.argv[2:]:\n" +
        "    public, _ = zmq.auth.create_certificates(sys.argv[1], name)\n" +
        "    print(zmq.auth.load_certificate(public)[0].decode())",
        this.#certs,
        ...names,
      ],
    }).output();
    const decoder = new TextDecoder();
    if (!made.success) throw new Error(decoder.decode(made.stderr));
    const keys = decoder.decode(made.stdout).trim().split("\n");
    return names.map((name, i) => ({
      name,
      z85: keys[i],
      keyFile: `${this.#certs}/${name}.key`,
      secretFile: `${this.#certs}/${name}.key_secret`,
    }));
  }

  /** Copies a client's public certificate into `allow/`. */
  async admit(cert: Cert): Promise<void> {
    await Deno.copyFile(cert.keyFile, `${this.allow}/${cert.name}.key`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.path, { recursive: true });
  }
}

/**
 * Runs one of our programs as a user would with key files: `deno run
 * --allow-net --allow-read=DIR`, nothing more.
 */
export function program(
  script: "server.ts" | "client.ts",
  readable: string,
  args: string[],
  options?: ProcOptions,
): Proc {
  return deno(script, args, {
    ...options,
    flags: [`--allow-read=${readable}`],
  });
}

/** A server.ts that is listening; dispose of it to stop it. */
export interface CurveServer extends AsyncDisposable {
  server: Proc;
  port: number;
  endpoint: string;
}

/**
 * Starts server.ts (multiplier 2, a free port) with `args` and waits until
 * it listens and, with `--curve-key`, has said its public key.
 */
export async function startCurveServer(
  readable: string,
  args: string[],
): Promise<CurveServer> {
  const running = await listening(
    program("server.ts", readable, ["2", "0", ...args]),
  );
  try {
    if (args.includes("--curve-key")) {
      await running.server.waitFor(/CURVE public key/, 15_000, "stderr");
    }
  } catch (error) {
    await running[Symbol.asyncDispose]();
    throw error;
  }
  return { ...running, endpoint: `tcp://127.0.0.1:${running.port}` };
}

/** How a client run ended, and how long it took. */
export interface TimedRun extends Finished {
  ms: number;
}

/** Runs client.ts over a pipe to its end, within `ms`. */
export async function runCurveClient(
  readable: string,
  args: string[],
  input: string,
  ms = 30_000,
): Promise<TimedRun> {
  const start = performance.now();
  await using client = program("client.ts", readable, args, { input });
  const finished = await client.finish(ms);
  return { ...finished, ms: performance.now() - start };
}

/**
 * A client.ts kept open on a pipe: each {@link ask} writes one line and
 * waits for its reply line, so a test can interleave requests with what
 * other peers do.
 */
export class HeldClient implements AsyncDisposable {
  readonly proc: Proc;
  #asked = 0;

  constructor(readable: string, args: string[]) {
    this.proc = program("client.ts", readable, args, {
      interactiveStdin: true,
    });
  }

  /** Sends one number and returns the reply line. */
  async ask(line: string, ms = 15_000): Promise<string> {
    await this.proc.write(`${line}\n`);
    this.#asked++;
    const lines = await this.proc.waitForLines(this.#asked, ms);
    return lines[this.#asked - 1];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.proc.closeStdin();
    try {
      await this.proc.finish(5_000);
    } finally {
      await this.proc[Symbol.asyncDispose]();
    }
  }
}

/** Counts non-overlapping occurrences of `needle` in `text`. */
export function count(text: string, needle: string | RegExp): number {
  if (typeof needle === "string") return text.split(needle).length - 1;
  return [...text.matchAll(new RegExp(needle.source, "g"))].length;
}

/** Whether `haystack` holds `needle` (ASCII) anywhere. */
export function holds(haystack: Uint8Array, needle: string): boolean {
  const bytes = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + bytes.length <= haystack.length; i++) {
    for (let j = 0; j < bytes.length; j++) {
      if (haystack[i + j] !== bytes[j]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`: copies both ways,
 * records every octet in each direction, and counts the connections made
 * through it.
 */
export class RecordingProxy implements AsyncDisposable {
  // Accepts, counts and tracks the client side of each connection.
  readonly #listener: RawServer;
  readonly #toServer: Uint8Array[] = [];
  readonly #toClient: Uint8Array[] = [];

  constructor(targetPort: number) {
    this.#listener = new RawServer((client) => this.#serve(client, targetPort));
  }

  get port(): number {
    return this.#listener.port;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#listener.accepted;
  }

  /** Every octet the clients sent, in order of arrival. */
  get toServer(): Uint8Array {
    return concat(...this.#toServer);
  }

  /** Every octet the server sent. */
  get toClient(): Uint8Array {
    return concat(...this.#toClient);
  }

  /** Waits until `n` connections have been accepted. */
  async waitForConnections(n: number, ms = 15_000): Promise<void> {
    await this.#listener.accepts(n, ms);
  }

  // Runs until either side ends; RawServer then closes `client`, and on
  // disposal closes it early, which ends the copies and closes `server`.
  async #serve(client: Deno.TcpConn, targetPort: number): Promise<void> {
    const server = await Deno.connect({
      hostname: "127.0.0.1",
      port: targetPort,
    });
    const copy = async (from: Deno.Conn, to: Deno.Conn, into: Uint8Array[]) => {
      const buffer = new Uint8Array(65536);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          const chunk = buffer.slice(0, n);
          into.push(chunk);
          await writeAll(to, chunk);
        }
      } catch {
        // Reset, or closed by the other direction.
      }
      // Either side ending ends the connection, as libzmq's would.
      closeQuietly(from);
      closeQuietly(to);
    };
    await Promise.all([
      copy(client, server, this.#toServer),
      copy(server, client, this.#toClient),
    ]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#listener[Symbol.asyncDispose]();
  }
}
