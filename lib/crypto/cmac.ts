/**
 * AES-CMAC (RFC 4493; with AES-256 keys as NIST SP 800-38B) over OpenSSL's
 * AES in CBC mode (`aes.ts`): the MAC of NTP symmetric AES keys (RFC 8573,
 * `lib/ntp/mac.ts`) and the S2V of AES-SIV (`siv.ts`).
 *
 * {@linkcode Cmac} keeps a key scheduled and computes without allocating: the
 * message is copied into one scratch {@linkcode AesBuffer} that every key
 * shares (single-threaded), padded there in place and encrypted there in
 * place by the CBC context (one FFI call, by address), which is never reset:
 * a CBC-MAC with a zero IV of a new message is computed by XORing the
 * previous output block (the context's chaining value) into the message's
 * first block. {@linkcode aesCmac} is the one-shot form. The block work is
 * done on 32-bit words in host order (little endian on every platform Deno
 * runs on; big endian handled too), {@linkcode dblWords} included.
 *
 * @example
 * ```ts
 * import { aesCmac } from "./cmac.ts";
 * const key = new Uint8Array(16);
 * aesCmac(key, new Uint8Array(0)); // 16 bytes
 * ```
 * @module
 */
import { AesBuffer, AesContext } from "./aes.ts";

/** AES block and CMAC length, bytes. RFC 4493 §2.1. */
export const CMAC_LENGTH = 16;

/** The host stores the low byte of a word first (words of bytes need swapping for arithmetic). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The scratch memory every key shares; it grows for long inputs, never shrinks. */
let scratch: AesBuffer | null = null;

/**
 * The shared scratch memory, at least `n` bytes long (valid until the next
 * call with a larger `n`). Throws NtsUnavailableError without OpenSSL.
 */
export function scratchFor(n: number): AesBuffer {
  const s = scratch;
  if (s !== null && s.bytes.length >= n) return s;
  return scratch = new AesBuffer(Math.max(n, 2048, s === null ? 0 : s.bytes.length * 2));
}

/**
 * Word views of the buffers lately read or written a word at a time (a
 * packet arena, key buffers): they recur, so each view is made once per
 * buffer and found again, first by the byte array asked about (the same
 * arrays recur; an array's `buffer` costs a call), then by its buffer (the
 * oldest entry replaced).
 */
const VIEWS = 8;
const viewArrays: (Uint8Array | null)[] = new Array(VIEWS).fill(null);
const viewOfArray: Int32Array[] = Array.from({ length: VIEWS }, () => new Int32Array(0));
let arrayNext = 0;
const viewBuffers: (ArrayBufferLike | null)[] = new Array(VIEWS).fill(null);
const viewWords: Int32Array[] = Array.from({ length: VIEWS }, () => new Int32Array(0));
let viewNext = 0;
/** The array asked about last and its view (asked again next, often). */
let recentArray: Uint8Array | null = null;
let recentWords: Int32Array = new Int32Array(0);

/** A word view of all of `b`'s buffer; index it with ((b.byteOffset + offset) >> 2). */
export function wordsOf(b: Uint8Array): Int32Array {
  if (b === recentArray) return recentWords;
  for (let i = 0; i < VIEWS; i++) {
    if (viewArrays[i] === b) {
      recentArray = b;
      return recentWords = viewOfArray[i]!;
    }
  }
  const buf = b.buffer;
  let w: Int32Array | undefined;
  for (let i = 0; i < VIEWS; i++) {
    if (viewBuffers[i] === buf) {
      w = viewWords[i]!;
      break;
    }
  }
  if (w === undefined) {
    const i = viewNext;
    viewNext = (i + 1) % VIEWS;
    viewBuffers[i] = buf;
    w = viewWords[i] = new Int32Array(buf, 0, buf.byteLength >> 2);
  }
  const i = arrayNext;
  arrayNext = (i + 1) % VIEWS;
  viewArrays[i] = b;
  viewOfArray[i] = w;
  recentArray = b;
  return recentWords = w;
}

/**
 * Copies `buf[at, at + n)` to the start of `s`: a word at a time when the
 * source is aligned (NTS fields are), the tail byte by byte.
 */
