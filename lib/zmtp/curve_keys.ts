/**
 * CURVE keys: key pairs, Z85, and the certificate files czmq and pyzmq's
 * `zmq.auth` write and read. `NAME.key` holds the public key only, for
 * handing out; `NAME.key_secret` holds both and stays private. Both are ZPL
 * (ZeroMQ RFC 4):
 *
 * ```text
 * #   ZeroMQ CURVE **Secret** Certificate
 * metadata
 *     name = "value"
 * curve
 *     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
 *     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
 * ```
 *
 * @module
 */

import {
  equalBytes,
  KEY_BYTES,
  loadSodium,
  publicKeyOfBytes,
  randomBytes,
} from "./_sodium.ts";
import { decodeZ85Key, encodeZ85Key } from "./z85.ts";

export { decodeZ85Key, encodeZ85Key } from "./z85.ts";

/** A long-term CURVE key pair, 32 octets each. */
export interface CurveKeyPair {
  /** The public key, given to peers. */
  publicKey: Uint8Array;
  /** The secret key, never shared. */
  secretKey: Uint8Array;
}

/**
 * Generates a fresh key pair (randomness from `crypto.getRandomValues`, the
 * public key from libsodium's `crypto_scalarmult_base`). The secret key is
 * the caller's, in JavaScript memory: wipe it (`fill(0)`) when done. A socket
 * with no key pair of its own makes one on the WebAssembly heap instead.
 *
 * @returns the new key pair
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeZ85Key, generateKeyPair } from "./curve_keys.ts";
 * const { publicKey } = await generateKeyPair();
 * assert.equal(encodeZ85Key(publicKey).length, 40);
 * ```
 */
export async function generateKeyPair(): Promise<CurveKeyPair> {
  await loadSodium();
  const secretKey = randomBytes(KEY_BYTES);
  return { publicKey: publicKeyOfBytes(secretKey), secretKey };
}

/** A CURVE key pair as Z85 text, 40 characters each, as zeromq.js gives it. */
export interface Z85KeyPair {
  /** The public key, given to peers. */
  publicKey: string;
  /** The secret key, never shared. */
  secretKey: string;
}

/**
 * Generates a fresh key pair as Z85 text, as zeromq.js's `curveKeyPair()`
 * does, ready for the `curvePublicKey`, `curveSecretKey` and
 * `curveServerKey` options. Unlike zeromq.js's it returns a promise, since
 * libsodium loads asynchronously. A string cannot be wiped from memory: to
 * keep a secret key only in bytes, use {@link generateKeyPair}.
 *
 * @returns the new key pair, 40 Z85 characters each
 * @throws {Error} when libsodium cannot be loaded
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curveKeyPair, Reply } from "./mod.ts";
 *
 * const { publicKey, secretKey } = await curveKeyPair();
 * const reply = new Reply({
 *   curveServer: true,
 *   curvePublicKey: publicKey,
 *   curveSecretKey: secretKey,
 * });
 * assert.equal(reply.mechanism, "CURVE");
 * await reply.close();
 * ```
 */
export async function curveKeyPair(): Promise<Z85KeyPair> {
  const { publicKey, secretKey } = await generateKeyPair();
  const pair = {
    publicKey: encodeZ85Key(publicKey),
    secretKey: encodeZ85Key(secretKey),
  };
  secretKey.fill(0); // the text is all the caller gets
  return pair;
}

/**
 * The public key that belongs to a secret key.
 *
 * @param secretKey 32 octets
 * @returns the 32-octet public key
 * @throws {RangeError} when the key is not 32 octets
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, publicKeyFromSecret } from "./mod.ts";
 * const { publicKey, secretKey } = await generateKeyPair();
 * assert.deepEqual(await publicKeyFromSecret(secretKey), publicKey);
 * ```
 */
export async function publicKeyFromSecret(
  secretKey: Uint8Array,
): Promise<Uint8Array> {
  checkKey(secretKey, "secret key");
  await loadSodium();
  return publicKeyOfBytes(secretKey);
}

/**
 * A key pair from its two keys in Z85, checked to belong together.
 *
 * @param publicKey the public key, 40 Z85 characters
 * @param secretKey the secret key, 40 Z85 characters
 * @returns the key pair
 * @throws {SyntaxError} when a key is not 40 Z85 characters
 * @throws {RangeError} when the secret key does not belong to the public key
 *
 * @example
 * ```ts
 * import { keyPairFromZ85 } from "./curve_keys.ts";
 * await keyPairFromZ85(
 *   "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
 *   "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
 * );
 * ```
 */
