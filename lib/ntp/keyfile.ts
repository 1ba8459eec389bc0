/**
 * Parser of chrony's key file (chrony.conf(5) `keyfile`), sans-IO: the text
 * comes in, the symmetric keys and the problems of each line go out. A bad
 * line is reported and skipped, the other keys are still usable (chronyd 4.3
 * does the same at start and on `rekey`).
 *
 * Format, one key a line: `ID [TYPE] KEY`.
 * - ID: 1..2^32-1 (decimal);
 * - TYPE: `MD5` (the default), `SHA1`, `SHA256`, `SHA384`, `SHA512`,
 *   `SHA3-224`, `SHA3-256`, `SHA3-384`, `SHA3-512` (hashes), `AES128`,
 *   `AES256` (AES-CMAC, RFC 8573). Names are case-sensitive, as in chronyd.
 *   `TIGER`, `WHIRLPOOL` and `RMD160` are known names we cannot compute
 *   (`unsupported`);
 * - KEY: ASCII text without white space, optionally after `ASCII:`, or
 *   `HEX:` and an even number of hex digits. AES keys must be exactly 16 or
 *   32 bytes.
 * - lines starting with `#` (after blanks) and blank lines are ignored; a line
 *   may hold at most 2047 characters; a later duplicate ID replaces the
 *   earlier key (and is reported), which is what chronyd 4.3's authdata
 *   showed for a duplicate.
 *
 * Measured on chronyd 4.3 and deliberately stricter: an ID of 0 or above
 * 2^32-1 is an error here (chronyd wraps 4294967296 to 0).
 *
 * @example
 * ```ts
 * import { parseKeyFile } from "./keyfile.ts";
 * const { keys, errors } = parseKeyFile("1 SHA1 HEX:0102\n2 BAD x\n", { file: "k" });
 * keys.get(1)?.type; // "SHA1"
 * errors[0]?.message; // "k:2: unknown key type \"BAD\""
 * ```
 * @module
 */

/** Key types horae computes. */
export type KeyType =
  | "MD5"
  | "SHA1"
  | "SHA256"
  | "SHA384"
  | "SHA512"
  | "SHA3-224"
  | "SHA3-256"
  | "SHA3-384"
  | "SHA3-512"
  | "AES128"
  | "AES256";

/**
 * Type numbers as chronyc `authdata` shows them in its Type column (read
 * from chronyd 4.3's replies: MD5 1 ... SHA3-512 9, AES128 13, AES256 14).
 */
export const KEY_TYPE_IDS: Readonly<Record<KeyType, number>> = {
  MD5: 1,
  SHA1: 2,
  SHA256: 3,
  SHA384: 4,
  SHA512: 5,
  "SHA3-224": 6,
  "SHA3-256": 7,
  "SHA3-384": 8,
  "SHA3-512": 9,
  AES128: 13,
  AES256: 14,
};

/** Known type names that horae cannot compute (no implementation in node:crypto / Deno). */
export const UNSUPPORTED_KEY_TYPES: readonly string[] = ["TIGER", "WHIRLPOOL", "RMD160"];

/** Key lengths of the cipher types, bytes (chrony.conf(5): 128 bits for AES128, 256 for AES256). */
const CIPHER_KEY_LENGTH: Partial<Record<KeyType, number>> = { AES128: 16, AES256: 32 };

/** Longest line, characters (chrony.conf(5) keyfile: "maximum length of the line is 2047"). */
export const MAX_KEY_LINE = 2047;

/** Keys shorter than this draw a warning when a source uses them, bits (chrony.conf(5): 80). */
export const SHORT_KEY_BITS = 80;

/** One symmetric key. */
export interface SymmetricKey {
  /** Key ID, 1..2^32-1. */
  id: number;
  type: KeyType;
  /** Key bytes. */
  key: Uint8Array;
  /** Line of the key file it came from (1-based). */
  line: number;
}

