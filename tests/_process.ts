/**
 * Test helpers: real processes on loopback, bounded in time, and always
 * stopped. Every test that starts a process disposes of it with `await using`.
 *
 * @module
 */

export const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The V8 flags `deno task server` gives server.ts (from deno.json), without
 * the `--v8-flags=`, so that tests run the server as the task runs it.
 */
export const SERVER_V8_FLAGS: string = (() => {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const flag = (config.tasks.server as string).split(" ").find((arg) =>
    arg.startsWith("--v8-flags=")
  );
  if (flag === undefined) throw new Error("deno task server has no V8 flags");
  return flag.slice("--v8-flags=".length);
})();
export const TUTORIAL_SERVER = `${ROOT}tests/tutorial/multiply_server.py`;
export const TUTORIAL_CLIENT = `${ROOT}tests/tutorial/multiply_client.py`;

/**
 * Requests whose replies show Python's float semantics at work, for the
 * interop tests: integers, words, -0, exponents, spaces, inf and nan,
 * underscores, an empty line and a non-ASCII digit.
 */
export const INTEROP_REQUESTS: readonly string[] = [
  "100",
  "1000",
  "abc",
  "-0",
  "1e16",
  " 2.5 ",
  "inf",
  "nan",
  "1_000",
  "",
  "\u0663",
];

/**
 * A peer the tests need is not installed: the test fails with this one line,
 * which names the fix, instead of a peer's own traceback or a Deno hint.
 */
class SetupError extends Error {
  /** @param message what is missing and what to run */
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
    this.stack = `${this.name}: ${message}`;
  }
}

let pythonPath: string | undefined;

/**
 * The Python with pyzmq that tools/python picks (never a bare `python3`,
 * which may be pyenv's or a venv's without pyzmq), found once.
 *
 * @throws {SetupError} when there is none
 */
export function pythonWithZmq(): string {
  if (pythonPath === undefined) {
    const { success, stdout, stderr } = new Deno.Command(
      `${ROOT}tools/python`,
      { args: ["-c", "import sys; print(sys.executable)"], cwd: ROOT },
    ).outputSync();
    const decoder = new TextDecoder();
    if (!success) throw new SetupError(decoder.decode(stderr).trim());
    pythonPath = decoder.decode(stdout).trim();
  }
  return pythonPath;
}

/** Rejects when `promise` takes longer than `ms`; clears its timer. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no result within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each value on a line of its own: a program's input or expected output. */
export function lines(values: readonly (string | number)[]): string {
  return values.map((value) => `${value}\n`).join("");
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port that was free a moment ago (for peers that cannot bind port 0). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** True when a port on 127.0.0.1 can be bound now. */
export function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** How a process ended, with everything it printed. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link Proc}. */
export interface ProcOptions {
  /** Text to write to stdin, which is then closed; omit to keep it open. */
  input?: string | Uint8Array;
  /** Keep stdin open for {@link Proc.write}. */
  interactiveStdin?: boolean;
  /**
   * Leave stdout on a pipe that nothing reads, so that it fills and the
   * process's writes to it block ({@link Proc.stdout} stays empty); it is
   * closed once the process has ended.
   */
  unreadStdout?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

/** A child process whose output is collected as it comes. */
export class Proc {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #watchers: (() => void)[] = [];
  readonly #readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  readonly #pumps: Promise<void>;
  readonly #unreadStdout: boolean;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #status: Deno.CommandStatus | undefined;
  readonly #statusPromise: Promise<Deno.CommandStatus>;

