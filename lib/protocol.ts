/**
 * What "multiply" means: the tutorial's defaults, Python's `float()` and
 * `str(float)`, and the reply and log lines of `multiply_server.py`.
 *
 * Pure functions, no I/O and no ZeroMQ, so that every byte the server sends
 * can be checked against Python itself (see `tests/fixtures/`).
 *
 * @module
 */

import { formatEndpoint } from "./zmtp/endpoint.ts";

/** The tutorial server's default multiplier. */
export const DEFAULT_MULTIPLIER = 2;
/** The tutorial's default port. */
export const DEFAULT_PORT = 2345;
/** The tutorial's default host. */
export const DEFAULT_HOST = "127.0.0.1";
/** The reply to anything `float()` refuses (and to bytes that are not UTF-8). */
export const NOT_A_FLOAT = "not a 'float'";

/**
 * Formats the `tcp://host:port` endpoint the tutorial builds, with brackets
 * around an IPv6 host so that the port stays unambiguous.
 *
 * @example
 * ```ts
 * import { endpointFor } from "./protocol.ts";
 * endpointFor("127.0.0.1", 2345); // "tcp://127.0.0.1:2345"
 * endpointFor("::1", 2500); // "tcp://[::1]:2500"
 * ```
 */
export function endpointFor(host: string, port: number): string {
  return formatEndpoint({ host, port });
}

/** The server's first line, exactly as `multiply_server.py` prints it. */
export function waitingLine(port: number | string, host: string): string {
  return `Waiting for clients on port '${port}' on host '${host}'.`;
}

/** The client's first line, exactly as `multiply_client.py` prints it. */
export function connectingLine(port: number | string, host: string): string {
  return `Connecting to port '${port}' of host '${host}'.`;
}

/** The client's prompt, exactly as `multiply_client.py` shows it. */
export const PROMPT = "give a number to multiply: ";

/** The server's per-request log line: `received: 100 sending: 200.0`. */
export function logLine(request: string, reply: string): string {
  return `received: ${request} sending: ${reply}`;
}

// ---------------------------------------------------------------------------
// Parsing: Python's float(str)
// ---------------------------------------------------------------------------

// What CPython's float() accepts once Unicode digits and spaces are mapped to
// ASCII, surrounding ASCII whitespace is stripped and underscores are removed.
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;
// Python strips exactly these ASCII characters (Py_ISSPACE) from both ends.
const ASCII_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;
// Non-ASCII code points Python treats as whitespace (Py_UNICODE_ISSPACE).
const UNICODE_SPACES = new Set([
  0x85,
  0xa0,
  0x1680,
  0x2000,
  0x2001,
  0x2002,
  0x2003,
  0x2004,
  0x2005,
  0x2006,
  0x2007,
  0x2008,
  0x2009,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
]);
const DECIMAL_DIGIT = /^\p{Nd}$/u;

/**
 * Parses text exactly as Python's `float()` parses a `str`, or returns
 * `undefined` where Python raises `ValueError`.
 *
 * Accepted: surrounding whitespace (Unicode too), a sign, `inf`, `infinity`
 * and `nan` in any case, exponents, `.5` and `5.`, underscores between digits
 * and Unicode decimal digits. Out-of-range values become `±Infinity` or zero,
 * as in Python.
 *
 * @param text the decoded request
 * @returns the number, or `undefined` when Python would refuse the text
 *
 * @example
 * ```ts
 * import { parsePythonFloat } from "./protocol.ts";
 * parsePythonFloat(" 1_000.5 "); // 1000.5
 * parsePythonFloat("-Infinity"); // -Infinity
 * parsePythonFloat("1e"); // undefined
 * ```
 */
export function parsePythonFloat(text: string): number | undefined {
  const plain = parsePlainDecimal(text);
  if (plain !== undefined) return plain;
  let ascii = isAscii(text) ? text : toAsciiLikePython(text);
  if (ascii === undefined) return undefined;
  ascii = ascii.replace(ASCII_SPACE, "");
  if (ascii.includes("_")) {
    ascii = removeUnderscores(ascii);
    if (ascii === undefined) return undefined;
  }
  if (DECIMAL.test(ascii)) return Number(ascii);
  const special = SPECIAL.exec(ascii);
  if (special === null) return undefined;
  if (special[2].toLowerCase() === "nan") return NaN;
  return special[1] === "-" ? -Infinity : Infinity;
}

// The common case, `123`, `-4.5`, `.5` or `5.`, without regular expressions:
// JavaScript's Number() reads these exactly as Python's float() does.
function parsePlainDecimal(text: string): number | undefined {
  const length = text.length;
  if (length === 0 || length > 24) return undefined;
  const first = text.charCodeAt(0);
  let digits = 0;
  let point = false;
  for (let i = first === 0x2b || first === 0x2d ? 1 : 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) digits++;
    else if (code === 0x2e && !point) point = true;
    else return undefined;
  }
  return digits > 0 ? Number(text) : undefined;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

// CPython maps each non-ASCII code point to ' ' (whitespace) or to its ASCII
// digit (decimal digits); any other one makes the text unparsable.
function toAsciiLikePython(text: string): string | undefined {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code <= 0x7f) out += char;
    else if (UNICODE_SPACES.has(code)) out += " ";
    else if (DECIMAL_DIGIT.test(char)) out += String(decimalValue(code));
    else return undefined;
  }
  return out;
}