/** What went wrong on a line. */
export type KeyFileErrorCode =
  | "syntax" // not `ID [TYPE] KEY`, or too long
  | "id" // ID not a number in 1..2^32-1
  | "type" // unknown type name
  | "unsupported" // known type we cannot compute
  | "decode" // empty key, bad HEX
  | "length" // AES key of the wrong length
  | "duplicate"; // ID seen before (the later key is kept)

/** A problem on one line of a key file. */
export class KeyFileError extends Error {
  override readonly name = "KeyFileError";
  /** File name as given to the parser. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly code: KeyFileErrorCode;
  /** The key ID, when the line had a valid one. */
  readonly keyId: number | null;

  constructor(
    file: string,
    line: number,
    code: KeyFileErrorCode,
    reason: string,
    keyId: number | null,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.file = file;
    this.line = line;
    this.code = code;
    this.keyId = keyId;
  }
}

/** Result of {@link parseKeyFile}. */
export interface KeyFile {
  /** Usable keys by ID. */
  keys: Map<number, SymmetricKey>;
  /** Problems, in line order; their lines gave no key (except `duplicate`). */
  errors: KeyFileError[];
}

const TYPES = new Set<string>(Object.keys(KEY_TYPE_IDS));

function isKeyType(s: string): s is KeyType {
  return TYPES.has(s);
}

/** Decodes `HEX:...`, `ASCII:...` or bare ASCII; null when empty or malformed. */
export function decodeKeyText(text: string): Uint8Array | null {
  if (text.startsWith("HEX:")) {
    const hex = text.slice(4);
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return null;
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  const ascii = text.startsWith("ASCII:") ? text.slice(6) : text;
  return ascii.length === 0 ? null : new TextEncoder().encode(ascii);
}

/** Parses one key file; never throws. `file` names the file in error messages. */
export function parseKeyFile(text: string, options: { file: string }): KeyFile {
  const keys = new Map<number, SymmetricKey>();
  const errors: KeyFileError[] = [];
  const file = options.file;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!.replace(/\r$/, "");
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const err = (code: KeyFileErrorCode, reason: string, id: number | null = null) =>
      errors.push(new KeyFileError(file, n, code, reason, id));
    if (raw.length > MAX_KEY_LINE) {
      err("syntax", `line longer than ${MAX_KEY_LINE} characters`);
      continue;
    }
    const words = trimmed.split(/[ \t]+/);
    if (words.length < 2 || words.length > 3) {
      err("syntax", `expected "ID [TYPE] KEY", found ${words.length} word(s)`);
      continue;
    }
    const idText = words[0]!;
    const id = /^[0-9]{1,10}$/.test(idText) ? Number(idText) : NaN;
    if (!(id >= 1 && id <= 0xffffffff)) {
      err("id", `key ID "${idText}" is not a number in 1..4294967295`);
      continue;
    }
    const typeText = words.length === 3 ? words[1]! : "MD5";
    const keyText = words[words.length - 1]!;
    if (!isKeyType(typeText)) {
      if (UNSUPPORTED_KEY_TYPES.includes(typeText)) {
        err("unsupported", `key ${id}: type ${typeText} is not supported`, id);
      } else {
        err("type", `unknown key type "${typeText}"`, id);
      }
      continue;
    }
    const key = decodeKeyText(keyText);
    if (key === null) {
      err("decode", `key ${id}: cannot decode the key (empty, or bad HEX: digits)`, id);
      continue;
    }
    const want = CIPHER_KEY_LENGTH[typeText];
    if (want !== undefined && key.length !== want) {
      err("length", `key ${id}: ${typeText} needs ${want * 8} bits, found ${key.length * 8}`, id);
      continue;
    }
    if (keys.has(id)) err("duplicate", `key ${id} defined again (line ${keys.get(id)!.line})`, id);
    keys.set(id, { id, type: typeText, key, line: n });
  }
  return { keys, errors };
}