export async function keyPairFromZ85(
  publicKey: string,
  secretKey: string,
): Promise<CurveKeyPair> {
  const pair = {
    publicKey: decodeZ85Key(publicKey),
    secretKey: decodeSecret(secretKey, "Cannot decode the secret key"),
  };
  if (!equalBytes(await publicKeyFromSecret(pair.secretKey), pair.publicKey)) {
    throw new RangeError(
      `Cannot use key pair "${publicKey}": the secret key does not belong to it`,
    );
  }
  return pair;
}

/**
 * A check for servers that admit only the given client public keys, for
 * the CURVE server's `authorize` option.
 *
 * @param keys the admitted public keys, 32 octets each
 * @returns a function telling whether a key is admitted
 * @throws {RangeError} when a key is not 32 octets
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allowKeys, generateKeyPair } from "./curve_keys.ts";
 * const client = await generateKeyPair();
 * const authorize = allowKeys([client.publicKey]);
 * assert.equal(authorize(client.publicKey), true);
 * ```
 */
export function allowKeys(
  keys: Iterable<Uint8Array>,
): (publicKey: Uint8Array) => boolean {
  const allowed = new Set<string>();
  for (const key of keys) allowed.add(encodeZ85Key(key));
  return (publicKey) =>
    publicKey.length === 32 && allowed.has(encodeZ85Key(publicKey));
}

/** What a certificate file holds. */
export interface Certificate {
  /** The public key. */
  publicKey: Uint8Array;
  /** The secret key, in a secret certificate (`NAME.key_secret`) only. */
  secretKey?: Uint8Array;
  /** The `metadata` section's properties, in file order. */
  metadata: Map<string, string>;
}

/** Options for {@link writeCertificate}. */
export interface WriteCertificateOptions {
  /**
   * Replace existing files.
   *
   * @default false
   */
  force?: boolean;
  /** Properties for the secret certificate's `metadata` section. */
  metadata?: Readonly<Record<string, string>>;
  /**
   * The time written in the header comment.
   *
   * @default new Date()
   */
  date?: Date;
}

/** The two files {@link writeCertificate} wrote. */
export interface CertificateFiles {
  /** `NAME.key`, the public certificate (mode 0644). */
  publicFile: string;
  /** `NAME.key_secret`, the secret certificate (mode 0600). */
  secretFile: string;
}

const PUBLIC_BANNER = `#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.
`;
const SECRET_BANNER = `#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
`;

// RFC 4's name characters.
const NAME = /^[A-Za-z0-9$\-_@.&+/]+/;

/**
 * The text of a certificate as `zmq.auth.create_certificates` writes it.
 *
 * @param keyPair the keys; `secretKey` only for the secret certificate
 * @param metadata the `metadata` section
 * @param date the time in the header
 * @returns the file's text
 * @throws {RangeError} when a metadata name or value cannot be written in ZPL
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatCertificate, generateKeyPair } from "./mod.ts";
 * const { publicKey } = await generateKeyPair();
 * const text = formatCertificate({ publicKey }, { name: "server" });
 * assert.match(text, /^    name = "server"$/m);
 * ```
 */
export function formatCertificate(
  keyPair: { publicKey: Uint8Array; secretKey?: Uint8Array },
  metadata: Readonly<Record<string, string>> = {},
  date: Date = new Date(),
): string {
  const secret = keyPair.secretKey !== undefined;
  let text = `#   ****  Generated on ${localTime(date)} by multiply  ****\n${
    secret ? SECRET_BANNER : PUBLIC_BANNER
  }\nmetadata\n`;
  for (const [name, value] of Object.entries(metadata)) {
    text += `    ${name} = ${quoteValue(name, value)}\n`;
  }
  text += `curve\n    public-key = "${encodeZ85Key(keyPair.publicKey)}"\n`;
  if (secret) {
    text += `    secret-key = "${encodeZ85Key(keyPair.secretKey!)}"\n`;
  }
  return text;
}

/**
 * Writes `NAME.key` (public key, mode 0644) and `NAME.key_secret` (both
 * keys and the metadata, mode 0600), as `zmq.auth.create_certificates` does.
 *
 * @param base the path without the extension; its directory must exist
 * @param keyPair the keys to write
 * @param options `force` to replace existing files, `metadata`, `date`
 * @returns the two paths
 * @throws {Deno.errors.AlreadyExists} when a file exists and `force` is not set;
 * neither file is then written
 * @throws {RangeError} when a metadata property cannot be written in ZPL
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, writeCertificate } from "./mod.ts";
 *
 * const directory = await Deno.makeTempDir();
 * const { publicFile } = await writeCertificate(
 *   `${directory}/server`,
 *   await generateKeyPair(),
 * );
 * assert.equal(publicFile, `${directory}/server.key`);
 * await Deno.remove(directory, { recursive: true });
 * ```
 */
