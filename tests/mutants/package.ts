/**
 * Mutants for the promises of lib/zmtp as a package: its events, its
 * zeromq.js names, what it publishes, and that it works from outside.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name: "socket.events ends when the socket closes",
    file: "lib/zmtp/socket.ts",
    find: "    this.#events.end();\n",
    replace: "",
    tests: ["tests/socket_events_test.ts"],
  },
  {
    name: "socket.events keeps at most SOCKET_EVENT_LIMIT unread events",
    file: "lib/zmtp/socket_events.ts",
    find: "else if (queue.size < SOCKET_EVENT_LIMIT) queue.push(event);",
    replace: "else if (queue.size >= 0) queue.push(event);",
    tests: ["tests/socket_events_test.ts"],
    filter: "SOCKET_EVENT_LIMIT",
  },
  {
    name: "socket.events keeps nothing before it is first read",
    file: "lib/zmtp/socket_events.ts",
    find: "  #queue: Queue<SocketEvent> | undefined;",
    replace: "  #queue: Queue<SocketEvent> | undefined = new Queue();",
    tests: ["tests/socket_events_test.ts"],
    filter: "keeps nothing",
  },
  {
    name: "the handshakeInterval option limits a connection's handshake",
    file: "lib/zmtp/socket.ts",
    find: "handshakeTimeout: resolved.handshakeInterval,",
    replace: "handshakeTimeout: DEFAULTS.handshakeInterval,",
    tests: ["tests/fuzz_test.ts"],
    filter: "handshake timeout",
  },
  {
    name: "curveKeyPair() returns a secret key that belongs to its public key",
    file: "lib/zmtp/curve_keys.ts",
    find: "secretKey: encodeZ85Key(secretKey),",
    replace: "secretKey: encodeZ85Key(publicKey),",
    tests: ["tests/examples_test.ts"],
    filter: "is answered",
  },
  {
    name: "reconnectInterval -1 does not reconnect",
    file: "lib/zmtp/transport.ts",
    find: "if (this.#options.reconnectInterval < 0) {",
    replace: "if (this.#options.reconnectInterval < -1) {",
    tests: ["tests/socket_options_test.ts"],
    filter: "reconnectInterval -1",
  },
  {
    name: "deno publish ships only the library's files",
    file: "deno.json",
    find: '"lib/zmtp/",',
    replace: '"lib/",',
    tests: ["tests/package_test.ts"],
    filter: "publish",
  },
  {
    name: "a program without our import map can use CURVE",
    file: "lib/zmtp/_sodium.ts",
    find: 'await import("npm:libsodium-wrappers@0.8.4");',
    replace: 'await import("libsodium-wrappers");',
    tests: ["tests/package_test.ts"],
    filter: "imported by path",
  },
  {
    name: "the doc examples' assertions are checked",
    file: "lib/zmtp/rep.ts",
    find: 'assert.equal(new TextDecoder().decode(echo), "ping");',
    replace: 'assert.equal(new TextDecoder().decode(echo), "pong");',
    tests: ["tests/doc_examples_test.ts"],
  },
];