export function loadBytes(s: AesBuffer, buf: Uint8Array, at: number, n: number): void {
  const d = s.bytes;
  const from = buf.byteOffset + at;
  let i = 0;
  if ((from & 3) === 0 && n >= 8) {
    const w = wordsOf(buf), dw = s.words, f = from >> 2, words = n >> 2;
    for (let j = 0; j < words; j++) dw[j] = w[f + j]!;
    i = words << 2;
  }
  for (; i < n; i++) d[i] = buf[at + i]!;
}

/**
 * Copies `src[srcAt, +n)` to `dst[dstAt]` (ranges not overlapping): a word at
 * a time when both are aligned alike, else byte by byte. No view is made.
 */
export function copyBytes(
  src: Uint8Array,
  srcAt: number,
  dst: Uint8Array,
  dstAt: number,
  n: number,
): void {
  const from = src.byteOffset + srcAt, to = dst.byteOffset + dstAt;
  let i = 0;
  if (((from | to) & 3) === 0 && n >= 8) {
    const s = wordsOf(src), d = wordsOf(dst), f = from >> 2, t = to >> 2, words = n >> 2;
    for (let j = 0; j < words; j++) d[t + j] = s[f + j]!;
    i = words << 2;
  }
  for (; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
}

/** Doubling in GF(2^128) (RFC 4493 §2.3, RFC 5297 §2.3) of a 16-byte block, in place. */
export function dbl(b: Uint8Array): void {
  const carry = b[0]! >> 7;
  for (let i = 0; i < 15; i++) b[i] = ((b[i]! << 1) | (b[i + 1]! >> 7)) & 0xff;
  b[15] = ((b[15]! << 1) & 0xff) ^ (carry ? 0x87 : 0); // R_128
}

/**
 * {@linkcode dbl} of the block held by the words `a[i, i + 4)` (the block's
 * bytes in memory order, words in host order), in place.
 */
export function dblWords(a: Int32Array, i: number): void {
  const w0 = a[i]!, w1 = a[i + 1]!, w2 = a[i + 2]!, w3 = a[i + 3]!;
  if (LITTLE_ENDIAN) {
    // each byte shifts left by one and takes the top bit of the byte after it
    a[i] = ((w0 << 1) & 0xfefefefe) | ((w0 >>> 15) & 0x10101) | ((w1 & 0x80) << 17);
    a[i + 1] = ((w1 << 1) & 0xfefefefe) | ((w1 >>> 15) & 0x10101) | ((w2 & 0x80) << 17);
    a[i + 2] = ((w2 << 1) & 0xfefefefe) | ((w2 >>> 15) & 0x10101) | ((w3 & 0x80) << 17);
    a[i + 3] = (((w3 << 1) & 0xfefefefe) | ((w3 >>> 15) & 0x10101)) ^
      (-((w0 >>> 7) & 1) & 0x87000000); // R_128 into the last byte
  } else {
    a[i] = (w0 << 1) | (w1 >>> 31);
    a[i + 1] = (w1 << 1) | (w2 >>> 31);
    a[i + 2] = (w2 << 1) | (w3 >>> 31);
    a[i + 3] = (w3 << 1) ^ ((w0 >> 31) & 0x87);
  }
}

/** Words of {@linkcode Cmac.state}: the CBC chain, subkeys K1 and K2, the last result. */
export const CHAIN = 0, SUBKEY1 = 4, SUBKEY2 = 8, RESULT = 12;

/** One scheduled AES-CMAC key (16 or 32 bytes); see the module doc. */
export class Cmac {
  readonly #cbc: AesContext; // AES-CBC, zero IV, padding off
  /** Chain, K1, K2 and the last result as words (see {@linkcode CHAIN}). */
  readonly state = new Int32Array(16);
  readonly #result = new Uint8Array(this.state.buffer, RESULT * 4, 16);

  private constructor(cbc: AesContext) {
    this.#cbc = cbc;
    this.#subkeys();
  }

  /** Schedules `key`: AES-128 for 16 bytes, AES-256 for 32 (RangeError otherwise). */
  static create(key: Uint8Array): Cmac {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError(`AES-CMAC key must be 16 or 32 bytes, got ${key.length}`);
    }
    return new Cmac(AesContext.create(key.length === 32 ? "AES-256-CBC" : "AES-128-CBC", key));
  }

  /** Key length, bytes (16 or 32). */
  get keyLength(): number {
    return this.#cbc.keyLength;
  }

  /** Replaces the key (same length, RangeError otherwise), reusing the context. */
  setKey(key: Uint8Array): void {
    if (key.length !== this.#cbc.keyLength) {
      throw new RangeError(`AES-CMAC key must be ${this.#cbc.keyLength} bytes, got ${key.length}`);
    }
    this.setKeyPrefix(key);
  }

  /**
   * Replaces the key with the first {@linkcode keyLength} bytes of `key`
   * (AES-SIV's K1 is the first half of its key: no view made per message).
   */
  setKeyPrefix(key: Uint8Array): void {
    this.#cbc.setKey(key);
    this.#subkeys();
  }

  /** The subkeys after a key change (the CBC chain restarted from a zero IV). RFC 4493 §2.3. */
  #subkeys(): void {
    const k = this.state;
    k.fill(0, CHAIN, CHAIN + 4);
    const s = scratchFor(64);
    s.words.fill(0, 0, 4);
    this.run(s, 16); // L = AES(K, 0)
    const w = s.words;
    for (let i = 0; i < 4; i++) k[SUBKEY1 + i] = w[i]!;
    dblWords(k, SUBKEY1);
    for (let i = 0; i < 4; i++) k[SUBKEY2 + i] = k[SUBKEY1 + i]!;
    dblWords(k, SUBKEY2);
  }

  /**
   * Pads the message `s.bytes[0, n)` in place as CMAC's last block wants it
   * (10* and K2, or K1 on a complete block. RFC 4493 §2.4) and returns the
   * padded length (16 for an empty message). `s` needs room for n + 16 bytes.
   */
  pad(s: AesBuffer, n: number): number {
    let end = n, sub = SUBKEY1;
    if (n === 0 || (n & 15) !== 0) {
      const b = s.bytes, w = s.words;
      end = (n + 16) & ~15;
      b[n] = 0x80;
      let i = n + 1;
      for (; (i & 3) !== 0; i++) b[i] = 0;
      for (let j = i >> 2, e = end >> 2; j < e; j++) w[j] = 0;
      sub = SUBKEY2;
    }
    const w = s.words, k = this.state, l = (end >> 2) - 4;
    w[l]! ^= k[sub]!;
    w[l + 1]! ^= k[sub + 1]!;
    w[l + 2]! ^= k[sub + 2]!;
    w[l + 3]! ^= k[sub + 3]!;
    return end;
  }

  /**
   * AES-CBC with a zero IV over `s.bytes[0, n)` (n a multiple of 16), in
   * place: each output block follows its input block; the last one is the
   * CBC-MAC (a CMAC when {@linkcode pad} prepared the message).
   */
  run(s: AesBuffer, n: number): void {
    const w = s.words, k = this.state;
    w[0]! ^= k[CHAIN]!;
    w[1]! ^= k[CHAIN + 1]!;
    w[2]! ^= k[CHAIN + 2]!;
    w[3]! ^= k[CHAIN + 3]!;
    this.#cbc.encryptInPlace(s, n);
    const l = (n >> 2) - 4;
    k[CHAIN] = w[l]!;
    k[CHAIN + 1] = w[l + 1]!;
    k[CHAIN + 2] = w[l + 2]!;
    k[CHAIN + 3] = w[l + 3]!;
  }

  /** AES-CMAC of `buf[at, at + n)`; valid until this key computes again. */
  mac(buf: Uint8Array, at = 0, n = buf.length - at): Uint8Array {
    const s = scratchFor(n + 32);
    loadBytes(s, buf, at, n);
    this.run(s, this.pad(s, n));
    const k = this.state;
    for (let i = 0; i < 4; i++) k[RESULT + i] = k[CHAIN + i]!;
    return this.#result;
  }
}

/** Re-keyed instances for {@linkcode aesCmac}, one per key length. */
let oneShot128: Cmac | undefined;
let oneShot256: Cmac | undefined;

/**
 * AES-CMAC (RFC 4493) of `data` under a 16- or 32-byte key (a new array).
 * Throws RangeError for another key length, NtsUnavailableError without OpenSSL.
 */
export function aesCmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  let c: Cmac;
  if (key.length === 32) {
    if (oneShot256 === undefined) oneShot256 = c = Cmac.create(key);
    else (c = oneShot256).setKey(key);
  } else {
    if (oneShot128 === undefined) oneShot128 = c = Cmac.create(key);
    else (c = oneShot128).setKey(key);
  }
  return c.mac(data).slice();
}
