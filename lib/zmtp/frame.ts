/**
 * ZMTP 3 framing (RFC 23 and 37): bytes to frames with a resumable
 * {@link FrameDecoder}, frames to bytes with {@link encodeMessage}.
 *
 * Frame bodies that the decoder hands out are copies, never views into the
 * read buffer, which is reused for the next read: small ones in slabs
 * shared by every connection (see {@link copyBody}; the sockets copy a
 * message again into memory of its own before the application sees it),
 * larger ones in a buffer each. Only command bodies may be handed out as
 * views, to a caller that says it is done with each at once
 * ({@link FrameDecoder.viewCommands}). Outgoing parts may be text, encoded
 * as UTF-8 straight into the write buffer.
 *
 * @module
 */

import { MessageSizeError, ProtocolError } from "./errors.ts";

/** Flag bit: more frames of this message follow. */
export const MORE = 0x01;
/** Flag bit: the size field is 8 octets. */
export const LONG = 0x02;
/** Flag bit: the frame is a command. */
export const COMMAND = 0x04;
const RESERVED = 0xf8;

/** The largest body a short frame carries. */
export const SHORT_MAX = 255;

/** A shared empty body; never written to. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** An outgoing frame: bytes, or text sent as UTF-8. */
export type Part = Uint8Array | string;

// Deno allocates every ArrayBuffer outside V8's heap, which makes a fresh
// Uint8Array cost ten times a view on an existing one. So small bodies are
// copied into slabs shared by all decoders and handed out as views; a view
// keeps its slab (at most SLAB_SIZE octets) alive as long as it lives.
const SLAB_SIZE = 8192;
const SLAB_BODY_MAX = 256;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/**
 * Copies `source[start, end)` into memory the caller owns: a view into a
 * shared slab for small bodies, a buffer of its own for larger ones.
 */
export function copyBody(
  source: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  const size = end - start;
  if (size === 0) return EMPTY;
  if (size > SLAB_BODY_MAX) return source.slice(start, end);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += size;
  if (size <= 16) {
    for (let i = 0; i < size; i++) slab[at + i] = source[start + i];
  } else {
    slab.set(source.subarray(start, end), at);
  }
  return slab.subarray(at, at + size);
}

/** Receives decoded frames. */
export interface FrameSink {
  /**
   * Called once per complete frame, in order.
   *
   * @param flags the frame's flags octet (see {@link MORE}, {@link COMMAND})
   * @param body the frame's body, owned by the receiver
   */
  frame(flags: number, body: Uint8Array): void;
}

/** Size limits for {@link FrameDecoder}. */
export interface FrameLimits {
  /** The largest message frame body accepted, in octets. */
  maxMessageFrame: number;
  /** The largest command frame body accepted, in octets. */
  maxCommandFrame: number;
}

const HEADER_MAX = 9;

/**
 * Turns a byte stream into frames. Resumable: a frame may be split across any
 * number of `push()` calls at any octet. Sizes are checked against the limits
 * before any memory is taken, since a hostile peer may claim 2^63 octets.
 *
 * @example
 * ```ts
 * import { FrameDecoder } from "./frame.ts";
 * const bodies: Uint8Array[] = [];
 * const decoder = new FrameDecoder({ maxMessageFrame: 1024, maxCommandFrame: 1024 });
 * const sink = { frame: (_flags: number, body: Uint8Array) => void bodies.push(body) };
 * decoder.push(new Uint8Array([0x00, 0x02, 0x68]), sink);
 * decoder.push(new Uint8Array([0x69]), sink); // bodies: ["hi"]
 * ```
 */
export class FrameDecoder {
  // Flag bits a frame must not set: COMMAND too under ZMTP/2.0.
  #reserved = RESERVED;
  // During a handshake only commands may come.
  #commandsOnly = false;
  // Command bodies handed out as views into the chunk, not copies: for a
  // caller that is done with each command before the chunk is reused.
  #viewCommands = false;
  /**
   * The largest message-frame body accepted now, in octets: the caller
   * lowers it as a message grows, so that no frame is allocated beyond
   * what the message may still hold.
   */
  messageBudget: number;
  /** The largest command-frame body accepted now, in octets. */
  commandBudget: number;
  /** The message size limit that a refusal names, in octets. */
  messageLimit: number;
  // A header split across reads (rare) collects here, allocated on first need.
  #header: Uint8Array | undefined;
  #headerHave = 0;
  // A body split across reads collects here, allocated at its exact size.
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  #bodyFlags = 0;

