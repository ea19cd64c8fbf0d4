/**
 * Mutants for CURVE's promises: secrets zeroed, the allow-list, nonce
 * order, and plaintext kept apart per connection.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name: "key wiping: a secret is zeroed on the heap before it is freed",
    file: "lib/zmtp/_sodium.ts",
    find: "    this.#bytes().fill(0);\n    module!._free(this.at);",
    replace: "    module!._free(this.at);",
    tests: ["tests/curve_wipe_test.ts"],
  },
  {
    name: "key wiping: a connection's dispose() wipes its precomputed key",
    file: "lib/zmtp/curve_base.ts",
    find: "    this.#shared?.dispose();\n    this.#shared = undefined;",
    replace: "    this.#shared = undefined;",
    tests: ["tests/curve_wipe_test.ts"],
  },
  {
    name: "wiping on a failed INITIATE: s' and the precomputed key are zeroed",
    file: "lib/zmtp/curve_server.ts",
    find: "    } finally {\n      serverShortSecret.dispose();\n" +
      "      shared?.dispose();\n    }",
    replace: "      serverShortSecret.dispose();\n    } finally {\n" +
      "      // Wiped on success only.\n    }",
    tests: ["tests/curve_wipe_test.ts"],
    filter: "after refusing",
  },
  {
    name: "allow-list: a client key that is not allowed gets ERROR 400",
    file: "lib/zmtp/curve_server.ts",
    find: "if (authorize !== undefined && !authorize(clientKey)) {",
    replace: "if (authorize !== undefined && !authorize(clientKey) && false) {",
    tests: ["tests/curve_mechanism_test.ts"],
    filter: "unauthorized client key",
  },
  {
    name: "nonce order: a replayed MESSAGE nonce is refused",
    file: "lib/zmtp/curve_base.ts",
    find: "    if (!(nonce > this.#peerNonce)) {\n" +
      "      throw new ProtocolError(\n        `MESSAGE nonce",
    replace: "    if (nonce < 0) {\n" +
      "      throw new ProtocolError(\n        `MESSAGE nonce",
    tests: ["tests/curve_mechanism_test.ts"],
    filter: "replayed and reordered MESSAGE nonces",
  },
  {
    name:
      "plaintext separation: no peer's plaintext shares memory with another's",
    file: "lib/zmtp/curve_base.ts",
    find: "if (body.byteLength === body.buffer.byteLength) {",
    replace: "if (body.byteLength > 0) {",
    tests: ["tests/curve_plaintext_test.ts"],
  },
  {
    name:
      "fail closed: a CURVE socket that cannot start never falls back to NULL",
    file: "lib/zmtp/socket.ts",
    find: "this.#roles = security.factory.then((factory) => ({",
    replace: "this.#roles = security.factory.catch(async () =>\n" +
      '      (await import("./null_mechanism.ts")).nullFactory\n' +
      "    ).then((factory) => ({",
    tests: ["tests/security_options_test.ts"],
  },
];
