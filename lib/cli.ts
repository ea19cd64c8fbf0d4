/**
 * Command-line parsing for `server.ts` and `client.ts`. It uses Deno's
 * built-in `node:util` `parseArgs` because JSR (and so `@std/cli`) cannot be
 * reached from here; this file is the one place to swap it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import config from "../deno.json" with { type: "json" };
import { parseEndpoint, type TcpEndpoint } from "./zmtp/endpoint.ts";

/** The version of multiply, from `deno.json`. */
export const VERSION: string = config.version;

/** A command line that cannot be used: print the message and usage, exit 2. */
export class UsageError extends Error {
  /**
   * @param message what is wrong, in one line
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One option: a flag (`boolean`) or one that takes a value (`string`). */
export interface OptionSpec {
  type: "boolean" | "string";
  /** A one-letter alias. */
  short?: string;
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
}

type Values = Record<
  string,
  string | boolean | (string | boolean)[] | undefined
>;

/** The parsed command line, with typed access to its options. */
export class CommandLine {
  /** The positional arguments, in order. */
  readonly positionals: string[];
  readonly #values: Values;

  /**
   * @param values option values by name, as `parseArgs` returns them
   * @param positionals the positional arguments
   */
  constructor(values: Values, positionals: string[]) {
    this.#values = values;
    this.positionals = positionals;
  }

  /** Whether a flag was given. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** The value of an option given at most once. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === "string" ? value : undefined;
  }

  /** Every value of an option that may repeat, in order. */
  strings(name: string): string[] {
    const value = this.#values[name];
    return Array.isArray(value) ? value.map(String) : [];
  }
}

// A negative number is a positional argument here (`server.ts -3`), not an
// option; parseArgs would take it for one.
const NEGATIVE_NUMBER = /^-(\d|\.\d|inf|nan)/i;

/**
 * Parses `args` strictly: unknown options and missing values are errors.
 *
 * @param args the arguments after the script name
 * @param options the accepted options
 * @param maxPositionals how many positional arguments are allowed
 * @returns the options and positionals
 * @throws {UsageError} when the arguments do not fit
 */
export function parseCommandLine(
  args: readonly string[],
  options: Record<string, OptionSpec>,
  maxPositionals: number,
): CommandLine {
  // `deno task client 2345 -- --verbose` passes the `--` on, as npm users
  // type it; no argument of ours needs one, so it is dropped rather than
  // turning the options after it into positionals.
  const given = args.filter((arg) => arg !== "--");
  const protectedArgs = new Map<string, string>();
  const prepared: string[] = [];
  for (let i = 0; i < given.length; i++) {
    const arg = given[i];
    const takesValue = Object.entries(options).find(([name, spec]) =>
      spec.type === "string" &&
      (arg === `--${name}` || (spec.short && arg === `-${spec.short}`))
    );
    const value = given[i + 1];
    if (takesValue && value?.startsWith("-")) {
      // parseArgs calls `--retries -1` ambiguous, in three lines; as getopt
      // does, the next argument is the value, and its check says what is
      // wrong with it.
      prepared.push(`--${takesValue[0]}=${value}`);
      i++;
    } else if (NEGATIVE_NUMBER.test(arg)) {
      const placeholder = `\u0000${i}`;
      protectedArgs.set(placeholder, arg);
      prepared.push(placeholder);
    } else {
      prepared.push(arg);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: prepared,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      (error instanceof Error ? error.message : String(error))
        .replace(/\. To specify a positional argument.*$/s, ""),
    );
  }
  const positionals = parsed.positionals.map((arg) =>
    protectedArgs.get(arg) ?? arg
  );
  if (positionals.length > maxPositionals) {
    throw new UsageError(
      `too many arguments: ${positionals.slice(maxPositionals).join(" ")}`,
    );
  }
  return new CommandLine(parsed.values, positionals);
}

/**
 * Parses a whole number within bounds.
 *
 * @param text the argument
 * @param what its name, for the error
 * @throws {UsageError} when it is not a whole number in range
 */
export function parseInteger(
  text: string,
  what: string,
  min: number,
  max: number,
): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(
      `${what} must be a whole number from ${min} to ${max}, not '${text}'`,
    );
  }
  return value;
}

/** Heartbeats when `--heartbeat` is not given, in milliseconds. */
export const DEFAULT_HEARTBEAT = 10_000;

/**
 * Parses `--heartbeat MS`: 0 turns heartbeats off.
 *
 * @param text the option's value, if given
 * @returns milliseconds
 * @throws {UsageError} when it is not a whole number of milliseconds
 */
export function parseHeartbeat(text: string | undefined): number {
  return text === undefined
    ? DEFAULT_HEARTBEAT
    : parseInteger(text, "--heartbeat", 0, 2 ** 31 - 1);
}

/**
 * The socket options `--heartbeat MS` stands for: a PING after MS of
 * silence, the connection dropped when nothing comes within MS more, and a
 * TTL of twice MS asked of the peer.
 */
export function heartbeatOptions(ms: number): {
  heartbeatInterval: number;
  heartbeatTimeout: number;
  heartbeatTimeToLive: number;
} {
  return {
    heartbeatInterval: ms,
    heartbeatTimeout: ms,
    heartbeatTimeToLive: 2 * ms,
  };
}

/**
 * Parses an endpoint given on the command line.
 *
 * @param text `tcp://host:port`
 * @returns host and port
 * @throws {UsageError} when the text is not a TCP endpoint
 */
export function parseEndpointArgument(text: string): TcpEndpoint {
  try {
    return parseEndpoint(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Runs a command-line program: a {@link UsageError} prints its message and
 * the usage on stderr and exits 2; any other error prints one line and exits
 * 1. Never a stack trace. Each line reads `name: message`, the message's
 * first word in lower case as in the program's own lines (`server: cannot
 * bind ...`), though the library and `parseArgs` write sentences
 * (`Cannot bind ...`, `Unknown option ...`).
 *
 * @param name the program's name, for messages
 * @param usage the usage text
 * @param main the program
 */
export async function runMain(
  name: string,
  usage: string,
  main: () => Promise<number | void>,
): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    const message = lowerFirstWord(
      error instanceof Error ? error.message : String(error),
    );
    if (error instanceof UsageError) {
      printError(`${name}: ${message}\n\n${usage}`);
      code = 2;
    } else {
      printError(`${name}: ${message}`);
      code = 1;
    }
  }
  Deno.exit(code);
}

/**
 * `text` with its first word in lower case when that word is a capitalized
 * one (`Cannot`), never an acronym or a name (`CURVE`, `ERROR`).
 */
export function lowerFirstWord(text: string): string {
  return /^[A-Z][a-z]/.test(text)
    ? text.charAt(0).toLowerCase() + text.slice(1)
    : text;
}

/** Writes a line to stderr, whole, ignoring a closed stderr. */
export function printError(text: string): void {
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(text + "\n"));
  } catch {
    // Nobody is listening; nothing else to do.
  }
}
