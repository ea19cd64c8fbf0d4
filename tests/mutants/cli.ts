/**
 * Mutants for the programs' promises: one Ctrl-C is one graceful stop,
 * causes known by type and said at once where waiting cannot help, a full
 * server tried again, keys said plainly, keygen's real modes, a compile
 * that never lies, messages in one case.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

const CAUSES = ["tests/client_causes_test.ts"];

export const mutants: Mutant[] = [
  {
    name: "one Ctrl-C (a second SIGINT within 500 ms) is one graceful stop",
    file: "lib/stop_signals.ts",
    find: 'return now - this.#first < REPEAT_WINDOW_MS ? "repeat" : "at once";',
    replace: 'return "at once";',
    tests: ["tests/cli_test.ts"],
    filter: "a second SIGINT right after the first",
  },
  {
    name: "a second, deliberate Ctrl-C stops the server at once",
    file: "lib/stop_signals.ts",
    find: 'return now - this.#first < REPEAT_WINDOW_MS ? "repeat" : "at once";',
    replace: 'return "repeat";',
    tests: ["tests/cli_test.ts"],
    filter: "a second Ctrl-C 800 ms after the first",
  },
  {
    name: "the graceful stop says so on stderr",
    file: "server.ts",
    find: '        err.line(\n          "server: stopping: answering',
    replace: '        void (\n          "server: stopping: answering',
    tests: ["tests/cli_test.ts"],
    filter: "SIGTERM and SIGINT stop it",
  },
  {
    name:
      "log lines batched before a graceful stop are written before its line",
    file: "server.ts",
    find: "void out.flush(100).finally(() => {",
    replace: "void Promise.resolve().finally(() => {",
    tests: ["tests/cli_test.ts"],
    filter: "a request answered just before SIGTERM",
  },
  {
    name: "a host name that does not exist ends the client at once",
    file: "lib/causes.ts",
    find: "? stop(\n        `cannot resolve",
    replace: "? retry(\n        `cannot resolve",
    tests: CAUSES,
    filter: "host name that does not exist",
  },
  {
    name: "a resolver that does not answer is tried again",
    file: "lib/causes.ts",
    find: ": retry(\n        `cannot resolve",
    replace: ": stop(\n        `cannot resolve",
    tests: CAUSES,
    filter: "resolver that does not answer",
  },
  {
    name: "a lookup failure is known by the resolver's code",
    file: "lib/zmtp/transport.ts",
    find: "? error\n      : new HostLookupError(hostname, code, error);",
    replace: "? error\n      : error;",
    tests: CAUSES,
    filter: "host name that does not exist",
  },
  {
    name: "a server that requires another mechanism ends the client at once",
    file: "lib/causes.ts",
    find: "return stop(\n        `${at} requires CURVE",
    replace: "return retry(\n        `${at} requires CURVE",
    tests: CAUSES,
    filter: "asks for CURVE",
  },
  {
    name: "a CURVE server closing on another key ends the client at once",
    file: "lib/causes.ts",
    find: 'case "CURVE":\n        return stop(',
    replace: 'case "CURVE":\n        return retry(',
    tests: ["tests/curve_programs_test.ts"],
    filter: "wrong --curve-server-key says",
  },
  {
    name: "an empty ERROR from a CURVE server names the key",
    file: "lib/causes.ts",
    find: 'if (curve && error.reason === "") {',
    replace: "if (false) {",
    tests: CAUSES,
    filter: "empty ERROR",
  },
  {
    name: "a peer that is not ZeroMQ ends the client at once",
    file: "lib/causes.ts",
    find: "return stop(`${at} is not a ZeroMQ peer",
    replace: "return retry(`${at} is not a ZeroMQ peer",
    tests: CAUSES,
    filter: "SSH banner",
  },
  {
    name: "a cause waiting cannot cure stops that server",
    file: "lib/lazy_pirate.ts",
    find: "    if (!final) {",
    replace: "    if (true) {",
    tests: CAUSES,
    filter: "host name that does not exist",
  },
  {
    name: "a full server is tried again",
    file: "lib/zmtp/socket.ts",
    find: "!(error instanceof ServerFullError)",
    replace: "true",
    tests: CAUSES,
    filter: "full server",
  },
  {
    name: "a full server says so",
    file: "lib/causes.ts",
    find: "if (error instanceof ServerFullError) {",
    replace: "if (false) {",
    tests: CAUSES,
    filter: "full server",
  },
  {
    name: "a mistyped key is named as not a Z85 key nor a NAME.key file",
    file: "lib/security.ts",
    find: "if (Z85_TEXT.test(text) && !CERTIFICATE_FILE.test(text)) {",
    replace: "if (false) {",
    tests: ["tests/cli_test.ts"],
    filter: "39-character key",
  },
  {
    name: "a key file Deno may not read is one line, without the usage",
    file: "lib/security.ts",
    find:
      "    throw new KeyFileError(`${option} ${file}: ${readError(error, file)}`);",
    replace:
      "    throw new UsageError(`${option} ${file}: ${readError(error, file)}`);",
    tests: ["tests/cli_test.ts"],
    filter: "a key file Deno may not read",
  },
  {
    name: "keygen reports each file's real mode",
    file: "keygen.ts",
    find: "const publicMode = await modeOf(files.publicFile);",
    replace: 'const publicMode = "0600";',
    tests: ["tests/keygen_test.ts"],
    filter: "pyzmq loads",
  },
  {
    name: "messages start in lower case after the program's name",
    file: "lib/cli.ts",
    find: "    const message = lowerFirstWord(",
    replace: "    const message = (",
    tests: ["tests/cli_test.ts"],
    filter: "a port in use",
  },
  {
    name: "compile refuses a DENORT_BIN that is not a denort",
    file: "tools/compile.ts",
    find: "  if (!output.success) return undefined;",
    replace: "  return undefined;",
    tests: ["tests/compile_test.ts"],
    filter: "refuses a DENORT_BIN",
  },
  {
    name: "compile says what to set where no denort can be had",
    file: "tools/compile.ts",
    find: "if (denort === undefined && !await exists(await cachedDenort())) {",
    replace: "if (false) {",
    tests: ["tests/compile_test.ts"],
    filter: "no denort to be had",
  },
  {
    name: "compile leaves no empty dist/ behind",
    file: "tools/compile.ts",
    find: "      await Deno.remove(DIST).catch(() => {});",
    replace: "",
    tests: ["tests/compile_test.ts"],
    filter: "no denort to be had",
  },
];
