/**
 * Mutants for the bounds that hold whatever a peer does (issue 15): queue
 * marks and part accounting, making room at a full server, the command
 * budget, the write buffer kept, send() ownership, Server-full.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name: "send high-water mark",
    file: "lib/zmtp/pipe.ts",
    find: "this.#outbound.size >= this.#marks.sendHighWaterMark ||",
    replace: "",
    tests: ["tests/pipe_test.ts"],
    filter: "send high-water mark",
  },
  {
    name: "receive high-water mark",
    file: "lib/zmtp/pipe.ts",
    find: "return this.#inbound.size >= this.#marks.receiveHighWaterMark ||",
    replace: "return",
    tests: ["tests/pipe_test.ts"],
    filter: "receive high-water mark",
  },
  {
    name: "part accounting: a queued message counts its parts' cost",
    file: "lib/zmtp/pipe.ts",
    find: "return octets + MESSAGE_OVERHEAD + parts * PART_OVERHEAD;",
    replace: "return octets;",
    tests: ["tests/pipe_test.ts", "tests/part_accounting_test.ts"],
  },
  {
    name:
      "idle rule: at --max-connections a new peer takes an idle or unpingable peer's place",
    file: "lib/zmtp/socket.ts",
    find:
      "const evictee = this.#evictee();\n      if (evictee === undefined) {",
    replace: "const evictee = undefined;\n      if (evictee === undefined) {",
    tests: ["tests/bounds_test.ts"],
    filter: "max-connections 20",
  },
  {
    name: "idle rule: idle peers that cannot be pinged go before pingable ones",
    file: "lib/zmtp/eviction.ts",
    find: "if (!standing.active) return standing.pingable ? 1 : 0;",
    replace: "if (!standing.active) return 0;",
    tests: ["tests/eviction_test.ts"],
  },
  {
    name:
      "descriptor-limit rule: out of descriptors, the peer silent longest makes room",
    file: "lib/zmtp/transport.ts",
    find: "if (limit !== undefined && isOutOfDescriptors(error)) {",
    replace: "if (false) {",
    tests: ["tests/bounds_test.ts"],
    filter: "ulimit",
  },
  {
    name:
      "descriptor-limit rule: a connection on the last descriptor makes room or is refused",
    file: "lib/zmtp/transport.ts",
    find: "await limit.atLimit(conn);",
    replace: "accepted(conn);",
    tests: ["tests/bounds_test.ts"],
    filter: "ulimit",
  },
  {
    name: "command budget shrinks as a CURVE message grows",
    file: "lib/zmtp/connection.ts",
    find: "? Math.max(decoder.messageBudget, BOXED_COMMAND_MAX)",
    replace: "? Math.max(maxCommandFrame, maxMessageFrame)",
    tests: ["tests/command_budget_test.ts"],
  },
  {
    name: "write buffer kept only up to 1 KiB",
    file: "lib/zmtp/write_batch.ts",
    find: "if (this.#buffer.length > BUFFER_KEEP) {",
    replace: "if (false) {",
    tests: ["tests/write_batch_test.ts"],
    filter: "1 KiB",
  },
  {
    name: "send() copies a message of one Uint8Array",
    file: "lib/zmtp/socket.ts",
    find: "if (message instanceof Uint8Array) return [message.slice()];",
    replace: "if (message instanceof Uint8Array) return [message];",
    tests: ["tests/bounds_test.ts"],
    filter: "send() copies",
  },
  {
    name: "send() copies each Uint8Array part",
    file: "lib/zmtp/socket.ts",
    find: "if (part instanceof Uint8Array) return part.slice();",
    replace: "if (part instanceof Uint8Array) return part;",
    tests: ["tests/bounds_test.ts"],
    filter: "send() copies",
  },
  {
    name: "a full server with busy peers answers ERROR Server-full",
    file: "lib/zmtp/socket.ts",
    find: "if (this.#refusing.size >= MAX_REFUSING) {",
    replace: "if (true) {",
    tests: ["tests/bounds_test.ts"],
    filter: "Server-full",
  },
  {
    name: "ERROR Server-full reaches the client as ServerFullError",
    file: "lib/zmtp/handshake.ts",
    find: "throw refusedWith(error.reason);",
    replace: "throw error;",
    tests: ["tests/bounds_test.ts"],
    filter: "ServerFullError",
  },
];
