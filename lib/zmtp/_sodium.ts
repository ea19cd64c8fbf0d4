/**
 * Internal: the few NaCl operations CURVE needs, from libsodium-wrappers
 * (libsodium 1.0.22 compiled to WebAssembly). No primitive is written here:
 * every operation is a call to one of libsodium's own exported functions
 * (`_crypto_box_easy`, `_crypto_box_beforenm`, ...), on the module's heap.
 *
 * Secrets never enter JavaScript memory. A {@link Secret} is a region of
 * the WebAssembly heap, allocated with the module's `_malloc` and zeroed
 * before `_free`: long-term and short-term secret keys, precomputed keys and
 * cookie keys are made there (random octets from `crypto.getRandomValues`
 * straight into the heap, public keys by `_crypto_scalarmult_base`, as
 * `crypto_box_keypair` does) and used there. Every box is made or opened in
 * one scratch area on the heap that is zeroed after each call, whether the
 * call succeeded or not (`try`/`finally`). The wrappers' documented API is
 * not used for any secret: it copies keys into fresh heap buffers and frees
 * them without zeroing.
 *
 * The library is loaded lazily by {@link loadSodium}, so that a program that
 * only speaks NULL never pays its start-up (about 25 ms). Every other
 * function here throws until that promise has resolved.
 *
 * @module
 */

import type { Part } from "./frame.ts";

// The full npm: specifier, not the import map's bare name: a program that
// imports this library by path or URL resolves it without our deno.json.
// Pinned as in deno.json's "imports" (bench/ uses that name).
type Sodium = typeof import("npm:libsodium-wrappers@0.8.4").default;

// The parts of the emscripten module we call directly. The 64-bit length
// parameters are passed as two 32-bit halves (low, high): the module is
// built without BigInt integration. loadSodium() checks this by a round trip.
interface SodiumModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(pointer: number): void;
  _crypto_scalarmult_base(q: number, n: number): number;
  _crypto_box_beforenm(k: number, pk: number, sk: number): number;
  _crypto_box_easy(
    c: number,
    m: number,
    mlenLow: number,
    mlenHigh: number,
    n: number,
    pk: number,
    sk: number,
  ): number;
  _crypto_box_open_easy(
    m: number,
    c: number,
    clenLow: number,
    clenHigh: number,
    n: number,
    pk: number,
    sk: number,
  ): number;
  _crypto_box_easy_afternm(
    c: number,
    m: number,
    mlenLow: number,
    mlenHigh: number,
    n: number,
    k: number,
  ): number;
  _crypto_box_open_easy_afternm(
    m: number,
    c: number,
    clenLow: number,
    clenHigh: number,
    n: number,
    k: number,
  ): number;
  _crypto_secretbox_easy(
    c: number,
    m: number,
    mlenLow: number,
    mlenHigh: number,
    n: number,
    k: number,
  ): number;
  _crypto_secretbox_open_easy(
    m: number,
    c: number,
    clenLow: number,
    clenHigh: number,
    n: number,
    k: number,
  ): number;
}

const FUNCTIONS = [
  "_malloc",
  "_free",
  "_crypto_scalarmult_base",
  "_crypto_box_beforenm",
  "_crypto_box_easy",
  "_crypto_box_open_easy",
  "_crypto_box_easy_afternm",
  "_crypto_box_open_easy_afternm",
  "_crypto_secretbox_easy",
  "_crypto_secretbox_open_easy",
] as const;

/** Octets in a key, public, secret or precomputed. */
export const KEY_BYTES = 32;
/** Octets in a box's nonce. */
export const NONCE_BYTES = 24;
/** Octets a box adds to its plaintext (the Poly1305 tag). */
export const MAC_BYTES = 16;

let sodium: Sodium | undefined;
let module: SodiumModule | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads libsodium, once; later calls return the same promise.
 *
 * @throws {Error} when the library cannot be loaded or fails its self-test
 */
export function loadSodium(): Promise<void> {
  loading ??= load().catch((error) => {
    loading = undefined; // let a later call try again
    throw error;
  });
  return loading;
}