export async function writeCertificate(
  base: string,
  keyPair: CurveKeyPair,
  options: WriteCertificateOptions = {},
): Promise<CertificateFiles> {
  checkKey(keyPair.publicKey, "public key");
  checkKey(keyPair.secretKey, "secret key");
  const date = options.date ?? new Date();
  const publicFile = `${base}.key`;
  const secretFile = `${base}.key_secret`;
  const secretText = formatCertificate(keyPair, options.metadata, date);
  const publicText = formatCertificate(
    { publicKey: keyPair.publicKey },
    {},
    date,
  );
  if (!options.force) {
    for (const file of [publicFile, secretFile]) {
      if (await exists(file)) {
        throw new Deno.errors.AlreadyExists(
          `Cannot write certificate "${file}": it exists (use force to replace it)`,
        );
      }
    }
  }
  // The secret file is created 0600 from the start, never readable by others
  // even for a moment; a replaced file is removed first so that its old mode
  // cannot carry over.
  await writeNew(secretFile, secretText, 0o600, options.force === true);
  await writeNew(publicFile, publicText, 0o644, options.force === true);
  return { publicFile, secretFile };
}

/**
 * Parses a certificate's text. Tolerant of the ZPL that czmq and pyzmq
 * write: comments, blank lines, CR LF, quoted or bare values.
 *
 * @param text the file's contents
 * @param file the file's name, for errors
 * @returns the keys and metadata
 * @throws {SyntaxError} naming the file and line, when the text is not ZPL,
 * a key is not 40 Z85 characters, or there is no public key
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeZ85Key, parseCertificate } from "./mod.ts";
 * const certificate = parseCertificate(
 *   'curve\n    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"\n',
 * );
 * assert.equal(
 *   encodeZ85Key(certificate.publicKey),
 *   "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
 * );
 * ```
 */
export function parseCertificate(
  text: string,
  file = "certificate",
): Certificate {
  const fail = (line: number, why: string) =>
    new SyntaxError(`Cannot read certificate "${file}": line ${line}: ${why}`);
  const path: string[] = [];
  const metadata = new Map<string, string>();
  let publicKey: Uint8Array | undefined;
  let secretKey: Uint8Array | undefined;
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const rest = line.slice(indent);
    if (rest === "" || rest.startsWith("#")) continue;
    if (line.slice(0, indent).includes("\t")) {
      throw fail(number, "is indented with a tab; ZPL indents by 4 spaces");
    }
    if (indent % 4 !== 0) {
      throw fail(
        number,
        `is indented by ${indent} spaces, not a multiple of 4`,
      );
    }
    const level = indent / 4;
    if (level > path.length) {
      throw fail(number, "is indented deeper than its parent");
    }
    path.length = level;
    const name = NAME.exec(rest)?.[0];
    if (name === undefined) {
      throw fail(number, `does not start with a property name`);
    }
    const value = parseValue(
      rest.slice(name.length).trimStart(),
      (why) => fail(number, why),
    );
    path.push(name);
    const where = path.join("/");
    if (where === "curve/public-key" || where === "curve/secret-key") {
      const isPublic = where === "curve/public-key";
      if (value === undefined) {
        throw fail(number, `${name} has no value`);
      }
      let key: Uint8Array;
      try {
        key = isPublic
          ? decodeZ85Key(value)
          : decodeSecret(value, "Cannot decode the secret key");
      } catch (error) {
        throw fail(number, (error as Error).message);
      }
      if (isPublic) publicKey = key;
      else secretKey = key;
    } else if (path.length === 2 && path[0] === "metadata") {
      metadata.set(name, value ?? "");
    }
  }
  if (publicKey === undefined) {
    throw new SyntaxError(
      `Cannot read certificate "${file}": it has no curve public-key`,
    );
  }
  return secretKey === undefined
    ? { publicKey, metadata }
    : { publicKey, secretKey, metadata };
}

/**
 * Reads a public (`NAME.key`) or secret (`NAME.key_secret`) certificate. A
 * secret certificate's keys are checked to belong together.
 *
 * @param file the certificate's path
 * @returns the keys and metadata
 * @throws {Deno.errors.NotFound} when the file does not exist
 * @throws {SyntaxError} naming the file and line when it cannot be parsed, or
 * when its secret key does not belong to its public key
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, readCertificate, writeCertificate } from "./mod.ts";
 *
 * const directory = await Deno.makeTempDir();
 * const { secretFile } = await writeCertificate(
 *   `${directory}/server`,
 *   await generateKeyPair(),
 * );
 * const { publicKey, secretKey } = await readCertificate(secretFile);
 * assert.deepEqual([publicKey.length, secretKey?.length], [32, 32]);
 * await Deno.remove(directory, { recursive: true });
 * ```
 */
