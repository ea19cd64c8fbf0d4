/**
 * Mutants for promises docs/security.md and docs/guide.md make, each killed
 * by the test the page cites: forward secrecy, the handshake timeout on a
 * stalled CURVE handshake, the 64 KiB command bound, an immediate retry when
 * a server goes away, and the reconnect delays.
 *
 * @module
 */
import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name: "forward secrecy: the client's short-term key pair",
    file: "lib/zmtp/_sodium.ts",
    find: "  const secret = Secret.random(KEY_BYTES);\n  try {",
    replace:
      "  const secret = Secret.copyOf(new Uint8Array(KEY_BYTES).fill(7));\n  try {",
    tests: ["tests/curve_forward_secrecy_test.ts"],
  },
  {
    name: "forward secrecy: the server's short-term key pair",
    file: "lib/zmtp/_sodium.ts",
    find:
      "crypto.getRandomValues(heap.subarray(m + KEY_BYTES, m + plainLength));",
    replace: "heap.fill(7, m + KEY_BYTES, m + plainLength);",
    tests: ["tests/curve_forward_secrecy_test.ts"],
  },
  {
    name: "the handshake timeout covers a stalled CURVE handshake",
    file: "lib/zmtp/liveness.ts",
    find: "if (limit > 0 && now - this.#openedAt >= limit) {",
    replace: "if (limit < 0 && now - this.#openedAt >= limit) {",
    tests: ["tests/curve_handshake_timeout_test.ts"],
  },
  {
    name: "a command frame is held to 64 KiB",
    file: "lib/zmtp/connection.ts",
    find: "export const MAX_COMMAND_SIZE = 65536;",
    replace: "export const MAX_COMMAND_SIZE = 65536 * 16;",
    tests: ["tests/command_size_test.ts"],
  },
  {
    name: "a request whose server goes away is sent again at once",
    file: "lib/zmtp/req.ts",
    find: "if (this.#outgoing?.pipe === pipe) {",
    replace: "if (false && this.#outgoing?.pipe === pipe) {",
    tests: ["tests/retry_at_once_test.ts"],
  },
  {
    name: "reconnect delays double up to the cap",
    file: "lib/zmtp/transport.ts",
    find: "const grown = Math.min(cap, base * 2 ** Math.min(attempt, 30));",
    replace: "const grown = Math.min(cap, base * 2 ** Math.min(attempt, 0));",
    tests: ["tests/backoff_test.ts"],
  },
];