async function load(): Promise<void> {
  // Dynamic, so that the WebAssembly is compiled only when CURVE is used.
  // deno-lint-ignore no-import-prefix -- see the Sodium type above
  const imported = await import("npm:libsodium-wrappers@0.8.4");
  const library = imported.default;
  await library.ready;
  const raw = (library as unknown as { libsodium?: SodiumModule }).libsodium;
  if (
    raw === undefined || !(raw.HEAPU8 instanceof Uint8Array) ||
    FUNCTIONS.some((name) => typeof raw[name] !== "function")
  ) {
    throw new Error(
      "Cannot use libsodium-wrappers: its WebAssembly module exports are not as expected",
    );
  }
  sodium = library;
  module = raw;
  selfTest();
}

/** True once {@link loadSodium} has resolved. */
export function sodiumLoaded(): boolean {
  return module !== undefined;
}

function lib(): SodiumModule {
  if (module === undefined) {
    throw new Error("Cannot use CURVE before loadSodium() has resolved");
  }
  return module;
}

/**
 * The WebAssembly heap, as it is now (its view changes when it grows); for
 * tests that scan it for secrets.
 */
export function sodiumHeap(): Uint8Array {
  return lib().HEAPU8;
}

/** Fills a fresh array of `length` octets from `crypto.getRandomValues`. */
export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

// Zeroes and frees secrets that were never disposed of, when they are
// collected: a safety net; dispose() is the rule.
const forgotten = new FinalizationRegistry<{ at: number; length: number }>(
  ({ at, length }) => {
    if (module === undefined) return;
    module.HEAPU8.fill(0, at, at + length);
    module._free(at);
  },
);

/**
 * A secret (a key, or a cookie's plaintext) on the WebAssembly heap. It is
 * never copied into JavaScript memory; {@link dispose} zeroes and frees it.
 */
export class Secret {
  /** Where it starts on the heap; valid until {@link dispose}. */
  readonly at: number;
  /** Its length in octets. */
  readonly length: number;
  #disposed = false;
  readonly #token = {};