  /**
   * @param limits the largest message and command bodies to accept
   */
  constructor(limits: FrameLimits) {
    this.messageBudget = limits.maxMessageFrame;
    this.commandBudget = limits.maxCommandFrame;
    this.messageLimit = limits.maxMessageFrame;
  }

  /** Decodes ZMTP/2.0 framing from now on (RFC 15: no command frames). */
  useZmtp2(): void {
    this.#reserved = RESERVED | COMMAND;
  }

  /**
   * Refuses message frames at their first octet (during a ZMTP 3
   * handshake), or accepts them again.
   */
  commandsOnly(only: boolean): void {
    this.#commandsOnly = only;
  }

  /**
   * Hands out command bodies as views into the chunk pushed, valid only
   * during the sink's call, rather than as copies.
   */
  viewCommands(views: boolean): void {
    this.#viewCommands = views;
  }

  /** Drops a frame half received, and what it held. */
  reset(): void {
    this.#body = null;
    this.#headerHave = 0;
  }

  /** True when no partial frame is held: the stream is at a frame boundary. */
  get idle(): boolean {
    return this.#headerHave === 0 && this.#body === null;
  }

  /**
   * The unfilled rest of a large frame body that is being received, so that
   * the caller may read straight into it and then call {@link filled}.
   * `undefined` when no body is pending or the rest is small.
   *
   * @param atLeast the smallest rest worth reading into directly
   */
  pendingBody(atLeast: number): Uint8Array | undefined {
    const body = this.#body;
    if (body === null || body.length - this.#bodyHave < atLeast) {
      return undefined;
    }
    return body.subarray(this.#bodyHave);
  }

  /**
   * Records that `n` octets were read straight into {@link pendingBody}.
   *
   * @param n the number of octets read
   * @param sink receives the frame if it is now complete
   */
  filled(n: number, sink: FrameSink): void {
    const body = this.#body!;
    this.#bodyHave += n;
    if (this.#bodyHave === body.length) {
      this.#body = null;
      sink.frame(this.#bodyFlags, body);
    }
  }

  /**
   * Decodes as many frames as `chunk` completes.
   *
   * @param chunk the next octets of the stream; not kept after the call
   * @param sink receives each complete frame
   * @param start where the new octets begin in `chunk`
   * @param end where they end (a read fills only part of its buffer)
   * @throws {ProtocolError} on reserved flags, a command with MORE, or a size
   * over the limits; the stream cannot be resumed after that
   */
  push(
    chunk: Uint8Array,
    sink: FrameSink,
    start = 0,
    end: number = chunk.length,
  ): void {
    let pos = start;
    while (pos < end) {
      const body = this.#body;
      if (body !== null) {
        const take = Math.min(end - pos, body.length - this.#bodyHave);
        body.set(chunk.subarray(pos, pos + take), this.#bodyHave);
        this.#bodyHave += take;
        pos += take;
        if (this.#bodyHave === body.length) {
          this.#body = null;
          sink.frame(this.#bodyFlags, body);
        }
        continue;
      }
      if (this.#headerHave === 0) {
        // Fast path: the whole header, and often the whole body, is here.
        const flags = chunk[pos];
        const headerLength = this.#checkFlags(flags);
        if (end - pos >= headerLength) {
          const size = this.#checkSize(flags, readSize(chunk, pos, flags));
          pos += headerLength;
          if (end - pos >= size) {
            const frame = this.#viewCommands && (flags & COMMAND)
              ? chunk.subarray(pos, pos + size)
              : copyBody(chunk, pos, pos + size);
            pos += size;
            sink.frame(flags, frame);
          } else {
            this.#startBody(flags, size);
          }
          continue;
        }
      }
      // Slow path: the header is split across reads.
      const header = this.#header ??= new Uint8Array(HEADER_MAX);
      if (this.#headerHave === 0) this.#checkFlags(chunk[pos]);
      header[this.#headerHave++] = chunk[pos++];
      const headerLength = header[0] & LONG ? 9 : 2;
      if (this.#headerHave < headerLength) continue;
      this.#headerHave = 0;
      const flags = header[0];
      const size = this.#checkSize(flags, readSize(header, 0, flags));
      if (size === 0) sink.frame(flags, EMPTY);
      else this.#startBody(flags, size);
    }
  }

  #startBody(flags: number, size: number): void {
    this.#body = new Uint8Array(size);
    this.#bodyHave = 0;
    this.#bodyFlags = flags;
  }

  #checkFlags(flags: number): number {
    const length = checkFlags(flags, this.#reserved);
    if (this.#commandsOnly && !(flags & COMMAND)) {
      throw new ProtocolError("Message frame before the handshake completed");
    }
    return length;
  }

  #checkSize(flags: number, size: number): number {
    const command = (flags & COMMAND) !== 0;
    const limit = command ? this.commandBudget : this.messageBudget;
    if (size <= limit) return size;
    if (command) {
      throw new ProtocolError(
        `Command frame of ${size} octets exceeds the limit of ${limit}`,
      );
    }
    throw new MessageSizeError(
      `Message frame of ${size} octets takes the message over ${this.messageLimit} octets`,
      this.messageLimit,
    );
  }
}

// Returns the header length the flags call for, or throws on bad flags.
function checkFlags(flags: number, reserved: number): number {
  if (flags & reserved) {
    throw new ProtocolError(
      `Frame flags 0x${flags.toString(16).padStart(2, "0")} set reserved bits`,
    );
  }
  if ((flags & COMMAND) && (flags & MORE)) {
    throw new ProtocolError("Command frame has the MORE flag set");
  }
  return flags & LONG ? 9 : 2;
}

// The 64-bit size as a number; anything at or over 2^53 becomes Infinity so
// that it fails every limit without losing precision silently.
function readSize(bytes: Uint8Array, at: number, flags: number): number {
  if (!(flags & LONG)) return bytes[at + 1];
  const high = (bytes[at + 1] << 24 | bytes[at + 2] << 16 | bytes[at + 3] << 8 |
    bytes[at + 4]) >>> 0;
  const low = (bytes[at + 5] << 24 | bytes[at + 6] << 16 | bytes[at + 7] << 8 |
    bytes[at + 8]) >>> 0;
  return high >= 0x200000 ? Infinity : high * 0x100000000 + low;
}

/**
 * The number of octets {@link encodeMessage} produces for these parts.
 *
 * @param parts the message's frames
 */
export function encodedSize(parts: readonly Part[]): number {
  let size = 0;
  for (const part of parts) {
    size += framedSize(
      typeof part === "string" ? utf8Length(part) : part.length,
    );
  }
  return size;
}

/**
 * The octets one frame takes on the wire, header and body.
 *
 * @param bodyLength the body's length in octets
 */
export function framedSize(bodyLength: number): number {
  return (bodyLength > SHORT_MAX ? 9 : 2) + bodyLength;
}

/**
 * Writes the parts as frames into `target` at `offset`, MORE on all but the
 * last, short or long form by size.
 *
 * @param parts the message's frames, at least one
 * @param target where to write; must have room for {@link encodedSize}
 * @param offset where to start
 * @returns the offset after the last frame
 */
export function encodeMessageInto(
  parts: readonly Part[],
  target: Uint8Array,
  offset: number,
): number {
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    offset = writeFrame(target, offset, i < last ? MORE : 0, parts[i]);
  }
  return offset;
}

/**
 * Encodes a message as one buffer ready for a single write.
 *
 * @param parts the message's frames, at least one
 * @returns the encoded frames
 * @throws {RangeError} when there are no parts
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./frame.ts";
 * encodeMessage([new Uint8Array(0), "hi"]);
 * // Uint8Array [1, 0, 0, 2, 104, 105]
 * ```
 */
export function encodeMessage(parts: readonly Part[]): Uint8Array {
  if (parts.length === 0) {
    throw new RangeError("Cannot encode a message: it has no parts");
  }
  const out = new Uint8Array(encodedSize(parts));
  encodeMessageInto(parts, out, 0);
  return out;
}

/**
 * The length of `text` in UTF-8, as `TextEncoder` would encode it (a lone
 * surrogate becomes U+FFFD, three octets).
 */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      length += 1;
    } else if (
      code >= 0xd800 && code < 0xdc00 && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 2; // a surrogate pair: four octets for two code units
      i++;
    } else {
      length += 2;
    }
  }
  return length;
}

const textEncoder = new TextEncoder();

/**
 * Encodes a command frame: the name's length, the name, then the data.
 *
 * @param name the command name, 1 to 255 ASCII letters
 * @param data the command data
 * @returns the encoded frame
 */
export function encodeCommand(name: string, data: Uint8Array): Uint8Array {
  const body = commandBody(name, data);
  const out = new Uint8Array(framedSize(body.length));
  writeFrame(out, 0, COMMAND, body);
  return out;
}

/**
 * A command frame's body: the name's length, the name, then the data.
 *
 * @param name the command name, 1 to 255 ASCII letters
 * @param data the command data
 */
export function commandBody(name: string, data: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + name.length + data.length);
  body[0] = name.length;
  for (let i = 0; i < name.length; i++) body[1 + i] = name.charCodeAt(i);
  body.set(data, 1 + name.length);
  return body;
}

/** A command frame's body split into its name and data. */
export interface Command {
  /** The command name, such as `READY` or `PING`. */
  name: string;
  /** What follows the name. */
  data: Uint8Array;
}

/**
 * Splits a command frame's body into name and data.
 *
 * @throws {ProtocolError} when the name is empty or runs past the body
 */
export function parseCommand(body: Uint8Array): Command {
  const length = body[0] ?? 0;
  if (length === 0 || 1 + length > body.length) {
    throw new ProtocolError("Command frame has no valid name");
  }
  let name = "";
  for (let i = 1; i <= length; i++) name += String.fromCharCode(body[i]);
  return { name, data: body.subarray(1 + length) };
}

/**
 * Writes a frame's header: the flags, with LONG set by size, then the size
 * in one octet or eight.
 *
 * @param target where to write; must have room for 9 octets
 * @param offset where to start
 * @param flags MORE and COMMAND as wanted
 * @param size the body's length in octets
 * @returns the offset after the header, where the body goes
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  flags: number,
  size: number,
): number {
  if (size <= SHORT_MAX) {
    target[offset] = flags;
    target[offset + 1] = size;
    return offset + 2;
  }
  target[offset] = flags | LONG;
  const high = Math.floor(size / 0x100000000);
  const low = size >>> 0;
  target[offset + 1] = high >>> 24;
  target[offset + 2] = high >>> 16 & 0xff;
  target[offset + 3] = high >>> 8 & 0xff;
  target[offset + 4] = high & 0xff;
  target[offset + 5] = low >>> 24;
  target[offset + 6] = low >>> 16 & 0xff;
  target[offset + 7] = low >>> 8 & 0xff;
  target[offset + 8] = low & 0xff;
  return offset + 9;
}

/**
 * Writes one frame, header and body, into `target` at `offset`.
 *
 * @param target where to write; must have room for the frame
 * @param offset where to start
 * @param flags MORE and COMMAND as wanted; LONG is set here by size
 * @param part the body (text is written as UTF-8)
 * @returns the offset after the frame
 */
export function writeFrame(
  target: Uint8Array,
  offset: number,
  flags: number,
  part: Part,
): number {
  const text = typeof part === "string" ? part : undefined;
  const size = text === undefined
    ? (part as Uint8Array).length
    : utf8Length(text);
  offset = writeFrameHeader(target, offset, flags, size);
  if (text === undefined) {
    const body = part as Uint8Array;
    if (size <= 16) {
      for (let i = 0; i < size; i++) target[offset + i] = body[i];
    } else {
      target.set(body, offset);
    }
  } else if (size === text.length) {
    for (let i = 0; i < size; i++) target[offset + i] = text.charCodeAt(i);
  } else {
    textEncoder.encodeInto(text, target.subarray(offset, offset + size));
  }
  return offset + size;
}