  constructor(command: string, args: string[], options: ProcOptions = {}) {
    this.name = [command.split("/").pop(), ...args.slice(0, 3)].join(" ");
    const keepStdin = options.input !== undefined || options.interactiveStdin;
    this.child = new Deno.Command(command, {
      args,
      stdin: keepStdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      cwd: options.cwd ?? ROOT,
    }).spawn();
    this.#statusPromise = this.child.status.then((status) =>
      this.#status = status
    );
    if (keepStdin) this.#stdin = this.child.stdin.getWriter();
    if (options.input !== undefined) {
      const bytes = typeof options.input === "string"
        ? new TextEncoder().encode(options.input)
        : options.input;
      this.#stdin!.write(bytes).then(() => this.closeStdin()).catch(() => {});
    }
    this.#unreadStdout = options.unreadStdout ?? false;
    this.#pumps = Promise.all([
      this.#unreadStdout
        ? undefined
        : this.#pump(this.child.stdout, (text) => this.#stdout += text),
      this.#pump(this.child.stderr, (text) => this.#stderr += text),
    ]).then(() => {});
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (text: string) => void) {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    this.#readers.push(reader);
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        add(decoder.decode(value, { stream: true }));
        const watchers = this.#watchers;
        this.#watchers = [];
        for (const wake of watchers) wake();
      }
    } catch {
      // Cancelled: a grandchild kept the pipe open after the child ended.
    } finally {
      reader.releaseLock();
    }
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.#status === undefined;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Writes to stdin (needs `interactiveStdin` or `input`). */
  async write(text: string): Promise<void> {
    await this.#stdin!.write(new TextEncoder().encode(text));
  }

  async closeStdin(): Promise<void> {
    const stdin = this.#stdin;
    this.#stdin = undefined;
    await stdin?.close().catch(() => {});
  }

  /** Waits until stdout (or stderr) matches, returning the match. */
  async waitFor(
    pattern: RegExp,
    ms = 15_000,
    stream: "stdout" | "stderr" = "stdout",
  ): Promise<RegExpMatchArray> {
    const check = () =>
      (stream === "stdout" ? this.#stdout : this.#stderr).match(pattern);
    const wait = async () => {
      while (true) {
        const match = check();
        if (match) return match;
        if (!this.running) {
          throw new Error(
            `${this.name} exited before printing ${pattern}:\n${this.#stdout}\n${this.#stderr}`,
          );
        }
        await new Promise<void>((resolve) => {
          this.#watchers.push(resolve);
          this.#statusPromise.then(() => resolve());
        });
      }
    };
    return await within(wait(), ms, `${this.name} printing ${pattern}`);
  }

  /** Waits until stdout holds `count` lines. */
  async waitForLines(count: number, ms = 15_000): Promise<string[]> {
    const pattern = new RegExp(`^(?:[^\\n]*\\n){${count}}`);
    await this.waitFor(pattern, ms);
    return this.#stdout.split("\n").slice(0, count);
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (!this.running) return;
    try {
      this.child.kill(signal);
    } catch {
      // It ended meanwhile.
    }
  }

  /** Waits for the process to end and its output to be read. */
  async finish(ms = 20_000): Promise<Finished> {
    const status = await within(
      this.#statusPromise,
      ms,
      `${this.name} exiting`,
    );
    await this.closeStdin();
    if (this.#unreadStdout) await this.child.stdout.cancel().catch(() => {});
    // Output normally ends with the process; a grandchild that inherited the
    // pipes (deno task's child, say) must not hold the test for ever.
    try {
      await within(this.#pumps, 5_000, `${this.name} output ending`);
    } catch {
      await Promise.all(
        this.#readers.map((reader) => reader.cancel().catch(() => {})),
      );
      await this.#pumps;
    }
    return {
      code: status.code,
      signal: status.signal,
      stdout: this.#stdout,
      stderr: this.#stderr,
    };
  }

  /** Stops the process: SIGTERM (which deno task passes on), then SIGKILL. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGTERM");
    try {
      await within(this.#statusPromise, 3_000, `${this.name} stopping`);
    } catch {
      this.kill("SIGKILL");
    }
    await this.finish().catch(() => {});
  }
}

const DENO = Deno.execPath();

/** Options for {@link deno}: a {@link Proc}'s, and Deno's own flags. */
export interface DenoOptions extends ProcOptions {
  /**
   * Deno flags after `--allow-net`, before the script: more permissions
   * (`--allow-read=DIR`), `--v8-flags=...`, `--preload FILE`.
   */
  flags?: readonly string[];
}

/**
 * The arguments of `deno run --allow-net FLAGS ROOT/SCRIPT ARGS`: what
 * {@link deno} runs, and what Lab.deno (tests/_netns.ts) runs in a host.
 */
export function denoArgs(
  script: string,
  args: readonly string[],
  flags: readonly string[] = [],
): string[] {
  return ["run", "--allow-net", ...flags, `${ROOT}${script}`, ...args];
}

/**
 * Runs a script of ours under the current Deno with network access, and
 * whatever else `options.flags` grants.
 */
export function deno(
  script: string,
  args: string[],
  options: DenoOptions = {},
): Proc {
  const { flags, ...procOptions } = options;
  return new Proc(DENO, denoArgs(script, args, flags), procOptions);
}

/** Our server, started and listening; dispose of it to stop it. */
export interface RunningServer extends AsyncDisposable {
  server: Proc;
  port: number;
}

/** Starts our server and waits for its first line; returns the port it bound. */
export function startServer(
  args: string[],
  options?: DenoOptions,
): Promise<RunningServer> {
  return listening(deno("server.ts", args, options));
}

/**
 * Waits for a server, however started, to print the port it bound (the
 * first group of `pattern`; by default server.ts's first line, which the
 * tutorial's and JeroMQ's servers print too); stops it if it does not.
 */
export async function listening(
  server: Proc,
  pattern: RegExp = /Waiting for clients on port '(\d+)'/,
): Promise<RunningServer> {
  try {
    const [, port] = await server.waitFor(pattern);
    return {
      server,
      port: Number(port),
      [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
    };
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** Starts the tutorial's multiply_server.py and waits until it listens. */
export async function startTutorialServer(
  multiplier: number,
  port: number,
): Promise<Proc> {
  const server = python([
    "-u",
    TUTORIAL_SERVER,
    String(multiplier),
    String(port),
  ]);
  await server.waitFor(/Waiting for clients/);
  return server;
}

/**
 * Python's arguments for tests/peers/broker.py (pyzmq's zmq.proxy, a ROUTER
 * frontend and a DEALER backend), bound on `host` (by default 127.0.0.1).
 */
export function brokerArgs(
  frontend: number,
  backend: number,
  host?: string,
): string[] {
  return [
    "-u",
    `${ROOT}tests/peers/broker.py`,
    String(frontend),
    String(backend),
    ...(host === undefined ? [] : [host]),
  ];
}

/** What broker.py prints once both its sides are bound. */
export const BROKER_READY = /broker ready/;

/**
 * Starts tests/peers/broker.py on 127.0.0.1 and waits until both sides are
 * bound; stops it if they are not.
 */
export async function startBroker(
  frontend: number,
  backend: number,
): Promise<Proc> {
  const broker = python(brokerArgs(frontend, backend));
  try {
    await broker.waitFor(BROKER_READY);
    return broker;
  } catch (error) {
    await broker[Symbol.asyncDispose]();
    throw error;
  }
}

/** Runs our client over a pipe and returns how it ended. */
export async function runClient(
  args: string[],
  input: string,
  ms = 20_000,
): Promise<Finished> {
  const client = deno("client.ts", args, { input });
  try {
    return await client.finish(ms);
  } finally {
    await client[Symbol.asyncDispose]();
  }
}

/**
 * Runs a Python program (a tutorial program or a peer) under the Python with
 * pyzmq that tools/python picks.
 *
 * @throws {SetupError} when there is no such Python
 */
export function python(args: string[], options?: ProcOptions): Proc {
  return new Proc(pythonWithZmq(), args, options);
}

/**
 * Runs a Node program from tests/peers/ (a zeromq.js peer).
 *
 * @throws {SetupError} when Node or zeromq.js is not installed
 */
export function node(
  script: string,
  args: string[],
  options?: ProcOptions,
): Proc {
  try {
    Deno.statSync(`${ROOT}tests/peers/node_modules/zeromq/package.json`);
  } catch {
    throw new SetupError(
      "zeromq.js is not installed in tests/peers: run tools/setup",
    );
  }
  try {
    return new Proc("node", [`${ROOT}tests/peers/${script}`, ...args], options);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new SetupError(
      "node is not on PATH: install Node.js with npm, then run tools/setup",
    );
  }
}
