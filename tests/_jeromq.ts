/**
 * JeroMQ 0.3.6 peers (Debian's libjeromq-java), which speak ZMTP/2.0 only:
 * the Java programs in tests/peers/jeromq/, run as single-file source
 * programs (`java -cp /usr/share/java/jeromq.jar ReqClient.java ...`; here
 * with the class path in CLASSPATH).
 * Each is a {@link Proc}, bounded in time; dispose of it with `await using`.
 *
 * Tests call {@link requireJeromq} first: without the jar or a JDK they fail
 * with one line that says to run tools/setup, not with Java's errors.
 *
 * @module
 */

import {
  type Finished,
  listening,
  Proc,
  type ProcOptions,
  ROOT,
  type RunningServer,
} from "./_process.ts";

const JEROMQ_JAR = "/usr/share/java/jeromq.jar";
const PEERS = `${ROOT}tests/peers/jeromq/`;
// UTF-8 arguments and output whatever the caller's locale. The class path
// goes in the environment, and the programs run from their own directory,
// so that a Proc's name says which program it is ("java ReqClient.java ...").
const JAVA_ENV = { LANG: "C.UTF-8", LC_ALL: "C.UTF-8", CLASSPATH: JEROMQ_JAR };

let missing: string | null | undefined;

/** Why the JeroMQ peers cannot run here, or null when they can. */
function whyMissing(): string | null {
  if (missing !== undefined) return missing;
  missing = null;
  try {
    Deno.statSync(JEROMQ_JAR);
  } catch {
    return missing = `${JEROMQ_JAR} is missing`;
  }
  // The single-file source launcher needs a JDK (javac's module), not a JRE.
  for (const tool of ["java", "javac"]) {
    try {
      const { success } = new Deno.Command(tool, {
        args: ["-version"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (!success) return missing = `'${tool} -version' failed`;
    } catch {
      return missing = `${tool} is not on PATH`;
    }
  }
  return missing;
}

/** Throws one clear line when the JeroMQ peers cannot run. */
export function requireJeromq(): void {
  const why = whyMissing();
  if (why === null) return;
  const error = new Error(
    `JeroMQ peers cannot run (${why}): run tools/setup, which installs libjeromq-java and default-jdk-headless`,
  );
  error.stack = error.message;
  throw error;
}

/** Runs one of tests/peers/jeromq/*.java under Java. */
function jeromq(
  program: "ReqClient" | "RepServer" | "Proxy",
  args: string[],
  options: ProcOptions = {},
): Proc {
  requireJeromq();
  return new Proc("java", [`${program}.java`, ...args], {
    cwd: PEERS,
    ...options,
    env: { ...JAVA_ENV, ...options.env },
  });
}

/** Options for a JeroMQ REQ client. */
export interface JeromqReqOptions extends ProcOptions {
  /** How long it waits for each reply before it exits 1 (default 10 s). */
  timeoutMs?: number;
}

/**
 * A JeroMQ REQ that connects to `endpoint`, sends each request and prints
 * each reply on its own line. With no requests it sends the lines of its
 * stdin (give `input` or `interactiveStdin`).
 */
export function jeromqReq(
  endpoint: string,
  requests: readonly string[],
  options: JeromqReqOptions = {},
): Proc {
  const { timeoutMs = 10_000, ...procOptions } = options;
  return jeromq(
    "ReqClient",
    ["--timeout", String(timeoutMs), endpoint, ...requests],
    procOptions,
  );
}

/** Runs a JeroMQ REQ to its end, within `ms`, and returns how it ended. */
export async function runJeromqReq(
  endpoint: string,
  requests: readonly string[],
  options: JeromqReqOptions = {},
  ms = 30_000,
): Promise<Finished> {
  await using client = jeromqReq(endpoint, requests, options);
  return await client.finish(ms);
}

/**
 * Starts a JeroMQ REP multiply server on 127.0.0.1 (port 0: it picks one)
 * and waits until it is bound; returns the port.
 */
export async function startJeromqRep(
  multiplier: number,
  port = 0,
): Promise<RunningServer> {
  return await listening(
    jeromq("RepServer", [String(multiplier), String(port)]),
  );
}

/**
 * Starts a JeroMQ ROUTER (frontend) / DEALER (backend) proxy on 127.0.0.1
 * and waits until both are bound.
 */
export async function startJeromqProxy(
  frontendPort: number,
  backendPort: number,
): Promise<Proc> {
  const proxy = jeromq("Proxy", [String(frontendPort), String(backendPort)]);
  try {
    await proxy.waitFor(/^proxy: frontend /m);
    return proxy;
  } catch (error) {
    await proxy[Symbol.asyncDispose]();
    throw error;
  }
}