export async function readCertificate(file: string): Promise<Certificate> {
  const certificate = parseCertificate(await Deno.readTextFile(file), file);
  if (
    certificate.secretKey !== undefined &&
    !equalBytes(
      await publicKeyFromSecret(certificate.secretKey),
      certificate.publicKey,
    )
  ) {
    throw new SyntaxError(
      `Cannot read certificate "${file}": its secret-key does not belong to its public-key`,
    );
  }
  return certificate;
}

/**
 * The public keys of every `*.key` file in a directory, in file name order,
 * as `zmq.auth`'s `load_certificates` and czmq's certificate store read them:
 * an allow-list of clients.
 *
 * @param directory the directory to read
 * @returns the public keys
 * @throws {Deno.errors.NotFound} when the directory does not exist
 * @throws {SyntaxError} when a certificate cannot be parsed
 *
 * @example
 * ```ts
 * import {
 *   encodeZ85Key,
 *   generateKeyPair,
 *   readPublicKeys,
 *   Reply,
 *   writeCertificate,
 * } from "./mod.ts";
 *
 * const clients = await Deno.makeTempDir();
 * await writeCertificate(`${clients}/alice`, await generateKeyPair());
 * const allowed = new Set((await readPublicKeys(clients)).map(encodeZ85Key));
 * const server = await generateKeyPair();
 * const reply = new Reply({
 *   curveServer: true,
 *   curvePublicKey: server.publicKey,
 *   curveSecretKey: server.secretKey,
 *   curveAuthorize: (publicKey) => allowed.has(publicKey),
 * });
 * await reply.close();
 * await Deno.remove(clients, { recursive: true });
 * ```
 */
export async function readPublicKeys(directory: string): Promise<Uint8Array[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.isDirectory && entry.name.endsWith(".key")) {
      names.push(entry.name);
    }
  }
  names.sort();
  const keys: Uint8Array[] = [];
  for (const name of names) {
    const { publicKey } = await readCertificate(`${directory}/${name}`);
    keys.push(publicKey);
  }
  return keys;
}

// A value after the name: `= value`, `= "value"`, `= 'value'`, or nothing.
// A trailing comment starts with whitespace then '#': Z85 keys may contain
// '#' themselves.
function parseValue(
  text: string,
  fail: (why: string) => SyntaxError,
): string | undefined {
  if (text === "" || text.startsWith("#")) return undefined;
  if (!text.startsWith("=")) {
    throw fail("has text after the name that is not '= value'");
  }
  const value = text.slice(1).trim();
  const quote = value[0];
  if (quote === '"' || quote === "'") {
    const close = value.indexOf(quote, 1);
    if (close > 0) {
      const after = value.slice(close + 1).trimStart();
      if (after !== "" && !after.startsWith("#")) {
        throw fail(`has text after the closing quote`);
      }
      return value.slice(1, close);
    }
    // RFC 4: a value with no closing quote is taken as unquoted.
  }
  const comment = value.search(/\s#/);
  return (comment < 0 ? value : value.slice(0, comment)).trimEnd();
}

// Secret keys are never quoted in errors.
function decodeSecret(text: string, what: string): Uint8Array {
  try {
    return decodeZ85Key(text);
  } catch {
    throw new SyntaxError(
      `${what}: it is not 40 Z85 characters (the value is not shown)`,
    );
  }
}

function quoteValue(name: string, value: string): string {
  if (NAME.exec(name)?.[0] !== name) {
    throw new RangeError(
      `Cannot write metadata name "${name}": ZPL names are letters, digits and $-_@.&+/`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new RangeError(
      `Cannot write metadata "${name}": its value has control characters`,
    );
  }
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new RangeError(
    `Cannot write metadata "${name}": ZPL cannot quote a value with both quote characters`,
  );
}

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new RangeError(
      `Cannot use a ${what} of ${key?.length} octets: a CURVE key has 32`,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.lstat(file);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function writeNew(
  file: string,
  text: string,
  mode: number,
  replace: boolean,
): Promise<void> {
  if (replace) {
    try {
      await Deno.remove(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  try {
    await Deno.writeTextFile(file, text, { createNew: true, mode });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Deno.errors.AlreadyExists(
        `Cannot write certificate "${file}": it exists (use force to replace it)`,
      );
    }
    throw error;
  }
  // The umask may have taken bits off the mode; set it exactly.
  await Deno.chmod(file, mode);
}

// Local time as pyzmq writes it, to the millisecond: "2024-01-31 09:05:03.123".
function localTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${
    two(date.getDate())
  } ${two(date.getHours())}:${two(date.getMinutes())}:${
    two(date.getSeconds())
  }.${String(date.getMilliseconds()).padStart(3, "0")}`;
}