  private constructor(length: number) {
    const raw = lib();
    const at = raw._malloc(length);
    if (at === 0) {
      throw new RangeError(
        `Cannot allocate ${length} octets on the libsodium heap`,
      );
    }
    this.at = at;
    this.length = length;
    forgotten.register(this, { at, length }, this.#token);
  }

  /** A secret of `length` random octets, drawn straight into the heap. */
  static random(length: number = KEY_BYTES): Secret {
    const secret = new Secret(length);
    crypto.getRandomValues(secret.#bytes());
    return secret;
  }

  /**
   * A secret holding a copy of `bytes`; the caller still owns `bytes` (and
   * wipes it, if it is its own).
   */
  static copyOf(bytes: Uint8Array): Secret {
    const secret = new Secret(bytes.length);
    lib().HEAPU8.set(bytes, secret.at);
    return secret;
  }

  /** A secret of `length` zeros, for libsodium to write into. */
  static empty(length: number = KEY_BYTES): Secret {
    const secret = new Secret(length);
    secret.#bytes().fill(0);
    return secret;
  }

  /** True once {@link dispose} has run. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Zeroes the secret on the heap and frees it; idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    forgotten.unregister(this.#token);
    this.#bytes().fill(0);
    module!._free(this.at);
  }

  /** Throws once disposed: a wiped key must never be used. */
  check(): number {
    if (this.#disposed) {
      throw new Error("Cannot use a CURVE key that has been wiped");
    }
    return this.at;
  }

  #bytes(): Uint8Array {
    return module!.HEAPU8.subarray(this.at, this.at + this.length);
  }
}

// The scratch area on the WebAssembly heap, shared by every connection:
// calls are synchronous and JS runs one at a time. It grows to the largest
// box sealed or opened and stays there (WebAssembly memory never shrinks);
// whatever a call writes in it is zeroed before the call returns.
let scratch = 0;
let scratchSize = 0;

// The scratch area's address, with room for `size` octets. The heap's view
// changes when memory grows, so callers read HEAPU8 after this.
function scratchFor(size: number): number {
  const raw = lib();
  if (size > scratchSize) {
    if (scratch !== 0) raw._free(scratch);
    scratchSize = Math.max(size, 2 * scratchSize, 4096);
    scratch = raw._malloc(scratchSize);
    if (scratch === 0) {
      scratchSize = 0;
      throw new RangeError(
        `Cannot allocate ${size} octets on the libsodium heap`,
      );
    }
  }
  return scratch;
}

// Runs `work` on the scratch area, with room for `size` octets, and zeroes
// what it used however it ends.
function inScratch<T>(size: number, work: (at: number) => T): T {
  const at = scratchFor(size);
  try {
    return work(at);
  } finally {
    module!.HEAPU8.fill(0, at, at + size);
  }
}

/** A fresh Curve25519 key pair: the public key, and the secret on the heap. */
export function boxKeyPair(): { publicKey: Uint8Array; secret: Secret } {
  const secret = Secret.random(KEY_BYTES);
  try {
    return { publicKey: publicKeyOf(secret), secret };
  } catch (error) {
    secret.dispose();
    throw error;
  }
}

/** The public key that belongs to a secret key on the heap. */
export function publicKeyOf(secret: Secret): Uint8Array {
  const raw = lib();
  const sk = secret.check();
  return inScratch(KEY_BYTES, (at) => {
    raw._crypto_scalarmult_base(at, sk);
    return raw.HEAPU8.slice(at, at + KEY_BYTES);
  });
}

/**
 * The public key that belongs to a secret key the caller holds; the secret
 * passes only through the scratch area.
 */
export function publicKeyOfBytes(secretKey: Uint8Array): Uint8Array {
  const raw = lib();
  return inScratch(2 * KEY_BYTES, (at) => {
    raw.HEAPU8.set(secretKey, at + KEY_BYTES);
    raw._crypto_scalarmult_base(at, at + KEY_BYTES);
    return raw.HEAPU8.slice(at, at + KEY_BYTES);
  });
}

/**
 * crypto_box_beforenm: the key shared by `publicKey` and `secret`, on the
 * heap.
 *
 * @returns the precomputed key, or `undefined` when `publicKey` is a point
 * of small order (libsodium refuses it)
 */
export function precompute(
  publicKey: Uint8Array,
  secret: Secret,
): Secret | undefined {
  const raw = lib();
  const sk = secret.check();
  const shared = Secret.empty(KEY_BYTES);
  const failed = inScratch(KEY_BYTES, (at) => {
    raw.HEAPU8.set(publicKey, at);
    return raw._crypto_box_beforenm(shared.at, at, sk);
  });
  if (failed !== 0) {
    shared.dispose();
    return undefined;
  }
  return shared;
}

// Layout of a box call in the scratch area: nonce, public key, then the
// plaintext and the box, each with room for the tag.
const NONCE_AT = 0;
const PUBLIC_AT = NONCE_BYTES;
const DATA_AT = 64;

/** crypto_box_easy: seals `message` from `secret` to `publicKey`. */
export function box(
  message: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array,
  secret: Secret,
): Uint8Array {
  const sk = secret.check();
  return sealInScratch(
    message,
    nonce,
    publicKey,
    (raw, c, m, at) =>
      raw._crypto_box_easy(
        c,
        m,
        message.length,
        0,
        at + NONCE_AT,
        at + PUBLIC_AT,
        sk,
      ),
  );
}

/**
 * crypto_box_open_easy: the plaintext (which must not be secret: it is
 * copied out), or `undefined` when the box is not authentic.
 */
export function boxOpen(
  sealed: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array,
  secret: Secret,
): Uint8Array | undefined {
  const sk = secret.check();
  return openInScratch(
    sealed,
    nonce,
    publicKey,
    (raw, m, c, at) =>
      raw._crypto_box_open_easy(
        m,
        c,
        sealed.length,
        0,
        at + NONCE_AT,
        at + PUBLIC_AT,
        sk,
      ),
  );
}

/** crypto_box_easy_afternm: seals `message` with a precomputed key. */
export function boxAfternm(
  message: Uint8Array,
  nonce: Uint8Array,
  shared: Secret,
): Uint8Array {
  const k = shared.check();
  return sealInScratch(
    message,
    nonce,
    undefined,
    (raw, c, m, at) =>
      raw._crypto_box_easy_afternm(c, m, message.length, 0, at + NONCE_AT, k),
  );
}

/**
 * crypto_box_open_easy_afternm: the plaintext (copied out: it must not be
 * secret), or `undefined`.
 */
export function boxOpenAfternm(
  sealed: Uint8Array,
  nonce: Uint8Array,
  shared: Secret,
): Uint8Array | undefined {
  const k = shared.check();
  return openInScratch(
    sealed,
    nonce,
    undefined,
    (raw, m, c, at) =>
      raw._crypto_box_open_easy_afternm(
        m,
        c,
        sealed.length,
        0,
        at + NONCE_AT,
        k,
      ),
  );
}

// Seals `message` in the scratch area laid out as above: `seal` is given
// where the box goes (c), where the message is (m) and the area's start.
function sealInScratch(
  message: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array | undefined,
  seal: (raw: SodiumModule, c: number, m: number, at: number) => void,
): Uint8Array {
  const raw = lib();
  const boxLength = MAC_BYTES + message.length;
  return inScratch(DATA_AT + message.length + boxLength, (at) => {
    const heap = raw.HEAPU8;
    heap.set(nonce, at + NONCE_AT);
    if (publicKey !== undefined) heap.set(publicKey, at + PUBLIC_AT);
    const m = at + DATA_AT;
    const c = m + message.length;
    heap.set(message, m);
    seal(raw, c, m, at);
    return raw.HEAPU8.slice(c, c + boxLength);
  });
}

// Opens `sealed` in the scratch area: `open` is given where the plaintext
// goes (m), where the box is (c) and the area's start, and returns
// libsodium's result (0 when the box is authentic).
function openInScratch(
  sealed: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array | undefined,
  open: (raw: SodiumModule, m: number, c: number, at: number) => number,
): Uint8Array | undefined {
  if (sealed.length < MAC_BYTES) return undefined;
  const raw = lib();
  const plainLength = sealed.length - MAC_BYTES;
  return inScratch(DATA_AT + sealed.length + plainLength, (at) => {
    const heap = raw.HEAPU8;
    heap.set(nonce, at + NONCE_AT);
    if (publicKey !== undefined) heap.set(publicKey, at + PUBLIC_AT);
    const c = at + DATA_AT;
    const m = c + sealed.length;
    heap.set(sealed, c);
    const failed = open(raw, m, c, at);
    return failed === 0 ? raw.HEAPU8.slice(m, m + plainLength) : undefined;
  });
}

/**
 * The server's half of a CURVE cookie, all on the heap: makes a short-term
 * key pair, seals the client's short-term public key and the new secret
 * under the cookie key (crypto_secretbox_easy), and zeroes the secret.
 *
 * @param clientShort C', the client's short-term public key
 * @param nonce the cookie's 24-octet nonce
 * @param cookieKey the key that seals cookies
 * @returns S', the new short-term public key, and the sealed cookie
 */
export function sealCookie(
  clientShort: Uint8Array,
  nonce: Uint8Array,
  cookieKey: Secret,
): { serverShort: Uint8Array; cookie: Uint8Array } {
  const raw = lib();
  const k = cookieKey.check();
  const plainLength = 2 * KEY_BYTES;
  return inScratch(DATA_AT + plainLength + MAC_BYTES + plainLength, (at) => {
    const heap = raw.HEAPU8;
    heap.set(nonce, at + NONCE_AT);
    const m = at + DATA_AT;
    const c = m + plainLength;
    heap.set(clientShort, m);
    // s' is drawn straight into the cookie's plaintext.
    crypto.getRandomValues(heap.subarray(m + KEY_BYTES, m + plainLength));
    raw._crypto_scalarmult_base(at + PUBLIC_AT, m + KEY_BYTES);
    raw._crypto_secretbox_easy(c, m, plainLength, 0, at + NONCE_AT, k);
    return {
      serverShort: raw.HEAPU8.slice(at + PUBLIC_AT, at + PUBLIC_AT + KEY_BYTES),
      cookie: raw.HEAPU8.slice(c, c + MAC_BYTES + plainLength),
    };
  });
}

/**
 * Opens a CURVE cookie (crypto_secretbox_open_easy) under the first of
 * `keys` that opens it, on the heap.
 *
 * @param sealed the 80-octet cookie box
 * @param nonce its 24-octet nonce
 * @param keys the cookie keys to try
 * @returns C' (public, copied out) and s' (on the heap, the caller's to
 * dispose of), or `undefined` when no key opens it
 */
export function openCookie(
  sealed: Uint8Array,
  nonce: Uint8Array,
  keys: readonly Secret[],
): { clientShort: Uint8Array; serverShortSecret: Secret } | undefined {
  if (sealed.length !== MAC_BYTES + 2 * KEY_BYTES) return undefined;
  const raw = lib();
  const plainLength = 2 * KEY_BYTES;
  return inScratch(DATA_AT + sealed.length + plainLength, (at) => {
    const heap = raw.HEAPU8;
    heap.set(nonce, at + NONCE_AT);
    const c = at + DATA_AT;
    const m = c + sealed.length;
    heap.set(sealed, c);
    for (const key of keys) {
      const k = key.check();
      if (
        raw._crypto_secretbox_open_easy(
          m,
          c,
          sealed.length,
          0,
          at + NONCE_AT,
          k,
        ) === 0
      ) {
        const clientShort = raw.HEAPU8.slice(m, m + KEY_BYTES);
        const serverShortSecret = Secret.empty(KEY_BYTES);
        raw.HEAPU8.copyWithin(
          serverShortSecret.at,
          m + KEY_BYTES,
          m + plainLength,
        );
        return { clientShort, serverShortSecret };
      }
    }
    return undefined;
  });
}

/**
 * Compares two arrays of equal length without an early exit: the
 * libsodium-wrappers `memcmp`, a JavaScript loop that ORs the XOR of every
 * pair of octets (the WebAssembly build exports no `sodium_memcmp`). Used
 * on public values only (keys, nonces).
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (sodium === undefined) lib();
  return a.length === b.length && sodium!.memcmp(a, b);
}

/** Overwrites memory with zeros once it is no longer needed. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

const textEncoder = new TextEncoder();

/**
 * Seals one octet `first` followed by `part` with a precomputed key
 * (crypto_box_easy_afternm), writing the tag and ciphertext straight into
 * `target` at `offset`: `MAC_BYTES + 1 + length` octets.
 *
 * @param shared the precomputed key, on the heap
 * @param nonce the 24-octet nonce
 * @param first the plaintext's first octet
 * @param part the rest of the plaintext; text is written as UTF-8
 * @param length the rest's length in octets (UTF-8 for text)
 * @param target where the box goes
 * @param offset where it starts
 * @returns the offset after the box
 */
export function sealInto(
  shared: Secret,
  nonce: Uint8Array,
  first: number,
  part: Part,
  length: number,
  target: Uint8Array,
  offset: number,
): number {
  const raw = lib();
  const k = shared.check();
  const plainLength = 1 + length;
  const boxLength = MAC_BYTES + plainLength;
  const base = scratchFor(DATA_AT + boxLength);
  const heap = raw.HEAPU8;
  // The plaintext goes right after room for the tag, so that libsodium
  // writes the ciphertext over it in place and the tag before it.
  const boxAt = base + DATA_AT;
  const plainAt = boxAt + MAC_BYTES;
  try {
    heap.set(nonce, base + NONCE_AT);
    heap[plainAt] = first;
    if (typeof part === "string") {
      if (length === part.length) {
        for (let i = 0; i < length; i++) {
          heap[plainAt + 1 + i] = part.charCodeAt(i);
        }
      } else {
        textEncoder.encodeInto(
          part,
          heap.subarray(plainAt + 1, plainAt + 1 + length),
        );
      }
    } else if (length <= 16) {
      for (let i = 0; i < length; i++) heap[plainAt + 1 + i] = part[i];
    } else {
      heap.set(part, plainAt + 1);
    }
    raw._crypto_box_easy_afternm(
      boxAt,
      plainAt,
      plainLength,
      0,
      base + NONCE_AT,
      k,
    );
    // Short boxes (a delimiter, a number) by hand: a view costs more.
    if (boxLength <= 64) {
      for (let i = 0; i < boxLength; i++) target[offset + i] = heap[boxAt + i];
    } else {
      target.set(heap.subarray(boxAt, boxAt + boxLength), offset);
    }
  } finally {
    // The plaintext does not stay on the heap.
    heap.fill(0, base, boxAt + boxLength);
  }
  return offset + boxLength;
}

/**
 * Opens a box made with a precomputed key (crypto_box_open_easy_afternm),
 * writing the plaintext into `target` at `offset`.
 *
 * @param shared the precomputed key, on the heap
 * @param nonce the 24-octet nonce
 * @param sealed the tag and ciphertext
 * @param target where the plaintext goes (it may be `sealed` itself, at
 * `MAC_BYTES`: in place); has room for `sealed.length - MAC_BYTES` octets
 * @param offset where it starts
 * @returns true, or false when the box is not authentic (then `target` is
 * unchanged)
 */
export function openInto(
  shared: Secret,
  nonce: Uint8Array,
  sealed: Uint8Array,
  target: Uint8Array,
  offset: number,
): boolean {
  if (sealed.length < MAC_BYTES) return false;
  const raw = lib();
  const k = shared.check();
  const base = scratchFor(DATA_AT + sealed.length);
  const heap = raw.HEAPU8;
  const boxAt = base + DATA_AT;
  const plainAt = boxAt + MAC_BYTES;
  const plainLength = sealed.length - MAC_BYTES;
  try {
    heap.set(nonce, base + NONCE_AT);
    heap.set(sealed, boxAt);
    const failed = raw._crypto_box_open_easy_afternm(
      plainAt,
      boxAt,
      sealed.length,
      0,
      base + NONCE_AT,
      k,
    );
    if (failed !== 0) return false;
    if (plainLength <= 64) {
      for (let i = 0; i < plainLength; i++) {
        target[offset + i] = heap[plainAt + i];
      }
    } else {
      target.set(heap.subarray(plainAt, plainAt + plainLength), offset);
    }
  } finally {
    // The plaintext does not stay on the heap.
    heap.fill(0, base, boxAt + sealed.length);
  }
  return true;
}

// Proves the direct calls agree with the documented API, both ways, and that
// a tampered box fails, before anything relies on them. The documented API
// sees only a throwaway key, made for this test and used for nothing else.
function selfTest(): void {
  const library = sodium!;
  const throwaway = randomBytes(KEY_BYTES);
  const shared = Secret.copyOf(throwaway);
  let passed = false;
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const text = "x".repeat(300);
    const sealed = new Uint8Array(MAC_BYTES + 1 + text.length);
    sealInto(shared, nonce, 7, text, text.length, sealed, 0);
    const message = new Uint8Array(1 + text.length).fill(0x78);
    message[0] = 7;
    const expected = library.crypto_box_easy_afternm(message, nonce, throwaway);
    const plain = new Uint8Array(message.length);
    const opened = openInto(shared, nonce, expected, plain, 0);
    const forged = expected.slice();
    forged[MAC_BYTES + 5] ^= 1;
    const tampered = openInto(shared, nonce, forged, plain.slice(), 0);
    const again = boxOpenAfternm(
      boxAfternm(message, nonce, shared),
      nonce,
      shared,
    );
    passed = opened && library.memcmp(sealed, expected) &&
      library.memcmp(plain, message) && !tampered && again !== undefined &&
      library.memcmp(again, message);
  } catch {
    passed = false;
  } finally {
    shared.dispose();
    throwaway.fill(0);
  }
  if (!passed) {
    module = undefined;
    sodium = undefined;
    throw new Error(
      "Cannot use libsodium-wrappers: its WebAssembly functions failed the self-test",
    );
  }
}