// Unicode encodes every decimal digit set as a run of ten, 0 to 9, so a
// digit's value is its distance from the start of its run, modulo ten.
function decimalValue(code: number): number {
  let start = code;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (code - start) % 10;
}

// An underscore is allowed only between two digits (CPython's
// _Py_string_to_number_with_underscores).
function removeUnderscores(text: string): string | undefined {
  let out = "";
  let previous = "";
  for (const char of text) {
    if (char === "_") {
      if (!isDigit(previous)) return undefined;
    } else {
      if (previous === "_" && !isDigit(char)) return undefined;
      out += char;
    }
    previous = char;
  }
  return previous === "_" ? undefined : out;
}

function isDigit(char: string): boolean {
  return char >= "0" && char <= "9";
}

// ---------------------------------------------------------------------------
// Formatting: Python's str(float), which is repr(float)
// ---------------------------------------------------------------------------

/**
 * Formats a number exactly as Python's `str(float)`: the shortest digits that
 * read back to the same double, `.0` on integral values, and scientific form
 * below 1e-4 and from 1e16 up with a signed exponent of at least two digits.
 *
 * @param value any double
 * @returns Python's text for it
 *
 * @example
 * ```ts
 * import { formatPythonFloat } from "./protocol.ts";
 * formatPythonFloat(200); // "200.0"
 * formatPythonFloat(1e16); // "1e+16"
 * formatPythonFloat(0.00002); // "2e-05"
 * formatPythonFloat(-0); // "-0.0"
 * ```
 */
export function formatPythonFloat(value: number): string {
  const magnitude = Math.abs(value);
  // Where Python writes fixed notation, JavaScript does too, with the same
  // shortest digits; only integral values lack Python's ".0".
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const text = String(value);
    return Number.isInteger(value) ? text + ".0" : text;
  }
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  if (Number.isNaN(value)) return "nan";
  if (magnitude === Infinity) return value < 0 ? "-inf" : "inf";
  const { digits, exponent } = shortestDigits(magnitude);
  const mantissa = digits.length > 1
    ? `${digits[0]}.${digits.slice(1)}`
    : digits;
  const sign = exponent < 0 ? "-" : "+";
  const power = String(Math.abs(exponent)).padStart(2, "0");
  return `${value < 0 ? "-" : ""}${mantissa}e${sign}${power}`;
}

// The shortest round-trip digits of a positive finite double and the
// exponent of its first digit, read from JavaScript's own shortest form.
function shortestDigits(
  magnitude: number,
): { digits: string; exponent: number } {
  const text = String(magnitude);
  const e = text.indexOf("e");
  const significand = e === -1 ? text : text.slice(0, e);
  const power = e === -1 ? 0 : Number(text.slice(e + 1));
  const point = significand.indexOf(".");
  const whole = point === -1 ? significand : significand.slice(0, point);
  const all = whole + (point === -1 ? "" : significand.slice(point + 1));
  const leadingZeros = all.length - all.replace(/^0+/, "").length;
  const digits = all.slice(leadingZeros).replace(/0+$/, "");
  return { digits, exponent: whole.length - 1 - leadingZeros + power };
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The reply `multiply_server.py` sends for a request line:
 * `str(float(line) * multiplier)`, or {@link NOT_A_FLOAT}.
 *
 * @example
 * ```ts
 * import { replyFor } from "./protocol.ts";
 * replyFor("100", 2); // "200.0"
 * replyFor("ten", 2); // "not a 'float'"
 * ```
 */
export function replyFor(line: string, multiplier: number): string {
  const number = parsePythonFloat(line);
  return number === undefined
    ? NOT_A_FLOAT
    : formatPythonFloat(number * multiplier);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** One answered request: the text to log and the reply to send. */
export interface Answer {
  /** The request as text (invalid UTF-8 shown with U+FFFD), for the log line. */
  request: string;
  /** The reply text. */
  reply: string;
}

/**
 * Answers one request body as the tutorial's server would, except that bytes
 * that are not UTF-8 get {@link NOT_A_FLOAT} where the Python server crashes.
 *
 * @param body the request's bytes
 * @param multiplier the server's multiplier
 * @returns the request as text and the reply
 */
export function answer(body: Uint8Array, multiplier: number): Answer {
  let request: string;
  try {
    request = decodeUtf8(body);
  } catch {
    return { request: lenientUtf8.decode(body), reply: NOT_A_FLOAT };
  }
  return { request, reply: replyFor(request, multiplier) };
}

// Short ASCII bodies (nearly every request) decode without crossing into
// the TextDecoder; anything else goes through the strict decoder.
function decodeUtf8(body: Uint8Array): string {
  if (body.length > 32) return strictUtf8.decode(body);
  let text = "";
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (byte > 0x7f) return strictUtf8.decode(body);
    text += String.fromCharCode(byte);
  }
  return text;
}

/**
 * Parses a multiplier from the command line: any finite number Python's
 * `float()` accepts (the tutorial takes an `int`; decimals are welcome here).
 *
 * @returns the multiplier, or `undefined` when the text is not a finite number
 */
export function parseMultiplier(text: string): number | undefined {
  const value = parsePythonFloat(text);
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}
