/**
 * What `server.ts` and `client.ts` need of CURVE: keys from certificate
 * files (or Z85 text on the command line), and a client allow-list read
 * from a directory of `.key` files that can be read again (on SIGHUP), as
 * pyzmq's `configure_curve(location=DIR)` and czmq's certificate store do.
 *
 * @module
 */

import { UsageError } from "./cli.ts";
import type { Certificate, CurveKeyPair } from "./zmtp/curve_keys.ts";
import { decodeZ85Key, encodeZ85Key, KEY_Z85_LENGTH } from "./zmtp/z85.ts";

// Certificate files are read by curve_keys.ts, which brings libsodium's
// loader with it: loaded only when a program is given a key file.
const certificates = () => import("./zmtp/curve_keys.ts");

/**
 * Reads our own certificate: `NAME.key_secret`, as keygen.ts, czmq and
 * `zmq.auth.create_certificates` write it.
 *
 * @param file the secret certificate's path
 * @param option the option that named it, for messages
 * @throws {KeyFileError} when it cannot be read or holds no secret key
 */
export async function readSecretCertificate(
  file: string,
  option: string,
): Promise<CurveKeyPair> {
  const certificate = await readFile(file, option);
  if (certificate.secretKey === undefined) {
    throw new KeyFileError(
      `${option} ${file}: no secret-key in it; give the NAME.key_secret file (NAME.key holds only the public key)`,
    );
  }
  return {
    publicKey: certificate.publicKey,
    secretKey: certificate.secretKey,
  };
}

/**
 * A key file or directory that cannot be used: one line, exit 1, no usage
 * (the command line was right; the file, or Deno's permission to read it,
 * is not).
 */
export class KeyFileError extends Error {
  /**
   * @param message what is wrong, with the fix where there is one
   */
  constructor(message: string) {
    super(message);
    this.name = "KeyFileError";
  }
}

// Z85's alphabet (RFC 32): a value made only of these, and not named as a
// certificate file, was meant as a key.
const Z85_TEXT = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]+$/;
const CERTIFICATE_FILE = /\.key(_secret)?$/;

/**
 * A peer's public key from the command line: 40 characters of Z85, or the
 * path of its certificate (`NAME.key`).
 *
 * @param text the option's value
 * @param option the option, for messages
 * @throws {UsageError} when it is neither: Z85 text of another length, or
 * 40 characters that do not decode, and no file of that name can be read
 * @throws {KeyFileError} when it names a file that cannot be read
 */
export async function readPublicKey(
  text: string,
  option: string,
): Promise<Uint8Array> {
  // Z85 has '/' and '.' among its characters: 40 characters that decode are
  // a key, whatever they look like; anything else may be a file.
  if (text.length === KEY_Z85_LENGTH) {
    try {
      return decodeZ85Key(text);
    } catch {
      // Not Z85: perhaps a file of that name.
    }
  }
  if (Z85_TEXT.test(text) && !CERTIFICATE_FILE.test(text)) {
    // Meant as a key, mistyped (or a file not named NAME.key): read it only
    // where Deno may, so that no permission prompt asks about a typo.
    const readable = Deno.permissions.querySync({ name: "read", path: text })
      .state === "granted";
    const length = [...text].length;
    const notKey =
      `${option} '${text}': not a ${KEY_Z85_LENGTH}-character Z85 key (it has ${length}${
        length === KEY_Z85_LENGTH ? ", not all Z85" : ""
      } characters), nor a readable NAME.key file`;
    if (!readable) throw new UsageError(notKey);
    try {
      return (await (await certificates()).readCertificate(text)).publicKey;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new UsageError(notKey);
      throw new KeyFileError(`${option} ${text}: ${readError(error, text)}`);
    }
  }
  return (await readFile(text, option)).publicKey;
}

async function readFile(file: string, option: string): Promise<Certificate> {
  try {
    return await (await certificates()).readCertificate(file);
  } catch (error) {
    throw new KeyFileError(`${option} ${file}: ${readError(error, file)}`);
  }
}

// Why a key file or directory cannot be read, with the fix where there is one.
function readError(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotCapable) {
    return `no permission to read it; run Deno with --allow-read=${path} (deno task grants only --allow-net)`;
  }
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "the system does not let this user read it";
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The clients a CURVE server admits: the public keys of every `.key` file
 * in a directory, read again on {@link reload}.
 */
export class AllowList {
  /** The directory the keys come from. */
  readonly directory: string;
  #keys = new Set<string>();

  private constructor(directory: string) {
    this.directory = directory;
  }

  /**
   * Reads the directory's `.key` files.
   *
   * @param directory the directory
   * @throws {KeyFileError} when it cannot be read
   */
  static async load(directory: string): Promise<AllowList> {
    const list = new AllowList(directory);
    await list.reload();
    return list;
  }

  /** How many keys are admitted. */
  get size(): number {
    return this.#keys.size;
  }

  /** Whether a client's public key (Z85) is admitted. */
  readonly admits = (publicKey: string): boolean => this.#keys.has(publicKey);

  /**
   * Reads the directory again; the old list stays if that fails.
   *
   * @throws {KeyFileError} when it cannot be read
   */
  async reload(): Promise<void> {
    let keys: Uint8Array[];
    try {
      keys = await (await certificates()).readPublicKeys(this.directory);
    } catch (error) {
      throw new KeyFileError(
        `--curve-allow ${this.directory}: ${readError(error, this.directory)}`,
      );
    }
    this.#keys = new Set(keys.map(encodeZ85Key));
  }
}
